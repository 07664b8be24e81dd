"""`run --workers N`: sender processes on one outbox, each with its own connections, claiming
deliveries in transactions; the crash guarantees hold (issue 13, item 2). A real `newsletter run`,
a real SMTP sink, the outbox checked."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.smtpd import SmtpTestServer
from tests.workspace import ISSUE_1, Workspace, iso, one_line_error

Factory = Callable[..., SmtpTestServer]


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(p) for p in found]


def test_two_workers_send_each_message_once_over_their_own_connections(
    tmp_path: Path, smtp_server_factory: Factory
) -> None:
    server = smtp_server_factory(reply_delay=0.002)
    ws = Workspace(tmp_path, server, connections=2)
    readers = ws.subscribers(40)
    ws.schedule()
    code, out, err = ws.cli("run", "--once", "--workers", "2", now=iso(ISSUE_1))
    assert code == 0, err
    assert "sent 40, will retry 0, failed 0" in out
    assert Counter(m.rcpt_tos[0] for m in server.messages) == dict.fromkeys(readers, 1)
    used = {m.connection for m in server.messages}
    assert len(used) >= 3, used  # two processes with two connections each took part
    assert ws.counts() == {"sent": 40}


def test_a_worker_killed_mid_issue_loses_nobody_and_duplicates_at_most_its_in_flight(
    tmp_path: Path, smtp_server_factory: Factory
) -> None:
    server = smtp_server_factory(reply_delay=0.01)
    ws = Workspace(tmp_path, server, connections=2)
    readers = ws.subscribers(120)
    ws.schedule()
    with ws.running("run", "--once", "--workers", "2", now=iso(ISSUE_1)) as proc:
        assert len(server.wait_for(15, timeout=60)) >= 15
        workers = _children(proc.pid)
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err
    assert b"a sender process ended without a report" in err
    counts = ws.counts()
    assert counts.get("sending", 0) <= 2, counts  # the killed worker's two connections
    code, _, err2 = ws.cli("run", "--once", now=iso(ISSUE_1))  # the next pass
    assert code == 0, err2
    copies = Counter(m.rcpt_tos[0] for m in server.messages)
    assert set(copies) == set(readers)  # nobody lost
    assert sum(copies.values()) - len(readers) <= 2, copies.most_common(3)
    assert ws.counts() == {"sent": 120}


def test_sigterm_to_the_runner_stops_its_workers_promptly(
    tmp_path: Path, smtp_server_factory: Factory
) -> None:
    server = smtp_server_factory(reply_delay=0.02)
    ws = Workspace(tmp_path, server, connections=1)
    ws.subscribers(200)
    ws.schedule()
    with ws.running("run", "--workers", "2", now=iso(ISSUE_1)) as proc:  # the loop
        assert len(server.wait_for(5, timeout=60)) >= 5
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)  # to the runner only, as `kill PID` does
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - started
    assert proc.returncode == 0, err
    assert took < 3, took
    counts = ws.counts()
    assert "sending" not in counts, counts  # each worker recorded its message in flight
    assert counts["sent"] == len(server.messages)


def test_workers_out_of_range_is_a_usage_error(tmp_path: Path, smtp_server: SmtpTestServer) -> None:
    ws = Workspace(tmp_path, smtp_server)
    code, _, err = ws.cli("run", "--once", "--workers", "0", now=iso(ISSUE_1))
    assert "--workers 0" in one_line_error(code, err, status=2)
