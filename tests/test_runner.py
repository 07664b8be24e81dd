"""Sending from the outbox against real aiosmtpd servers: catch-up, crashes, retries, errors.

Every test schedules the sample post into a fresh folder (newsletter.toml, subscribers.csv,
outbox.sqlite3) and sends to a server from tests/smtpd.py. "Now" is set with NEWSLETTER_NOW.
"""

from __future__ import annotations

import base64
import json
import signal
import socket
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Settings
from newsletter.errors import DeliveryError
from newsletter.mailer import SendResult, SmtpConnection
from newsletter.message import Outgoing
from newsletter.outbox import Outbox, parse_ts
from newsletter.runner import Sender, backoff_seconds, run_once, runner_lock
from tests.smtpd import SmtpTestServer
from tests.workspace import (
    BEFORE,
    ISSUE_1,
    ISSUE_2,
    Workspace,
    environ,
    iso,
    one_line_error,
    received,
)

# -- the schedule, the catch-up, exactly once -------------------------------------------------


def test_dst_catch_up_sends_issues_1_and_2_exactly_once(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    emails = ws.subscribers(12)
    ws.schedule()
    with Outbox.open(ws.outbox) as ob:
        assert [s.send_at for s in ob.status()] == [
            ISSUE_1,
            ISSUE_2,
            ISSUE_2 + timedelta(weeks=1),
            ISSUE_2 + timedelta(weeks=2),
            ISSUE_2 + timedelta(weeks=3),
        ]

    # One minute before issue 2's time (13:00 UTC, not 14:00, after the March change):
    code, out, _ = ws.cli("status", "--json", now=iso(ISSUE_2 - timedelta(minutes=1)))
    assert code == 0
    assert [i["state"] for i in json.loads(out)["issues"]] == ["due"] + ["scheduled"] * 4

    code, out, err = ws.cli("run", "--once", now=iso(ISSUE_2))
    assert code == 0, err
    assert "sent 24, will retry 0, failed 0" in out
    got = received(smtp_server)
    assert got == Counter({(e, n): 1 for e in emails for n in (1, 2)})

    code, out, err = ws.cli("run", "--once", now=iso(ISSUE_2 + timedelta(minutes=5)))
    assert code == 0, err
    assert out.splitlines() == [
        "nothing due",
        "next: massage-for-the-mental-health-of-it issue 3 (Decrease in Pain) on "
        "Mon 2025-03-17 09:00 EDT",
    ]
    assert len(smtp_server.messages) == 24

    code, out, _ = ws.cli("status", "--json", now=iso(ISSUE_2 + timedelta(minutes=5)))
    issues = json.loads(out)["issues"]
    assert [(i["state"], i["sent"], i["pending"]) for i in issues[:3]] == [
        ("done", 12, 0),
        ("done", 12, 0),
        ("scheduled", 0, 0),
    ]
    assert issues[1]["send_at"] == "2025-03-10T13:00:00Z"
    assert issues[1]["local"] == "Mon 2025-03-10 09:00 EDT"


def test_messages_are_built_from_the_stored_rendering(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    """Marked `sending` (committed, Message-ID stored) before the server sees the message, and
    the bytes come from the HTML stored at schedule time, not from a new rendering."""
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(3)
    ws.schedule()
    raw = sqlite3.connect(ws.outbox)
    raw.execute("UPDATE issues SET html = replace(html, '</body>', '<p>STORED-MARK</p></body>')")
    raw.commit()
    raw.close()
    seen: list[tuple[str, object, object]] = []

    class Checking:
        def __init__(self, settings: Settings) -> None:
            self.real = SmtpConnection(settings)

        def open(self) -> None:
            self.real.open()

        def close(self) -> None:
            self.real.close()

        def send(self, msg: Outgoing, from_addr: str, to_addr: str) -> SendResult:
            db = sqlite3.connect(ws.outbox)  # another connection: sees committed rows only
            state, message_id = db.execute(
                "SELECT state, message_id FROM deliveries WHERE email = ?", (to_addr,)
            ).fetchone()
            db.close()
            seen.append((to_addr, state, f"\r\nMessage-ID: {message_id}\r\n".encode() in msg.data))
            return self.real.send(msg, from_addr, to_addr)

    factory: Callable[[Settings], Sender] = Checking
    report = run_once(ws.settings(), ISSUE_1, sender_factory=factory)
    assert report.sent == 3
    assert sorted(s[1:] for s in seen) == [("sending", True)] * 3
    for m in smtp_server.messages:
        html = m.parsed().get_body(("html",))
        assert html is not None and "STORED-MARK" in html.get_content()
    ids = {r["email"]: r["message_id"] for r in ws.rows()}
    assert {m.rcpt_tos[0]: m.parsed()["Message-ID"] for m in smtp_server.messages} == ids


# -- crashes and signals ------------------------------------------------------------------------


@pytest.mark.parametrize("connections", [1, 4])
def test_sigkill_mid_issue_then_restart_delivers_to_everyone(
    tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer], connections: int
) -> None:
    """At most one message per connection is in doubt after a kill, and it is sent again."""
    server = smtp_server_factory(reply_delay=0.004)  # about 20 ms a message: killed mid-issue
    ws = Workspace(tmp_path, server, connections=connections)
    emails = ws.subscribers(100)
    ws.schedule()
    proc = ws.spawn("run", "--once", now=iso(ISSUE_1))
    try:
        arrived = server.wait_for(30, timeout=90)
        assert len(arrived) >= 30, proc.communicate()[1] if proc.poll() is not None else "slow"
        proc.kill()  # SIGKILL: no cleanup of any kind
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    before = len(server.messages)
    assert before < 100, "the sender finished before it was killed"
    counts = ws.counts()
    in_flight = counts.get("sending", 0)
    assert in_flight <= connections
    assert counts.get("sent", 0) + in_flight >= before

    code, out, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    if in_flight:
        assert f"resent {in_flight} message(s)" in out
    print(f"killed after {before} arrived; {in_flight} in flight", file=sys.stderr)
    got = Counter(m.rcpt_tos[0] for m in server.messages)
    assert set(got) == set(emails)
    twice = {e: n for e, n in got.items() if n > 1}
    assert all(n == 2 for n in twice.values())
    assert len(twice) <= in_flight <= connections  # only the messages in flight at the kill
    print(f"{len(twice)} arrived twice", file=sys.stderr)
    # A repeat carries the same Message-ID, so a receiving system can drop it.
    for e in twice:
        assert len({m.parsed()["Message-ID"] for m in server.received_by(e)}) == 1
    assert ws.counts() == {"sent": 100}


def test_sigterm_finishes_the_message_in_flight_and_stops_the_loop(
    tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server_factory(reply_delay=0.01)
    ws = Workspace(tmp_path, server, connections=2)
    emails = ws.subscribers(60)
    ws.schedule()
    proc = ws.spawn("run", now=iso(ISSUE_1))  # the loop, not --once
    try:
        assert len(server.wait_for(20, timeout=90)) >= 20
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert b"stopped" in out
    assert b"Traceback" not in err
    counts = ws.counts()
    assert "sending" not in counts
    assert counts["sent"] == len(server.messages) < 60
    code, _, err2 = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err2
    assert Counter(m.rcpt_tos[0] for m in server.messages) == Counter(emails)


def test_a_second_runner_on_the_same_outbox_is_refused(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(2)
    ws.schedule()
    with runner_lock(ws.outbox):
        code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert "another 'newsletter run' is sending" in one_line_error(code, err)
    assert smtp_server.messages == []
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    assert len(smtp_server.messages) == 2


# -- server answers -----------------------------------------------------------------------------


def test_451_is_retried_with_backoff_and_arrives(
    tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server_factory(tempfail={"reader0001@example.com": 2})
    ws = Workspace(tmp_path, server, retry_after=60, max_attempts=5)
    emails = ws.subscribers(4)
    ws.schedule()
    settings = ws.settings()
    slow = emails[1]

    def row() -> dict[str, object]:
        return next(r for r in ws.rows() if r["email"] == slow)

    first = run_once(settings, ISSUE_1)
    assert (first.sent, first.retrying, first.failed) == (3, 1, 0)
    r = row()
    assert (r["state"], r["attempts"], r["code"]) == ("failed-temporary", 1, 451)
    next_try = parse_ts(str(r["next_try"]))
    assert ISSUE_1 + timedelta(seconds=60) <= next_try <= ISSUE_1 + timedelta(seconds=75)

    assert run_once(settings, ISSUE_1 + timedelta(seconds=30)).attempted == 0  # not yet
    later = ISSUE_1 + timedelta(seconds=80)
    assert run_once(settings, later).retrying == 1
    r = row()
    assert r["attempts"] == 2
    next_try = parse_ts(str(r["next_try"]))
    assert later + timedelta(seconds=120) <= next_try <= later + timedelta(seconds=150)

    assert run_once(settings, ISSUE_1 + timedelta(hours=1)).sent == 1
    assert server.rcpt_attempts(slow) == 3
    assert len(server.received_by(slow)) == 1
    assert Counter(m.rcpt_tos[0] for m in server.messages) == Counter(emails)
    assert row()["state"] == "sent"


def test_451_after_data_is_retried_and_arrives_once(
    tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server_factory(tempfail_every=3)
    ws = Workspace(tmp_path, server, retry_after=1)
    emails = ws.subscribers(8)
    ws.schedule()
    settings = ws.settings()
    for minute in range(6):
        run_once(settings, ISSUE_1 + timedelta(minutes=minute))
    assert Counter(m.rcpt_tos[0] for m in server.messages) == Counter(emails)
    assert ws.counts() == {"sent": 8}


def test_550_for_one_address_is_permanent_with_the_servers_text(
    tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server_factory(reject={"reader0002@example.com": "no such mailbox here"})
    ws = Workspace(tmp_path, server)
    emails = ws.subscribers(5)
    ws.schedule()
    code, out, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    assert "sent 4, will retry 0, failed 1" in out
    assert "reader0002@example.com" in err and "no such mailbox here" in err
    bad = next(r for r in ws.rows() if r["email"] == emails[2])
    assert bad["state"] == "failed-permanent"
    assert bad["code"] == 550
    assert "no such mailbox here" in str(bad["answer"])
    assert sorted(m.rcpt_tos[0] for m in server.messages) == sorted(set(emails) - {emails[2]})
    ws.cli("run", "--once", now=iso(ISSUE_1 + timedelta(days=1)))
    assert server.rcpt_attempts(emails[2]) == 1  # never retried


def test_server_hanging_up_mid_batch_the_sender_reconnects(
    tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server_factory(hangup_after=3)
    ws = Workspace(tmp_path, server, connections=1)
    emails = ws.subscribers(10)
    ws.schedule()
    report = run_once(ws.settings(), ISSUE_1)
    assert report.sent == 10
    assert Counter(m.rcpt_tos[0] for m in server.messages) == Counter(emails)
    assert server.hangups >= 3
    assert server.connections >= 4


# -- bad settings and lists: one line, outbox consistent ---------------------------------------


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_unreachable_host_then_recovery(tmp_path: Path, smtp_server: SmtpTestServer) -> None:
    ws = Workspace(tmp_path, smtp_server)
    emails = ws.subscribers(5)
    ws.schedule()
    port = _closed_port()
    ws.write_config(smtp_server, port=port)
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert f"cannot connect to 127.0.0.1:{port}" in one_line_error(code, err)
    assert ws.counts() == {"pending": 5}  # started, nothing in doubt
    ws.write_config(smtp_server)
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    assert Counter(m.rcpt_tos[0] for m in smtp_server.messages) == Counter(emails)


def test_unknown_security_mode_is_one_line(tmp_path: Path, smtp_server: SmtpTestServer) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(2)
    ws.schedule()
    ws.write_config(smtp_server, security="tls")
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    line = one_line_error(code, err)
    assert "[smtp] security" in line and "'tls'" in line
    assert ws.counts() == {}


def test_missing_password_variable_is_one_line_and_nothing_in_doubt(
    tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server_factory(auth=("newsletter", "pw-0123456789"))
    ws = Workspace(tmp_path, server, username="newsletter", password_env="NL_TEST_SMTP_PW")
    ws.subscribers(3)
    ws.schedule()
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1), NL_TEST_SMTP_PW=None)
    assert "NL_TEST_SMTP_PW" in one_line_error(code, err)
    assert "sending" not in ws.counts()
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1), NL_TEST_SMTP_PW="pw-0123456789")
    assert code == 0, err
    assert ws.counts() == {"sent": 3}
    assert {m.auth_user for m in server.messages} == {"newsletter"}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "subscribers.csv: no such subscriber list"),
        ("address,name\na@example.com,A\n", "subscribers.csv:1: no 'email' column"),
        ("email,name\nnot-an-address,A\n", "subscribers.csv: no valid subscribers"),
        (b"email,name\na@example.com,A\nb@example.com,J\xf6rg\n", "subscribers.csv:3: not UTF-8"),
    ],
)
def test_a_bad_list_is_one_line_and_the_issue_stays_due(
    tmp_path: Path, smtp_server: SmtpTestServer, content: str | bytes | None, expected: str
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.schedule()
    if isinstance(content, bytes):
        ws.csv.write_bytes(content)
    elif content is not None:
        ws.csv.write_text(content, encoding="utf-8")
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    # Row warnings (an invalid address) may come first; the error is the last, single line.
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("newsletter: error: ")
    assert expected in err.strip().splitlines()[-1]
    assert "Traceback" not in err
    assert ws.counts() == {}
    with Outbox.open(ws.outbox) as ob:
        assert [d.number for d in ob.due_issues(ISSUE_1)] == [1]
    assert smtp_server.messages == []


def test_invalid_rows_are_warned_with_line_numbers_and_the_rest_sent(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    emails = ws.subscribers(3, extra="broken-address,X\nREADER0000@EXAMPLE.COM,Dup\n")
    ws.schedule()
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    assert "subscribers.csv:5: warning: invalid email address 'broken-address'" in err
    assert "subscribers.csv:6: warning: duplicate of line 2" in err
    assert Counter(m.rcpt_tos[0] for m in smtp_server.messages) == Counter(emails)


def test_a_stray_quote_warns_with_its_line_and_swallows_nobody(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    emails = ws.subscribers(6)
    text = ws.csv.read_text(encoding="utf-8")
    ws.csv.write_text(text.replace(f"{emails[2]},Reader 2", f"{emails[2]},\"O'Brien, Pat"))
    ws.schedule()
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    assert (
        "subscribers.csv:4: warning: a quote opened on this line is not closed on it; row skipped"
        in err
    )
    got = Counter(m.rcpt_tos[0] for m in smtp_server.messages)
    assert got == Counter(e for e in emails if e != emails[2])
    for m in smtp_server.messages:
        part = m.parsed().get_body(("plain",))
        assert part is not None
        body = part.get_content()
        assert not any(e in body for e in emails if e != m.rcpt_tos[0]), m.rcpt_tos[0]


def test_extra_columns_of_the_list_reach_each_recipients_message(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "email.txt.j2").write_text(
        "Hello {{ subscriber.name }} in {{ subscriber.get('city', 'your town') }}\n"
        "{{ newsletter.postal_address }} {{ unsubscribe_url }}\n",
        encoding="utf-8",
    )
    ws.csv.write_text(
        "email,name,City\nann@example.com,Ann,Cork\nbo@example.com,,\n", encoding="utf-8"
    )
    ws.schedule()
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    texts = {}
    for m in smtp_server.messages:
        part = m.parsed().get_body(("plain",))
        assert part is not None
        texts[m.rcpt_tos[0]] = part.get_content().splitlines()[0]
    assert texts == {
        "ann@example.com": "Hello Ann in Cork",
        "bo@example.com": "Hello there in your town",
    }


# -- suppression, dry run, secrets ----------------------------------------------------------------


def test_a_suppressed_address_is_never_sent_to(tmp_path: Path, smtp_server: SmtpTestServer) -> None:
    ws = Workspace(tmp_path, smtp_server)
    emails = ws.subscribers(4)
    ws.schedule()
    code, out, err = ws.cli("unsubscribe", emails[0].upper(), now=BEFORE)
    assert code == 0, err
    assert "unsubscribed" in out
    # Issue 2 starts, then someone unsubscribes before the pass sends it.
    with Outbox.open(ws.outbox) as ob:
        due = ob.due_issues(ISSUE_2)
        from newsletter.subscribers import read_subscribers

        ob.materialize([d.issue_id for d in due], read_subscribers(ws.csv), ISSUE_2)
    code, out, _ = ws.cli("unsubscribe", emails[1], now=BEFORE)
    assert "2 queued message(s) cancelled" in out
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_2))
    assert code == 0, err
    got = {m.rcpt_tos[0] for m in smtp_server.messages}
    assert got == set(emails[2:])
    assert len(smtp_server.messages) == 4
    assert ws.counts() == {"sent": 4, "suppressed": 2}


def test_dry_run_writes_eml_files_and_changes_nothing(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    emails = ws.subscribers(3)
    ws.schedule()
    out_dir = tmp_path / "dry"
    code, out, err = ws.cli("run", "--dry-run", "--out", out_dir, now=iso(ISSUE_2))
    assert code == 0, err
    assert "wrote 6 message(s)" in out
    files = sorted(out_dir.rglob("*.eml"))
    assert len(files) == 6
    assert smtp_server.messages == []
    assert ws.counts() == {}
    import email
    import email.policy

    first = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert first["To"] is not None and "List-Unsubscribe" in first
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_2))
    assert code == 0, err
    assert received(smtp_server) == Counter({(e, n): 1 for e in emails for n in (1, 2)})


def test_the_password_is_nowhere(
    tmp_path: Path,
    smtp_server_factory: Callable[..., SmtpTestServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    password = "Pw-7f3c9a1e-never-show-me"
    wrong = "Wrong-5b2d-also-secret"
    server = smtp_server_factory(auth=("newsletter", password))
    ws = Workspace(tmp_path, server, username="newsletter")
    ws.subscribers(3)
    ws.schedule()
    outputs: list[str] = []
    caplog.set_level("DEBUG")
    code, out, err = ws.cli("--debug", "run", "--once", now=iso(ISSUE_1),
                            NEWSLETTER_SMTP_PASSWORD=password)  # fmt: skip
    outputs += [out, err]
    assert code == 0, err
    assert ws.counts() == {"sent": 3}
    code, out, err = ws.cli("run", "--once", now=iso(ISSUE_2), NEWSLETTER_SMTP_PASSWORD=wrong)
    outputs += [out, err]
    assert "refused the login" in one_line_error(code, err)
    code, out, err = ws.cli("run", "--dry-run", "--out", tmp_path / "dry", now=iso(ISSUE_2),
                            NEWSLETTER_SMTP_PASSWORD=password)  # fmt: skip
    assert code == 0, err
    outputs += [out, err, caplog.text]
    with pytest.raises(DeliveryError) as info, environ(NEWSLETTER_SMTP_PASSWORD=wrong):
        run_once(ws.settings(), ISSUE_2)
    outputs += [str(info.value), repr(info.value)]

    blobs = [o.encode() for o in outputs]
    blobs += [p.read_bytes() for p in (tmp_path / "dry").rglob("*.eml")]
    blobs += [p.read_bytes() for p in tmp_path.glob("outbox.sqlite3*")]
    assert len(list((tmp_path / "dry").rglob("*.eml"))) == 3
    for secret in (password, wrong):
        forms = [
            secret.encode(),
            base64.b64encode(secret.encode()),
            base64.b64encode(f"\0newsletter\0{secret}".encode()),
        ]
        for blob in blobs:
            for form in forms:
                assert form not in blob


def test_short_newsletter_secret_is_refused(tmp_path: Path, smtp_server: SmtpTestServer) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(1)
    ws.schedule()
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1), NEWSLETTER_SECRET="short")
    assert "NEWSLETTER_SECRET is too short" in one_line_error(code, err)
    assert "'short'" not in err and "=short" not in err  # the value itself is not echoed


def test_backoff_doubles_with_bounded_jitter() -> None:
    import random

    rng = random.Random(7)
    delays = [backoff_seconds(n, 20, rng) for n in range(1, 6)]
    for n, d in enumerate(delays, start=1):
        base = 20 * 2 ** (n - 1)
        assert base <= d <= base * 1.25
    assert backoff_seconds(40, 20, rng) <= 6 * 3600 * 1.25


def test_the_loop_ticks_with_its_own_scheduler(tmp_path: Path, smtp_server: SmtpTestServer) -> None:
    """The loop catches up at start, then keeps waking; a stop event ends it cleanly."""
    import schedule

    from newsletter.runner import run_loop

    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(2)
    ws.schedule()
    now = [ISSUE_1]
    reports: list[int] = []
    stop = threading.Event()

    def on_report(r: Any) -> None:
        reports.append(r.sent)
        if len(reports) == 1:
            now[0] = ISSUE_2  # the next tick finds issue 2 due
        if len(reports) >= 3:
            stop.set()

    t = threading.Thread(
        target=run_loop,
        args=(ws.settings(),),
        kwargs={"clock": lambda: now[0], "stop": stop, "on_report": on_report},
    )
    started = time.monotonic()
    t.start()
    t.join(30)
    assert not t.is_alive()
    assert reports[:2] == [2, 2] and sum(reports) == 4
    assert time.monotonic() - started >= 1.5  # poll_seconds = 1 between ticks
    assert schedule.jobs == []  # the module-level scheduler was never used


def test_a_non_ascii_address_goes_out_with_smtputf8(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(1, extra="jörg@bücher.de,Jörg Müller\n")
    ws.schedule()
    code, out, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    assert "sent 2, will retry 0, failed 0" in out
    (jorg,) = [m for m in smtp_server.messages if not m.rcpt_tos[0].isascii()]
    assert "SMTPUTF8" in jorg.mail_options
    assert jorg.rcpt_tos[0].startswith("jörg@")
    assert "Jörg Müller" in str(jorg.parsed()["To"])
