"""The MIME message: parses clean, headers right, no header injection, accepted by a real server."""

from __future__ import annotations

import dataclasses
import email
import smtplib
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from newsletter.cli import main
from newsletter.config import NewsletterSettings, Settings
from newsletter.errors import NewsletterError, RecipientError, TemplateError
from newsletter.message import build_message
from newsletter.model import Email
from newsletter.personalize import NAME_TOKEN, UNSUBSCRIBE_TOKEN
from newsletter.readers import read_post
from newsletter.render import render_issue
from newsletter.series import split_post
from tests.helpers import SAMPLE
from tests.smtpd import SmtpTestServer

SLUG = "massage-for-the-mental-health-of-it"
WHEN = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=1)))
UNSUB = "https://example.com/unsubscribe?token=abc&list=1"


def settings(**newsletter: Any) -> Settings:
    base: dict[str, Any] = {
        "from_addr": "Chelsa Connolly <chelsa@example.com>",
        "reply_to": "hello@example.com",
    }
    base.update(newsletter)
    return Settings(
        newsletter=dataclasses.replace(NewsletterSettings(), **base),
        base_dir=Path(__file__).parent,
    )


@pytest.fixture(scope="module")
def rendered() -> Email:
    series = split_post(read_post(str(SAMPLE)))
    return render_issue(series, series.issues[2], settings())


def message(rendered: Email, **kwargs: Any) -> EmailMessage:
    args: dict[str, Any] = {
        "to_addr": "reader@example.org",
        "to_name": "Reader",
        "unsubscribe_url": UNSUB,
        "unsubscribe_mailto": "mailto:unsubscribe@example.com?subject=unsubscribe",
        "date": WHEN,
    }
    args.update(kwargs)
    s = args.pop("settings", settings())
    return build_message(rendered, s, **args)


def reparse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def defects(msg: EmailMessage) -> list[Any]:
    found: list[Any] = []
    for part in msg.walk():
        found.extend(part.defects)
        for name in part:
            for value in part.get_all(name, []):
                found.extend(getattr(value, "defects", ()))
    return found


def check_clean(data: bytes) -> EmailMessage:
    """The checks of the issue: structure, one of each header, a real zone, short lines."""
    msg = reparse(data)
    assert defects(msg) == []
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        assert len(msg.get_all(name, [])) == 1, name
    assert data.count(b"MIME-Version:") == 1  # on top, not again in a part
    date = msg["Date"]
    assert not str(date).endswith("-0000")
    assert parsedate_to_datetime(str(date)).utcoffset() is not None
    assert all(len(line) < 998 for line in data.split(b"\r\n")), "a line is too long"
    return msg


