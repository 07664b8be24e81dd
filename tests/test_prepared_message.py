"""The message built once per issue (`PreparedIssue`) against Python's `email` package, the
reference: parsed back, every header decoded and every body decoded must be the same, for any
name, address or list field; and the bytes must be valid on their own (CRLF only, no line over
998, quoted-printable lines of at most 76)."""

from __future__ import annotations

import dataclasses
import email
import re
from datetime import UTC, datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import default
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.errors import NewsletterError, RecipientError, TemplateError
from newsletter.mailer import SmtpConnection, check_message, flatten
from newsletter.message import Outgoing, build_message, outgoing, prepare
from newsletter.model import Email
from newsletter.personalize import (
    FIRST_NAME_TOKEN,
    NAME_TOKEN,
    UNSUBSCRIBE_TOKEN,
    SubscriberFields,
    personalize,
)
from newsletter.readers import read_post
from newsletter.render import render_issue
from newsletter.series import split_post
from newsletter.unsubscribe import unsubscribe_mailto
from tests.helpers import SAMPLE
from tests.smtpd import SmtpTestServer, settings_for
from tests.test_mailer import dkim_key, dkim_settings, verify_dkim  # noqa: F401 (a fixture)
from tests.test_message import settings as message_settings

WHEN = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=1)))
FIELDS = SubscriberFields()
CITY, TOWN = FIELDS.city, FIELDS.get("town", "your town & <co>")


SETTINGS = message_settings(from_addr="Chélsa Connolly <chelsa@example.com>")


@cache
def issue() -> Email:
    """Issue 3 of the sample, with every kind of token on short lines, on a long line (filled
    piece by piece), next to trailing spaces, in attributes, and with a field's default."""
    series = split_post(read_post(str(SAMPLE)))
    rendered = render_issue(series, series.issues[2], SETTINGS)
    extra_text = (
        f"City: {CITY} ({TOWN})\nDear {NAME_TOKEN} \n{FIRST_NAME_TOKEN}\t\n"
        + ("long line " * 40 + f"{CITY}-{NAME_TOKEN}=" + "tail " * 30)
        + f"\n{UNSUBSCRIBE_TOKEN}\n"
    )
    extra_html = (
        f'<p title="{CITY}">{TOWN} {NAME_TOKEN}</p>\n'
        + ("<span>é x</span>" * 40 + f'<a href="{UNSUBSCRIBE_TOKEN}">{CITY}</a> ' * 3)
        + "\n"
    )
    return dataclasses.replace(
        rendered,
        subject="Zoë’s notes — 3 of 5, ümlauts & “quotes”",
        text=extra_text + rendered.text,
        html=rendered.html.replace("<body", extra_html + "<body", 1),
    )


@cache
def prepared_issue() -> Any:
    return prepare(issue(), SETTINGS)


def parse(data: bytes) -> EmailMessage:
    # RFC 6532 headers (a UTF-8 local part) only parse from text.
    parsed = (
        email.message_from_bytes(data, policy=default)
        if data.isascii()
        else email.message_from_string(data.decode("utf-8"), policy=default)
    )
    assert isinstance(parsed, EmailMessage)
    return parsed


def defects(msg: EmailMessage) -> list[str]:
    found: list[str] = []
    for part in msg.walk():
        found.extend(type(d).__name__ for d in part.defects)
        for name in part:
            found.extend(type(d).__name__ for d in getattr(part[name], "defects", ()))
    return [d for d in found if d != "NonASCIILocalPartDefect"]


def check_valid(data: bytes) -> None:
    """CRLF only, no line over 998 bytes, quoted-printable lines of at most 76."""
    assert not re.search(rb"\r(?!\n)|(?<!\r)\n", data), "a bare CR or LF"
    lines = data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    head, body = data.split(b"\r\n\r\n", 1)
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert len(head) < 4000


