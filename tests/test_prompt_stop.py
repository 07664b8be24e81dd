"""Stopping is prompt (issue 10, case 6): SIGTERM or Ctrl-C ends the rate limit's, the backoff's
and the reconnect's waits at once; the message in flight gets its final reply or the data
timeout, whichever comes first, and is never sent again. A real `newsletter run` process, a real
slow server, the stop time measured and the outbox checked.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from newsletter.mailer import SmtpConnection
from tests.smtpd import SmtpTestServer
from tests.test_mailer import FROM, free_port, make_msg, settings_for_host
from tests.workspace import ISSUE_1, Workspace, iso

Factory = Callable[..., SmtpTestServer]


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> tuple[float, str]:
    """Send `sig`; (seconds until the process ended, its stderr)."""
    started = time.monotonic()
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert b"Traceback" not in err
    return time.monotonic() - started, err.decode()


def _running(ws: Workspace, server: SmtpTestServer, readers: int) -> subprocess.Popen[bytes]:
    ws.subscribers(readers)
    ws.schedule()
    proc = ws.spawn("run", now=iso(ISSUE_1))  # the loop, as systemd runs it
    assert len(server.wait_for(1, timeout=60)) == 1
    return proc


def test_a_late_final_reply_is_awaited_then_nothing_more_goes(
    tmp_path: Path, smtp_server_factory: Factory
) -> None:
    server = smtp_server_factory(answer_late=1.0)
    ws = Workspace(tmp_path, server, connections=1, timeout=2, data_timeout=5)
    proc = _running(ws, server, 5)
    took, _ = _stop(proc)  # while the first message waits for its final reply
    assert 0.5 < took < 3.5, took
    time.sleep(0.3)
    assert len(server.messages) == 1
    counts = ws.counts()
    assert counts == {"sent": 1, "pending": 4}, counts


def test_a_final_reply_that_never_comes_waits_only_the_data_timeout(
    tmp_path: Path, smtp_server_factory: Factory
) -> None:
    """Previously the message in flight went 3 more times after the signal, over four timeouts."""
    server = smtp_server_factory(answer_late=30)
    ws = Workspace(tmp_path, server, connections=1, timeout=1, data_timeout=1.5)
    proc = _running(ws, server, 3)
    took, _ = _stop(proc)
    assert took < 3.5, took
    time.sleep(0.3)
    assert len(server.messages) == 1 and server.connections == 1
    counts = ws.counts()
    assert counts == {"unknown": 1, "pending": 2}, counts


@pytest.mark.parametrize(
    ("rate", "sig"),
    [(100, signal.SIGTERM), (100, signal.SIGINT), (0.001, signal.SIGTERM)],
    ids=["100-an-hour", "100-an-hour-ctrl-c", "tiny-rate"],
)
def test_a_rate_limit_wait_ends_at_once(
    tmp_path: Path, smtp_server_factory: Factory, rate: float, sig: int
) -> None:
    """Previously 33 s and one more message at 100 an hour, and no end at all at a tiny rate."""
    server = smtp_server_factory(reply_delay=0.2)
    ws = Workspace(tmp_path, server, connections=2, rate_limit=rate, rate_period="hour")
    proc = _running(ws, server, 5)
    took, _ = _stop(proc, sig)
    assert took < 2.0, took
    time.sleep(0.3)
    assert len(server.messages) == 1
    counts = ws.counts()
    assert counts == {"sent": 1, "pending": 4}, counts


def test_a_stop_ends_the_reconnect_backoff_and_the_message_is_not_retried() -> None:
    port = free_port()  # nothing listens: every connection attempt is refused
    delays: list[float] = []
    conn = SmtpConnection(settings_for_host("127.0.0.1", port), retries=3, backoff=5)
    conn.stop_on(lambda: len(delays) > 0, delays.append)
    started = time.monotonic()
    result = conn.send(make_msg(), FROM, "a@example.com")
    assert time.monotonic() - started < 1
    assert result.status == "temporary" and "not retried: stopping" in result.detail
    assert len(delays) == 1  # the one backoff, which the stop ended