# --- the sample messages written by `newsletter build` --------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("eml")
    assert main(["build", str(SAMPLE), "-o", str(tmp)]) == 0
    return tmp / SLUG


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_built_message_eml_parses_clean(built: Path, number: int) -> None:
    path = next(built.glob(f"{number:02d}-*/message.eml"))
    data = path.read_bytes()
    msg = check_clean(data)
    assert msg["To"] == "Reader <reader@example.com>"
    assert msg["List-Unsubscribe"] == (  # as a real send has it: the mailto: entry too
        "<mailto:newsletter@example.com?subject=unsubscribe>, "
        "<https://example.com/unsubscribe?token=SAMPLE>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = (p.get_content() for p in msg.iter_parts())
    assert "Hi Reader," in text and "Hi Reader," in html
    assert "https://example.com/unsubscribe?token=SAMPLE" in text
    assert NAME_TOKEN not in text + html and UNSUBSCRIBE_TOKEN not in text + html
    assert text.replace("\r\n", "\n") == (path.parent / "email.txt").read_text(
        encoding="utf-8"
    ).replace("Hi there,", "Hi Reader,").replace(
        "https://example.com/unsubscribe\n", "https://example.com/unsubscribe?token=SAMPLE\n"
    )


# --- headers ------------------------------------------------------------------------------


def test_headers_from_settings_and_arguments(rendered: Email) -> None:
    msg = check_clean(bytes(message(rendered, message_id="<abc@example.com>")))
    assert msg["From"] == "Chelsa Connolly <chelsa@example.com>"
    assert msg["Reply-To"] == "hello@example.com"
    assert msg["To"] == "Reader <reader@example.org>"
    assert msg["Subject"] == rendered.subject
    assert msg["Date"] == "Mon, 02 Mar 2026 09:00:00 +0100"
    assert msg["Message-ID"] == "<abc@example.com>"
    assert msg["MIME-Version"] == "1.0"
    assert msg["List-Unsubscribe"] == (
        "<mailto:unsubscribe@example.com?subject=unsubscribe>, <" + UNSUB + ">"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = (p.get_content() for p in msg.iter_parts())
    assert f"Unsubscribe: {UNSUB}" in text
    assert UNSUB.replace("&", "&amp;") in html


def test_message_id_defaults_to_the_from_domain(rendered: Email) -> None:
    first = message(rendered)["Message-ID"]
    second = message(rendered)["Message-ID"]
    assert first.endswith("@example.com>") and first != second


def test_no_reply_to_without_the_setting_and_mailto_is_optional(rendered: Email) -> None:
    msg = message(rendered, settings=settings(reply_to=""), unsubscribe_mailto=None)
    assert msg["Reply-To"] is None
    assert msg["List-Unsubscribe"] == f"<{UNSUB}>"
    bare = message(rendered, unsubscribe_mailto="unsub@example.com")
    assert bare["List-Unsubscribe"].startswith("<mailto:unsub@example.com>, ")


def test_one_click_only_for_https(rendered: Email) -> None:
    msg = message(rendered, unsubscribe_url="http://example.com/u?t=1")
    assert msg["List-Unsubscribe-Post"] is None
    assert msg["List-Unsubscribe"].endswith("<http://example.com/u?t=1>")


def test_date_must_have_a_zone(rendered: Email) -> None:
    with pytest.raises(TemplateError, match="time zone"):
        message(rendered, date=datetime(2026, 3, 2, 9, 0))
    utc = message(rendered, date=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert utc["Date"] == "Mon, 02 Mar 2026 09:00:00 +0000"
    default = message(rendered, date=None)
    assert parsedate_to_datetime(default["Date"]).utcoffset() is not None
    assert not default["Date"].endswith("-0000")


def test_long_unsubscribe_url_stays_a_url(rendered: Email) -> None:
    long_url = "https://example.com/unsubscribe?token=" + "a1b2c3" * 50
    data = bytes(message(rendered, unsubscribe_url=long_url))
    assert b"=?utf-8?" not in data.split(b"\r\n\r\n", 1)[0].split(b"List-Unsubscribe:")[1][:400]
    msg = check_clean(data)
    assert msg["List-Unsubscribe"].endswith(f"<{long_url}>")


def test_non_ascii_names_subjects_and_domains(rendered: Email) -> None:
    fancy = dataclasses.replace(rendered, subject="Zoë’s notes — Ümlauts, 3 of 5")
    msg = message(
        fancy,
        to_name="Zoë Ångström, PhD",
        to_addr="zoe@bücher.example",
        settings=settings(from_addr="Chélsa <chelsa@example.com>"),
    )
    data = bytes(msg)
    assert data.isascii()
    parsed = check_clean(data)
    assert parsed["Subject"] == "Zoë’s notes — Ümlauts, 3 of 5"
    (to,) = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Zoë Ångström, PhD", "zoe@xn--bcher-kva.example")
    assert parsed["From"].addresses[0].display_name == "Chélsa"


def test_non_ascii_local_part_makes_an_internationalised_message(rendered: Email) -> None:
    data = bytes(message(rendered, to_addr="zoë@example.org"))
    assert "To: Reader <zoë@example.org>\r\n".encode() in data  # RFC 6532: UTF-8 as is
    assert b"=?utf-8?" not in data.split(b"\r\n\r\n", 1)[0]
    # Python's parser reads RFC 6532 headers only from text, and still flags the (legal)
    # non-ASCII local part; nothing else may be wrong.
    parsed = email.message_from_string(data.decode("utf-8"), policy=policy.default)
    assert [type(d).__name__ for d in defects(parsed)] == ["NonASCIILocalPartDefect"]
    assert parsed["To"].addresses[0].addr_spec == "zoë@example.org"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"to_name": "Eve\r\nBcc: victim@example.com"},
        {"to_name": "Eve\nBcc: victim@example.com"},
        {"to_addr": "eve@example.com\r\nBcc: victim@example.com"},
        {"to_addr": "eve@example.com, victim@example.com"},
        {"to_addr": "not-an-address"},
        {"unsubscribe_url": "https://example.com/u\r\nBcc: victim@example.com"},
        {"unsubscribe_mailto": "mailto:u@example.com\r\nBcc: victim@example.com"},
        {"message_id": "<a@b>\r\nBcc: victim@example.com"},
    ],
)
def test_header_injection_is_refused(rendered: Email, kwargs: dict[str, Any]) -> None:
    """The recipient's own parts fail that one delivery; the others fail the issue."""
    expected = RecipientError if {"to_name", "to_addr"} & kwargs.keys() else TemplateError
    with pytest.raises(NewsletterError) as info:
        message(rendered, **kwargs)
    assert type(info.value) is expected
    assert "\n" not in str(info.value)


def test_line_break_in_the_subject_is_refused(rendered: Email) -> None:
    evil = dataclasses.replace(rendered, subject="Hello\r\nBcc: victim@example.com")
    with pytest.raises(TemplateError, match="subject"):
        message(evil)


@pytest.mark.parametrize("key", ["from_addr", "reply_to"])
def test_broken_sender_settings_name_the_setting(rendered: Email, key: str) -> None:
    with pytest.raises(NewsletterError, match=r"\[newsletter\] (from|reply_to)"):
        message(rendered, settings=settings(**{key: "Chelsa <chelsa@example.com>\nBcc: x@y.z"}))
    with pytest.raises(NewsletterError, match=r"\[newsletter\] (from|reply_to)"):
        message(rendered, settings=settings(**{key: "no address here"}))


def test_names_with_commas_and_quotes_stay_one_address(rendered: Email) -> None:
    msg = check_clean(bytes(message(rendered, to_name='Doe, "Jo" <x>')))
    (to,) = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == ('Doe, "Jo" <x>', "reader@example.org")


# --- a real server accepts it --------------------------------------------------------------


def test_a_real_smtp_server_receives_it_intact(
    rendered: Email, smtp_server: SmtpTestServer
) -> None:
    msg = message(rendered)
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.send_message(msg)
    (received,) = smtp_server.wait_for(1)
    assert received.rcpt_tos == ("reader@example.org",)
    got = check_clean(
        received.data if b"\r\n" in received.data else received.data.replace(b"\n", b"\r\n")
    )
    assert got["Subject"] == rendered.subject
    text, html = (p.get_content() for p in got.iter_parts())
    assert "Hi Reader," in text and "<h1" in html