def strict_display_name(data: bytes) -> str:
    """To:'s display name decoded as RFC 2047 says (adjacent encoded words joined)."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    (value,) = re.findall(r"^To: ([^\r\n]*(?:\r\n [^\r\n]*)*)", head, re.MULTILINE)
    phrase = re.sub(r"\s*<[^<>]*>$", "", value.replace("\r\n", "")) if "<" in value else ""
    if phrase.startswith('"'):
        return re.sub(r"\\(.)", r"\1", phrase[1:-1])
    return str(make_header(decode_header(phrase)))


def lines_as_mime_has_them(body: str) -> str:
    """A body as a text part holds it: its lines (bytes.splitlines), each ending in one LF."""
    return (b"\n".join(body.encode().splitlines()) + b"\n").decode()


def same(
    fast: bytes, ref: EmailMessage, utf8: bool, to: tuple[str, str], bodies: tuple[str, str]
) -> EmailMessage:
    """Fast bytes and the reference, parsed back, agree header by header and part by part, and
    the bodies are `personalize`'s (text, html).

    To: must hold exactly `to` (display name, address). The reference folds a long name inside
    a word, and in RFC 6532 messages (a UTF-8 local part) writes some names so that its own
    parser cannot read them back; then only the fast message is checked, against `to`.
    """
    check_valid(fast)
    got, want = parse(fast), parse(flatten(ref, utf8=utf8))
    assert defects(got) == []
    (address,) = got["To"].addresses
    assert address.addr_spec == to[1]
    assert strict_display_name(fast) == to[0]
    # Python's parser puts a space between two adjacent encoded words, which RFC 2047 (6.2)
    # says to ignore.
    assert "".join(address.display_name.split()) == "".join(to[0].split())
    try:
        theirs = [a.display_name for a in want["To"].addresses]
    except (IndexError, AttributeError):  # Python cannot even read the reference's To: back
        theirs = []
    got_parts = list(got.iter_parts())
    text, html = (p.get_content().replace("\r\n", "\n") for p in got_parts)
    assert (text, html) == tuple(lines_as_mime_has_them(b) for b in bodies)
    if list(got.keys()) != list(want.keys()) or theirs != [address.display_name]:
        assert utf8 or theirs != [address.display_name], "the reference is readable: compare"
        return got
    assert str(got["To"]) == str(want["To"])
    for name in got:
        if name not in ("To", "Content-Type"):
            assert str(got[name]) == str(want[name]), name
    want_parts = list(want.iter_parts())
    assert len(got_parts) == len(want_parts) == 2
    for g, w in zip(got_parts, want_parts, strict=True):
        assert g.items() == w.items()
        assert g.get_content() == w.get_content()
    return got


def both(**kwargs: Any) -> tuple[Outgoing, EmailMessage]:
    fast = prepared_issue().message(**kwargs)
    ref = build_message(
        issue(), SETTINGS, unsubscribe_mailto=unsubscribe_mailto(SETTINGS), **kwargs
    )
    return fast, ref


# -- the property: any reader -------------------------------------------------------------------

NAME_CHARS = st.characters(
    blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029\x85"
) | st.sampled_from(list("\"',<>()\\;:@. =?Ææ漢😀👩‍🚀"))
names = st.one_of(
    st.none(),
    st.text(NAME_CHARS, max_size=12),
    st.text(NAME_CHARS, min_size=60, max_size=200),
    st.sampled_from(["Zoë Ångström, PhD", 'Doe, "Jo" <x>', "=?utf-8?q?abc?=", "😀" * 30]),
)
LABEL = st.text(st.sampled_from("abcxyzäöüéñß漢0-"), min_size=1, max_size=12)
domains = st.one_of(
    st.sampled_from(["example.com", "bücher.example", "例え.テスト", "xn--bcher-kva.example"]),
    st.builds(lambda a, b: f"{a}.{b}", LABEL, st.sampled_from(["de", "example", "org"])),
)
locals_ = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,30}", fullmatch=True),
    st.sampled_from(["zoë", "用户", "o'neil"]),
)
field_values = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(list("<>&\"'=")),
    max_size=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=names,
    local=locals_,
    domain=domains,
    city=field_values,
    town=field_values,
    token=st.from_regex(r"[A-Za-z0-9_-]{1,80}", fullmatch=True),
    https=st.booleans(),
)
def test_the_fast_message_is_the_reference_message(
    name: str | None, local: str, domain: str, city: str, town: str, token: str, https: bool
) -> None:
    url = f"{'https' if https else 'http'}://example.com/u?e={quote(local)}&t={token}"
    kwargs: dict[str, Any] = {
        "to_addr": f"{local}@{domain}",
        "to_name": name,
        "unsubscribe_url": url,
        "message_id": f"<{token}@example.com>",
        "date": WHEN,
        "fields": (("City", city), ("town", town)),
    }
    try:
        fast, ref = both(**kwargs)
    except NewsletterError as e:  # then both refuse it, the same way
        with pytest.raises(type(e)):
            build_message(issue(), SETTINGS, unsubscribe_mailto=None, **kwargs)
        with pytest.raises(type(e)):
            prepared_issue().message(**kwargs)
        return
    assert fast.utf8 == (not local.isascii())
    shown = " ".join((name or "").split())
    html, text = personalize(issue(), name=name, unsubscribe_url=url, fields=kwargs["fields"])
    to = (shown, f"{local}@{domain.encode('idna').decode()}")
    got = same(fast.data, ref, fast.utf8, to, (text, html))
    assert ("List-Unsubscribe-Post" in got) == https
    assert check_message(fast, "chelsa@example.com", f"{local}@{domain}") is None


def test_the_sample_reader_and_a_plain_list() -> None:
    for i, name in enumerate(["Reader", None, "Ada Lovelace", "O'Brien, Pat"]):
        url, fields = f"https://example.com/u?e=r{i}", (("city", "Köln & <Bonn>"),)
        fast, ref = both(
            to_addr=f"r{i}@example.org",
            to_name=name,
            unsubscribe_url=url,
            message_id=f"<m{i}@example.com>",
            date=WHEN,
            fields=fields,
        )
        html, text = personalize(issue(), name=name, unsubscribe_url=url, fields=fields)
        got = same(fast.data, ref, False, (name or "", f"r{i}@example.org"), (text, html))
        assert fast.data.isascii()
        text, html = (p.get_content() for p in got.iter_parts())
        assert "City: Köln & <Bonn> (your town & <co>)" in text
        assert 'title="Köln &amp; &lt;Bonn&gt;"' in html


def test_lines_holding_tokens_are_encoded_alone() -> None:
    """Only the lines with a reader's value change from one reader to the next."""
    a = prepared_issue().message(
        to_addr="a@example.org", to_name="A", unsubscribe_url="https://x/a"
    )
    b = prepared_issue().message(
        to_addr="b@example.org", to_name="B", unsubscribe_url="https://x/b"
    )
    body_a, body_b = (m.data.split(b"\r\n\r\n", 1)[1].split(b"\r\n") for m in (a, b))
    differ = [i for i, (x, y) in enumerate(zip(body_a, body_b, strict=False)) if x != y]
    assert 0 < len(differ) < 30


