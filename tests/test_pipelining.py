"""SMTP PIPELINING (RFC 2920): with a server that offers it, MAIL, RCPT and DATA go in one write
and their answers are read in order; every way that can fail leaves the connection in step and
the outcome as without pipelining. Real aiosmtpd servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from newsletter.mailer import SmtpConnection
from tests.smtpd import SmtpTestServer, settings_for
from tests.test_mailer import FROM, make_msg

Factory = Callable[..., SmtpTestServer]


def server(factory: Factory, **knobs: Any) -> SmtpTestServer:
    return factory(pipelining=True, record_chunks=True, **knobs)


def batches(srv: SmtpTestServer) -> list[bytes]:
    return [c for c in srv.chunks if c.upper().startswith(b"MAIL FROM:")]


def test_mail_rcpt_and_data_go_in_one_write(smtp_server_factory: Factory) -> None:
    srv = server(smtp_server_factory)
    with SmtpConnection(settings_for(srv)) as conn:
        results = [conn.send(make_msg(), FROM, f"r{i}@example.com") for i in range(3)]
    assert all(r.ok for r in results)
    sent = batches(srv)
    assert len(sent) == 3
    for i, chunk in enumerate(sent):
        lines = chunk.split(b"\r\n")
        assert lines[0].startswith(b"MAIL FROM:<news@example.com>")
        assert lines[1:4] == [f"RCPT TO:<r{i}@example.com>".encode(), b"DATA", b""]
    assert [m.rcpt_tos for m in srv.messages] == [(f"r{i}@example.com",) for i in range(3)]
    assert b"Massage helps you sleep." in srv.messages[0].data


def test_no_pipelining_unless_offered(smtp_server_factory: Factory) -> None:
    srv = smtp_server_factory(record_chunks=True)
    with SmtpConnection(settings_for(srv)) as conn:
        assert conn.send(make_msg(), FROM, "a@example.com").ok
    mail = [c for c in srv.chunks if c.upper().startswith(b"MAIL FROM:")]
    assert len(mail) == 1 and b"RCPT" not in mail[0].upper()


def test_a_refused_recipient_sends_no_body_and_the_connection_goes_on(
    smtp_server_factory: Factory,
) -> None:
    srv = server(smtp_server_factory, reject={"gone@example.com": "no such user"})
    with SmtpConnection(settings_for(srv)) as conn:
        gone = conn.send(make_msg(), FROM, "gone@example.com")
        fine = conn.send(make_msg(), FROM, "fine@example.com")
    assert (gone.status, gone.code, gone.recipient, gone.bad_address) == (
        "permanent",
        550,
        True,
        True,
    )
    assert "no such user" in gone.detail
    assert fine.ok and srv.connections == 1
    assert [m.rcpt_tos for m in srv.messages] == [("fine@example.com",)]
    assert not any(b"Massage helps" in c for c in srv.chunks if b"gone@" in c)


def test_a_refused_sender_reads_every_answer_and_the_connection_goes_on(
    smtp_server_factory: Factory,
) -> None:
    srv = server(smtp_server_factory, refuse_mail=("550 5.7.1 sender not allowed", 1))
    with SmtpConnection(settings_for(srv)) as conn:
        refused = conn.send(make_msg(), FROM, "a@example.com")
        fine = conn.send(make_msg(), FROM, "b@example.com")
    assert (refused.status, refused.code, refused.recipient) == ("permanent", 550, False)
    assert "sender not allowed" in refused.detail
    assert fine.ok and srv.connections == 1  # RCPT's and DATA's 503 were read: in step
    assert [m.rcpt_tos for m in srv.messages] == [("b@example.com",)]


def test_a_421_to_mail_or_rcpt_reconnects_and_sends_once(smtp_server_factory: Factory) -> None:
    at_mail = server(smtp_server_factory, refuse_mail=("421 4.3.2 shutting down", 1))
    at_rcpt = server(smtp_server_factory, tempfail={"a@example.com": 1}, tempfail_code=421)
    for srv in (at_mail, at_rcpt):
        with SmtpConnection(settings_for(srv), backoff=0.01) as conn:
            assert conn.send(make_msg(), FROM, "a@example.com").ok
        assert srv.connections == 2
        assert [m.rcpt_tos for m in srv.messages] == [("a@example.com",)]


def test_a_connection_dropped_after_the_batch_is_sent_again_once(
    smtp_server_factory: Factory,
) -> None:
    srv = server(smtp_server_factory, drop_on_mail=1)
    with SmtpConnection(settings_for(srv), backoff=0.01) as conn:
        result = conn.send(make_msg(), FROM, "a@example.com")
        assert result.ok, result
        assert conn.send(make_msg(), FROM, "b@example.com").ok
    assert srv.hangups == 1 and srv.connections == 2
    assert [m.rcpt_tos for m in srv.messages] == [("a@example.com",), ("b@example.com",)]


def test_a_354_after_a_refused_recipient_is_ended_without_the_body(
    smtp_server_factory: Factory,
) -> None:
    srv = server(
        smtp_server_factory, reject={"gone@example.com": "no such user"}, data_despite_refusal=True
    )
    with SmtpConnection(settings_for(srv)) as conn:
        gone = conn.send(make_msg(), FROM, "gone@example.com")
        fine = conn.send(make_msg(), FROM, "fine@example.com")
    assert (gone.status, gone.code, gone.recipient) == ("permanent", 550, True)
    assert fine.ok and srv.connections == 1
    empty, kept = srv.messages
    assert empty.data == b"" and b"Massage helps" in kept.data
