"""Signed unsubscribe links, and the unsubscribe headers as they arrive at a real SMTP server."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from newsletter.config import NewsletterSettings, Settings
from newsletter.errors import ConfigError
from newsletter.outbox import Outbox
from newsletter.unsubscribe import (
    address_from_url,
    load_secret,
    make_token,
    unsubscribe_mailto,
    unsubscribe_url,
    verify,
)
from tests.pg import Opener
from tests.smtpd import SmtpTestServer
from tests.workspace import ISSUE_1, ISSUE_2, Workspace, iso, one_line_error

SECRET = b"a-test-secret-of-enough-length-0123456789"


def settings(**newsletter: Any) -> Settings:
    return Settings(newsletter=dataclasses.replace(NewsletterSettings(), **newsletter))


def test_token_is_personal_and_case_insensitive() -> None:
    token = make_token("Ada@Example.com", SECRET)
    assert verify("ada@example.com", token, SECRET)
    assert not verify("bob@example.com", token, SECRET)
    assert not verify("ada@example.com", token, b"another-secret-0123456789")
    assert not verify("ada@example.com", token[:-1] + ("A" if token[-1] != "A" else "B"), SECRET)
    assert not verify("ada@example.com", "", SECRET)
    assert not verify("ada@example.com", "…", SECRET)  # a placeholder pasted from the README
    assert len(token) == 43  # 256 bits, base64url without padding


def test_url_round_trip_and_forgeries() -> None:
    s = settings(site_url="https://example.com/")
    url = unsubscribe_url(s, "ada+news@example.com", SECRET)
    assert url.startswith("https://example.com/unsubscribe?e=ada%2Bnews%40example.com&t=")
    assert address_from_url(url, SECRET) == "ada+news@example.com"
    # Someone else's address with Ada's token; a missing token; a doubled parameter.
    token = parse_qs(urlsplit(url).query)["t"][0]
    assert (
        address_from_url(f"https://example.com/unsubscribe?e=bob%40example.com&t={token}", SECRET)
        is None
    )
    assert address_from_url("https://example.com/unsubscribe?e=ada%40example.com", SECRET) is None
    assert address_from_url(url + "&e=bob%40example.com", SECRET) is None


def test_configured_url_with_a_query_and_mailto_choices() -> None:
    s = settings(unsubscribe_url="https://lists.example.com/u?list=7")
    assert unsubscribe_url(s, "a@example.com", SECRET).startswith(
        "https://lists.example.com/u?list=7&e=a%40example.com&t="
    )
    assert unsubscribe_mailto(settings(unsubscribe_mailto="leave@example.com")) == (
        "mailto:leave@example.com?subject=unsubscribe"
    )
    assert unsubscribe_mailto(settings(unsubscribe_mailto="mailto:x@example.com?subject=stop")) == (
        "mailto:x@example.com?subject=stop"
    )
    assert unsubscribe_mailto(settings(reply_to="Desk <desk@example.com>")) == (
        "mailto:desk@example.com?subject=unsubscribe"
    )
    assert unsubscribe_mailto(settings(from_addr="News <news@example.com>", reply_to="")) == (
        "mailto:news@example.com?subject=unsubscribe"
    )


def test_secret_from_environment_or_generated_once(open_outbox: Opener) -> None:
    with open_outbox() as ob:
        env_secret = load_secret(ob, {"NEWSLETTER_SECRET": "x" * 32})
        assert env_secret == b"x" * 32
        generated = load_secret(ob, {})
        assert load_secret(ob, {"NEWSLETTER_SECRET": ""}) == generated
        with pytest.raises(ConfigError, match="NEWSLETTER_SECRET is too short"):
            load_secret(ob, {"NEWSLETTER_SECRET": "tiny"})
    with open_outbox() as ob:
        assert load_secret(ob, {}) == generated


def test_received_headers_and_a_personal_link(tmp_path: Path, smtp_server: SmtpTestServer) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(3, extra='eve@example.com,"Eve\r\nBcc: victim@example.org"\n')
    ws.schedule()
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1), NEWSLETTER_SECRET=None)
    assert code == 0, err
    # A name that spans lines (or holds a line break) is refused at the list, with its line.
    assert "subscribers.csv:5: warning: a quote opened on this line is not closed on it" in err
    assert len(smtp_server.messages) == 3
    with Outbox.open(ws.outbox) as ob:
        secret = load_secret(ob, {})
    urls = {}
    for m in smtp_server.messages:
        to = m.rcpt_tos[0]
        msg = m.parsed()
        assert msg.get_content_type() == "multipart/alternative"
        parts = [p.get_content_type() for p in msg.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        assert msg["From"] == "Chelsa Connolly <chelsa@example.com>"
        assert msg["Reply-To"] == "chelsa@example.com"
        assert msg["Date"] is not None and msg["Message-ID"] is not None
        assert to in str(msg["To"])
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        header = str(msg["List-Unsubscribe"])
        links = re.findall(r"<([^>]+)>", header)
        assert links[0] == "mailto:chelsa@example.com?subject=unsubscribe"
        url = links[1]
        assert url.startswith("https://example.com/unsubscribe?")
        assert address_from_url(url, secret) == to
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        assert text is not None and html is not None
        assert url in text.get_content()
        assert url.replace("&", "&amp;") in html.get_content()
        urls[to] = url
        # No header line of its own for anything smuggled in through a name.
        names = [
            line.split(b":", 1)[0].lower()
            for line in m.header_block.split(b"\r\n")
            if line[:1] not in (b" ", b"\t")
        ]
        assert b"bcc" not in names
    assert len(set(urls.values())) == 3
    assert "eve@example.com" not in urls
    assert "victim" not in "".join(r for m in smtp_server.messages for r in m.rcpt_tos)

    # A forged link (one reader's token on someone else's address) changes nothing.
    token = parse_qs(urlsplit(urls["reader0002@example.com"]).query)["t"][0]
    forged = f"https://example.com/unsubscribe?e=reader0000%40example.com&t={token}"
    code, _, err = ws.cli("unsubscribe", forged, now=iso(ISSUE_1))
    assert "token does not match" in one_line_error(code, err)
    # The real link unsubscribes its owner, and issue 2 is not sent to them.
    code, out, err = ws.cli("unsubscribe", urls["reader0001@example.com"], now=iso(ISSUE_1))
    assert code == 0, err
    assert "unsubscribed reader0001@example.com" in out
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_2))
    assert code == 0, err
    issue_2 = [m.rcpt_tos[0] for m in smtp_server.messages[3:]]
    assert sorted(issue_2) == ["reader0000@example.com", "reader0002@example.com"]


def test_unsubscribe_rejects_a_non_address(tmp_path: Path, smtp_server: SmtpTestServer) -> None:
    ws = Workspace(tmp_path, smtp_server)
    code, _, err = ws.cli("unsubscribe", "not an address", now=iso(ISSUE_1))
    assert "'not an address' is not an email address" in one_line_error(code, err)
    code, out, _ = ws.cli("unsubscribe", "a@example.com", now=iso(ISSUE_1))
    code, out, _ = ws.cli("unsubscribe", "A@example.com", now=iso(ISSUE_1))
    assert "A@example.com was already unsubscribed" in out