# -- the rules of message.py hold on the fast path ----------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"to_name": "Eve\r\nBcc: victim@example.com"}, RecipientError),
        ({"to_name": "Eve\nBcc: victim@example.com"}, RecipientError),
        ({"to_addr": "eve@example.com\r\nBcc: victim@example.com"}, RecipientError),
        ({"to_addr": "eve@example.com, victim@example.com"}, RecipientError),
        ({"to_addr": "not-an-address"}, RecipientError),
        ({"unsubscribe_url": "https://example.com/u\r\nBcc: victim@example.com"}, TemplateError),
        ({"message_id": "<a@b>\r\nBcc: victim@example.com"}, TemplateError),
        ({"date": datetime(2026, 3, 2, 9, 0)}, TemplateError),
        ({"unsubscribe_url": "https://example.com/" + "a" * 1000}, TemplateError),
        ({"unsubscribe_url": "https://example.com/ü"}, TemplateError),
    ],
)
def test_what_the_reference_refuses_the_fast_path_refuses(
    kwargs: dict[str, Any], error: type[NewsletterError]
) -> None:
    args: dict[str, Any] = {
        "to_addr": "reader@example.org",
        "to_name": "Reader",
        "unsubscribe_url": "https://example.com/u",
        "date": WHEN,
    }
    args.update(kwargs)
    with pytest.raises(NewsletterError) as info:
        prepared_issue().message(**args)
    assert type(info.value) is error and "\n" not in str(info.value)


def test_an_issue_that_cannot_be_built_fails_when_prepared() -> None:
    with pytest.raises(TemplateError, match="subject"):
        prepare(dataclasses.replace(issue(), subject="Hi\r\nBcc: x@example.com"), SETTINGS)
    with pytest.raises(NewsletterError, match=r"\[newsletter\] from"):
        prepare(issue(), message_settings(from_addr="no address here"))


