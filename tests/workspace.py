"""A writer's folder and a queued outbox, shared by the sending, scheduling and unsubscribe tests.

`Workspace` is a folder with newsletter.toml pointing at a test SMTP server, a subscriber list
and an outbox; `plan`, `subs` and `one_pending` queue made-up issues straight into an Outbox.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from newsletter import service
from newsletter.cli import main
from newsletter.config import Settings, load_settings
from newsletter.model import Email
from newsletter.outbox import Outbox, PlannedIssue, SeriesPlan
from newsletter.subscribers import Subscriber
from tests.helpers import ROOT, SAMPLE
from tests.smtpd import SmtpTestServer

ISSUE_1 = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)  # Mon 09:00 EST
ISSUE_2 = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)  # Mon 09:00 EDT (clocks changed Mar 9)
BEFORE = "2025-03-01T12:00:00+00:00"
# The workspace's settings are the examples' own and the sample post has warnings: rehearsals.
ACCEPT = ("--accept-placeholders", "--accept-warnings")
REAL_NAMES = {  # a writer's own details, for the tests of what `schedule` refuses
    "from": "Chelsa Connolly <chelsa@bodyandmind.test>",
    "reply_to": "chelsa@bodyandmind.test",
    "site_url": "https://bodyandmind.test",
    "postal_address": "3 Harbour Lane, Portsmouth",
}


def iso(moment: datetime) -> str:
    return moment.isoformat()


@contextlib.contextmanager
def environ(**values: str | None) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


def _toml(value: object) -> str:
    return json.dumps(value)  # TOML strings, numbers and booleans read the same


class Workspace:
    """A writer's folder: newsletter.toml pointing at a test server, a list, an outbox."""

    def __init__(self, root: Path, server: SmtpTestServer | None, **smtp: Any) -> None:
        self.root = root
        self.config = root / "newsletter.toml"
        self.outbox = root / "outbox.sqlite3"
        self.csv = root / "subscribers.csv"
        self.write_config(server, **smtp)

    def use_real_names(self) -> None:
        """Replace the example sender, site and postal address with a writer's own."""
        lines = [
            line
            for line in self.config.read_text(encoding="utf-8").splitlines()
            if line.split(" = ")[0] not in REAL_NAMES
        ]
        at = lines.index("[newsletter]") + 1
        lines[at:at] = [f"{k} = {_toml(v)}" for k, v in REAL_NAMES.items()]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def write_config(self, server: SmtpTestServer | None, **smtp: Any) -> None:
        values: dict[str, Any] = {
            "host": server.host if server else "127.0.0.1",
            "port": server.port if server else 25,
            "security": server.tls if server else "none",
            "connections": 2,
            "retry_after": 60,
            "max_attempts": 4,
            "timeout": 5,
        }
        if server is not None and server.cert_file is not None:
            values["ca_file"] = str(server.cert_file)
        if server is not None and server.auth is not None:
            values["username"] = server.auth[0]
        values.update(smtp)
        lines = [
            "[newsletter]",
            'name = "Body & Mind Notes"',
            'from = "Chelsa Connolly <chelsa@example.com>"',
            'reply_to = "chelsa@example.com"',
            'site_url = "https://example.com"',
            "",
            "[smtp]",
            *(f"{k} = {_toml(v)}" for k, v in values.items()),
            "",
            "[schedule]",
            'timezone = "America/New_York"',
            'time = "09:00"',
            "poll_seconds = 1",
            "",
            "[subscribers]",
            'file = "subscribers.csv"',
            "",
            "[outbox]",
            'path = "outbox.sqlite3"',
        ]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def subscribers(self, count: int, extra: str = "") -> list[str]:
        emails = [f"reader{i:04d}@example.com" for i in range(count)]
        rows = "".join(f"{e},Reader {i}\n" for i, e in enumerate(emails))
        self.csv.write_text("email,name\n" + rows + extra, encoding="utf-8")
        return emails

    def settings(self) -> Settings:
        return load_settings(self.config)

    def cli(self, *args: object, now: str, **env: str | None) -> tuple[int, str, str]:
        """Run the CLI in this process; (exit status, stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()
        argv = ["--config", str(self.config), *(str(a) for a in args)]
        with (
            environ(NEWSLETTER_NOW=now, **env),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            code = main(argv)
        return code, out.getvalue(), err.getvalue()

    def schedule(self, post: Path = SAMPLE) -> None:
        """Queue the sample post (or `post`): five Mondays from 2025-03-03, 09:00 in New York."""
        settings = self.settings()
        now = datetime.fromisoformat(BEFORE)
        series = service.load_series(post, settings)
        when = service.timing(settings, now, start="2025-03-03", at="09:00", tz="America/New_York")
        service.queue_series(series, settings, when, now=now)

    def spawn(self, *args: str, now: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ, NEWSLETTER_NOW=now, PYTHONPATH=str(ROOT))
        return subprocess.Popen(
            [sys.executable, "-m", "newsletter", "--config", str(self.config), *args],
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    @contextlib.contextmanager
    def running(self, *args: str, now: str) -> Iterator[subprocess.Popen[bytes]]:
        """`spawn`, and kill the process if the test leaves it running (a failed assert)."""
        proc = self.spawn(*args, now=now)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def rows(self) -> list[dict[str, object]]:
        with Outbox.open(self.outbox) as ob:
            return ob.deliveries()

    def counts(self) -> dict[str, int]:
        with Outbox.open(self.outbox) as ob:
            return ob.counts()


def issue_of(message: EmailMessage) -> int:
    subject = str(message["Subject"])
    for n in range(1, 6):
        if f"{n} of 5:" in subject:
            return n
    raise AssertionError(f"no issue number in {subject!r}")


def received(server: SmtpTestServer) -> Counter[tuple[str, int]]:
    """How many times each (recipient, issue) arrived."""
    return Counter((m.rcpt_tos[0], issue_of(m.parsed())) for m in server.messages)


def one_line_error(code: int, err: str, status: int = 1) -> str:
    """The one error line of a failed command (status 1, or 2 for a usage error)."""
    assert code == status, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("newsletter: error: ")
    assert "Traceback" not in err
    return lines[0]


T0 = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)
WEEK = timedelta(weeks=1)


def plan(slug: str = "massage", n: int = 3, start: datetime = T0, tag: str = "v1") -> SeriesPlan:
    return SeriesPlan(
        slug=slug,
        title="Massage for the Mental Health of IT",
        source="posts/massage.txt",
        timezone="America/New_York",
        local_time="09:00",
        every_weeks=1,
        issues=tuple(
            PlannedIssue(
                number=i,
                slug=f"issue-{i}",
                title=f"Issue {i}",
                send_at=start + (i - 1) * WEEK,
                email=Email(
                    subject=f"{tag} subject {i}",
                    preheader=f"preheader {i}",
                    html=f"<p>{tag} html {i}</p>",
                    text=f"{tag} text {i}",
                ),
            )
            for i in range(1, n + 1)
        ),
    )


def subs(*emails: str) -> list[Subscriber]:
    return [
        Subscriber(email=e, name=e.split("@")[0].title(), line=i + 2) for i, e in enumerate(emails)
    ]


def one_pending(ob: Outbox, *emails: str) -> list[int]:
    ob.schedule(plan(n=1), replace=False, now=T0)
    ids = [d.issue_id for d in ob.due_issues(T0)]
    ob.materialize(ids, subs(*emails), T0)
    return ids
