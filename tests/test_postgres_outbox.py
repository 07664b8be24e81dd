"""The PostgreSQL outbox: `[outbox] url` chosen and checked, its errors one line, and runners on
one database sharing an issue; one of them killed with SIGKILL mid-issue loses nobody, and the
duplicates are at most its messages in flight (its connections)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.config import settings_from_dict
from newsletter.errors import ConfigError, OutboxError
from newsletter.hygiene import listed_addresses, resubscribe, settle_unknown
from newsletter.outbox import Outbox, has_outbox, open_outbox
from newsletter.runner import RunReport, run_once
from newsletter.service import unsubscribe
from tests.helpers import ROOT
from tests.smtpd import SmtpTestServer
from tests.test_mailer import free_port
from tests.workspace import T0, Workspace, issue_of, one_pending

Factory = Callable[..., SmtpTestServer]


def _real_now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://db.example/news", "is not a PostgreSQL URL"),
        ("postgresql://news:s3cret@db.example/news", "holds a password"),
        ("postgres://db.example/news?password=s3cret", "holds a password"),
    ],
)
def test_a_url_that_is_not_postgresql_or_holds_a_password_is_refused(url: str, said: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings_from_dict({"outbox": {"url": url}})
    assert said in str(err.value) and "s3cret" not in str(err.value)
    if "password" in said:
        assert "PGPASSWORD" in str(err.value)


def test_an_unreachable_server_is_one_line_naming_host_and_port() -> None:
    port = free_port()
    settings = settings_from_dict({"outbox": {"url": f"postgresql://news@127.0.0.1:{port}/news"}})
    with pytest.raises(OutboxError) as err:
        open_outbox(settings)
    message = str(err.value)
    assert f"cannot reach the PostgreSQL server at 127.0.0.1:{port}" in message
    assert "\n" not in message and "start it or check [outbox] url" in message


def test_an_empty_database_holds_no_outbox_until_one_is_scheduled(pg_url: str) -> None:
    settings = settings_from_dict({"outbox": {"url": pg_url}})
    assert not has_outbox(settings) and listed_addresses(settings) == []
    with pytest.raises(OutboxError, match="no outbox in this database yet"):
        open_outbox(settings, create=False)
    assert not has_outbox(settings)  # looking made nothing
    open_outbox(settings).close()
    assert has_outbox(settings)


def test_the_list_hygiene_commands_run_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    settings = settings_from_dict({"outbox": {"url": pg_url}}, base_dir=tmp_path)
    with Outbox.connect(pg_url) as ob:
        one_pending(ob, "a@example.com", "b@example.com")
        d = ob.claim(T0, "<m@x>")
        assert d is not None
        ob.record(
            d.id, status="unknown", code=None, detail="no reply", now=T0, max_attempts=3,
            retry_delay=lambda n: 60.0,
        )  # fmt: skip
    assert unsubscribe(settings, "b@example.com", T0).cancelled == 1
    assert [a.email for a in listed_addresses(settings)] == ["b@example.com"]
    assert resubscribe(settings, "B@example.com").reason == "command"
    (left,) = settle_unknown(settings, T0, decision="sent", series="massage", number=1)
    assert left.email == "a@example.com"
    with Outbox.connect(pg_url) as ob:
        assert ob.counts() == {"sent": 1, "suppressed": 1}


def _runner(ws: Workspace, *args: str) -> tuple[list[str], dict[str, str]]:
    """`newsletter run` on the real clock (a lease must be able to lapse): argv and env."""
    env = {k: v for k, v in os.environ.items() if k != "NEWSLETTER_NOW"}
    env["PYTHONPATH"] = str(ROOT)
    return [sys.executable, "-m", "newsletter", "--config", str(ws.config), "run", *args], env


def _spawn(ws: Workspace, *args: str) -> subprocess.Popen[bytes]:
    argv, env = _runner(ws, *args)
    return subprocess.Popen(
        argv, cwd=ws.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_a_runner_killed_mid_issue_loses_nobody_and_repeats_only_its_messages_in_flight(
    tmp_path: Path, smtp_server_factory: Factory, pg_url: str
) -> None:
    server = smtp_server_factory(reply_delay=0.01)
    connections = 2
    ws = Workspace(tmp_path, server, connections=connections)
    with ws.config.open("a", encoding="utf-8") as f:
        f.write(f'url = "{pg_url}"\nlease_seconds = 2\n')
    readers = ws.subscribers(60)
    ws.schedule()  # five weekly issues from 2025-03-03: all due on the real clock
    doomed, survivor = _spawn(ws, "--once"), _spawn(ws, "--once")  # both start the issues
    server.wait_for(80, timeout=60)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    _, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0 and b"Traceback" not in err, err
    with Outbox.connect(pg_url) as ob:
        in_flight = ob.counts().get("sending", 0)
        assert 0 < in_flight <= connections  # the dead runner's, its lease not yet lapsed
    time.sleep(2.5)  # the lease lapses; the next pass takes those rows back and sends them
    argv, env = _runner(ws, "--once")
    done = subprocess.run(argv, cwd=ws.root, env=env, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    got = Counter((m.rcpt_tos[0], issue_of(m.parsed())) for m in server.messages)
    wanted = {(r, n) for r in readers for n in range(1, 6)}
    assert set(got) == wanted  # everyone received every issue
    duplicates = sum(n - 1 for n in got.values())
    assert duplicates <= connections, got.most_common(3)
    with Outbox.connect(pg_url) as ob:
        assert ob.counts() == {"sent": len(wanted)}  # one row each: no issue started twice
    print(f"killed runner: {in_flight} in flight, {duplicates} duplicate(s)")


def test_a_lease_is_renewed_while_a_slow_server_answers(
    tmp_path: Path, smtp_server_factory: Factory, pg_url: str
) -> None:
    """The final reply takes 3 s, the lease 1 s: the runner's heartbeat keeps the row its own, so
    another runner's pass meanwhile takes nothing back and nothing goes twice."""
    server = smtp_server_factory(answer_late=3.0)
    ws = Workspace(tmp_path, server, connections=1, data_timeout=10)
    with ws.config.open("a", encoding="utf-8") as f:
        f.write(f'url = "{pg_url}"\nlease_seconds = 1\n')
    ws.subscribers(1)
    settings = ws.settings()
    with Outbox.connect(pg_url) as ob:
        one_pending(ob, "reader0000@example.com")
    report: list[RunReport] = []
    runner = threading.Thread(
        target=lambda: report.append(run_once(settings, _real_now(), clock=_real_now))
    )
    runner.start()
    server.wait_for(1, timeout=10)  # the body is in; its final reply comes 3 s later
    time.sleep(1.8)  # past the lease the claim took
    with Outbox.connect(pg_url, owner="another runner") as other:
        assert other.recover_in_flight(_real_now()) == 0
        assert other.claim(_real_now(), "<other@x>") is None
    runner.join(timeout=30)
    assert report and report[0].sent == 1
    assert len(server.messages) == 1