def test_list_unsubscribe_folds_between_links_and_one_click_only_for_https() -> None:
    long_url = "https://example.com/unsubscribe?token=" + "a1b2c3" * 50
    msg = prepared_issue().message(to_addr="r@example.org", to_name=None, unsubscribe_url=long_url)
    head = msg.data.split(b"\r\n\r\n", 1)[0]
    assert b"List-Unsubscribe: <mailto:hello@example.com?subject=unsubscribe>,\r\n <" in head
    assert f" <{long_url}>\r\n".encode() in head and b"=?utf-8?" not in head.split(b"List-")[1]
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in head
    plain = prepared_issue().message(
        to_addr="r@example.org", to_name=None, unsubscribe_url="http://example.com/u"
    )
    assert b"List-Unsubscribe-Post" not in plain.data
    assert "list-unsubscribe-post" not in plain.header_names


def test_a_non_ascii_local_part_makes_an_internationalised_message() -> None:
    msg = outgoing(
        issue(),
        SETTINGS,
        to_addr="zoë@bücher.example",
        to_name="Zoë",
        unsubscribe_url="https://x/u",
    )
    assert msg.utf8 and "To: =?utf-8?b?Wm/Dqw==?= <zoë@xn--bcher-kva.example>\r\n".encode() in (
        msg.data
    )


# -- what the mailer does with it --------------------------------------------------------------


def tampered(msg: Outgoing, old: bytes, new: bytes) -> Outgoing:
    return dataclasses.replace(msg, data=msg.data.replace(old, new, 1))


def test_the_mailer_refuses_a_message_whose_header_lines_changed(
    smtp_server: SmtpTestServer,
) -> None:
    s = settings_for(smtp_server)
    msg = prepare(issue(), s).message(
        to_addr="a@example.org", to_name="A", unsubscribe_url="https://x/u"
    )
    injected = tampered(msg, b"\r\nSubject:", b"\r\nBcc: victim@example.com\r\nSubject:")
    bare = tampered(msg, b"\r\nSubject:", b"\nSubject:")
    bad_name = tampered(msg, b"\r\nSubject:", b"\r\nSub ject:")
    assert check_message(bare, "chelsa@example.com", "a@example.org")
    assert check_message(bad_name, "chelsa@example.com", "a@example.org")
    with SmtpConnection(s) as conn:
        results = [conn.send(m, "chelsa@example.com", "a@example.org") for m in (injected, bare)]
        assert conn.send(msg, "chelsa@example.com", "a@example.org").ok
    assert [r.status for r in results] == ["permanent", "permanent"]
    assert all("refused to send" in r.detail for r in results)
    (got,) = smtp_server.messages
    assert got.data == msg.data


def test_dkim_signs_the_final_bytes(
    smtp_server: SmtpTestServer,
    dkim_key: tuple[Path, bytes],  # noqa: F811
) -> None:
    key, record = dkim_key
    s = dkim_settings(settings_for(smtp_server), key)
    msg = prepare(issue(), s).message(
        to_addr="a@example.org",
        to_name="Zoë Ångström, PhD",
        unsubscribe_url="https://x/u",
        date=datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
    )
    with SmtpConnection(s) as conn:
        assert conn.send(msg, "chelsa@example.com", "a@example.org").ok
    (got,) = smtp_server.messages
    assert got.data.startswith(b"DKIM-Signature:") and got.data.endswith(msg.data)
    assert verify_dkim(got.data, record)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Plain line\n", "Ada"),
        (".5 mg a day, a static line with a leading dot\n", "Ada"),
        (f"{NAME_TOKEN} is the whole line\n", ".Dot Lovelace"),
    ],
)
def test_a_line_starting_with_a_dot_reaches_the_reader_whole(
    smtp_server: SmtpTestServer, text: str, name: str
) -> None:
    """DATA doubles a leading dot; a prepared message knows where its lines start with one (a
    static line, a reader's value, the HTML's CSS), so DATA need not search the body."""
    s = settings_for(smtp_server)
    base = issue()
    with_dot = dataclasses.replace(base, text=text + base.text, html=text + base.html)
    msg = prepare(with_dot, s).message(
        to_addr="a@example.org", to_name=name, unsubscribe_url="https://x/u"
    )
    searched = tuple(m.start() for m in re.finditer(rb"(?:^|(?<=\r\n))\.", msg.data))
    assert msg.dots == searched
    assert (text.startswith(".") or name.startswith(".")) is (len(searched) > 1)  # + the CSS
    with SmtpConnection(s) as conn:
        assert conn.send(msg, "chelsa@example.com", "a@example.org").ok
    (got,) = smtp_server.messages
    assert got.data == msg.data  # the server took the doubled dots out again
