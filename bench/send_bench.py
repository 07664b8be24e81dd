"""Send benchmark: our persistent, parallel SMTP sender against one connection per message.

Starts a local aiosmtpd server (tests/smtpd.py) on 127.0.0.1 that waits `--delay` seconds before
every reply (a simulated round trip), then sends the same N messages three ways, in the same run:

- `smtplib`, a new connection per message (connect, EHLO, MAIL, RCPT, DATA, QUIT), as a plain
  mail-merge loop does;
- our `SmtpConnection`, one persistent connection;
- our `SmtpConnection` x `--connections` worker threads sharing a `RateLimiter`;
- the whole `newsletter run --once` pass on a list of the same N addresses: the outbox in a
  SQLite file, a personal message built for each reader from the issue rendered once, every
  state change committed, `--connections` connections.

Prints messages per second for each and the ratios; checks the server got every message once.
Loopback only; each run stops at `--max-seconds` (its rate is then over what it sent).

    .venv/bin/python bench/send_bench.py [-n 200] [--delay 0.02] [--connections 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import queue
import smtplib
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.smtpd, the same server the tests use

from newsletter import service  # noqa: E402
from newsletter.config import Settings, load_settings  # noqa: E402
from newsletter.mailer import RateLimiter, SmtpConnection, flatten  # noqa: E402
from newsletter.runner import run_once  # noqa: E402
from tests.smtpd import SmtpTestServer, settings_for, start_server  # noqa: E402

SAMPLE = ROOT / "posts" / "massage-for-the-mental-health-of-it.txt"
FROM = "news@example.com"


@dataclasses.dataclass(frozen=True)
class Run:
    name: str
    sent: int
    seconds: float
    connections: int

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def sample_message(settings: Settings) -> tuple[EmailMessage, str]:
    """Issue 1 of the sample post as the renderer makes it, or a same-sized stand-in."""
    try:
        from newsletter.message import build_message
        from newsletter.render import render_issue

        series = service.load_series(SAMPLE, settings)
        email = render_issue(series, series.issues[0], settings)
        msg = build_message(
            email,
            settings,
            to_addr="reader@example.com",
            to_name="Reader",
            unsubscribe_url="https://example.com/unsubscribe?e=reader%40example.com&t=x",
            unsubscribe_mailto="mailto:news@example.com?subject=unsubscribe",
        )
        return msg, "issue 1 of the sample post"
    except ImportError:
        msg = EmailMessage()
        msg["From"] = f"Body & Mind Notes <{FROM}>"
        msg["To"] = "reader@example.com"
        msg["Subject"] = "Improved Sleep"
        msg.set_content("Massage helps you sleep. " * 200)
        msg.add_alternative("<p>" + "Massage helps you sleep. " * 1000 + "</p>", subtype="html")
        return msg, "a synthetic message of similar size (renderer not available)"


def recipients(n: int) -> list[str]:
    return [f"reader{i:05d}@example.com" for i in range(n)]


def timed(name: str, server: SmtpTestServer, count: int, body: Callable[[float], int]) -> Run:
    before_msgs, before_conns = len(server.messages), server.connections
    started = time.perf_counter()
    sent = body(started)
    seconds = time.perf_counter() - started
    arrived = len(server.messages) - before_msgs
    if arrived != sent:
        raise SystemExit(f"{name}: the server got {arrived} messages, the sender reports {sent}")
    return Run(name, sent, seconds, server.connections - before_conns)


def run_smtplib(server: SmtpTestServer, data: bytes, to: list[str], budget: float) -> Run:
    def body(started: float) -> int:
        sent = 0
        for addr in to:
            if time.perf_counter() - started > budget:
                break
            with smtplib.SMTP(server.host, server.port, local_hostname="bench", timeout=10) as s:
                s.sendmail(FROM, [addr], data)
            sent += 1
        return sent

    return timed("smtplib, a connection per message", server, len(to), body)


def run_ours(
    settings: Settings, server: SmtpTestServer, msg: EmailMessage, to: list[str], workers: int,
    budget: float,
) -> Run:  # fmt: skip
    jobs: queue.SimpleQueue[str] = queue.SimpleQueue()
    for addr in to:
        jobs.put(addr)
    limiter = RateLimiter.from_settings(settings)
    counts = [0] * workers
    failures: list[str] = []

    def worker(n: int, started: float) -> None:
        with SmtpConnection(settings) as conn:
            while time.perf_counter() - started <= budget:
                try:
                    addr = jobs.get_nowait()
                except queue.Empty:
                    return
                limiter.wait()
                result = conn.send(msg, FROM, addr)
                if result.ok:
                    counts[n] += 1
                else:
                    failures.append(f"{addr}: {result.status} {result.code} {result.detail}")

    def body(started: float) -> int:
        threads = [threading.Thread(target=worker, args=(n, started)) for n in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            raise SystemExit(f"{len(failures)} failed, e.g. {failures[0]}")
        return sum(counts)

    label = "ours, 1 persistent connection" if workers == 1 else (
        f"ours, {workers} persistent connections"
    )  # fmt: skip
    return timed(label, server, len(to), body)


def run_newsletter(server: SmtpTestServer, to: list[str], workers: int, budget: float) -> Run:
    """`schedule` the sample post into a fresh outbox, then time one `run --once` pass."""
    start = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = root / "newsletter.toml"
        config.write_text(
            f'[newsletter]\nfrom = "Body & Mind Notes <{FROM}>"\n'
            f'[smtp]\nhost = "{server.host}"\nport = {server.port}\nsecurity = "none"\n'
            f"connections = {workers}\ntimeout = 10\n"
            '[schedule]\ntimezone = "UTC"\n[subscribers]\nfile = "list.csv"\n',
            encoding="utf-8",
        )
        (root / "list.csv").write_text("email\n" + "\n".join(to) + "\n", encoding="utf-8")
        settings = load_settings(config)
        before = datetime(2025, 3, 1, tzinfo=UTC)
        series = service.load_series(SAMPLE, settings)
        when = service.timing(settings, before, start="2025-03-03", at="09:00", tz="UTC")
        service.queue_series(series, settings, when, now=before)
        stop = threading.Event()
        timer = threading.Timer(budget, stop.set)
        timer.start()
        try:
            return timed(
                f"newsletter run --once, {workers} conn.",
                server,
                len(to),
                lambda _: run_once(settings, start, stop=stop).sent,
            )
        finally:
            timer.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=200, help="messages per run")
    parser.add_argument("--delay", type=float, default=0.02, help="seconds before each reply")
    parser.add_argument(
        "--connections", type=int, help="our parallel connections (default: from settings)"
    )
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time budget per run")
    args = parser.parse_args(argv)
    if not 1 <= args.messages <= 5000:
        parser.error("--messages must be between 1 and 5000")

    with start_server(reply_delay=args.delay) as server:
        settings = settings_for(server, timeout=10.0)
        workers = args.connections or settings.smtp.connections
        msg, what = sample_message(settings)
        data = flatten(msg)
        to = recipients(args.messages)
        print(
            f"{args.messages} messages of {len(data) / 1024:.1f} KB ({what}) to aiosmtpd on "
            f"{server.host}:{server.port}, {args.delay * 1000:g} ms before each reply"
        )
        runs = [
            run_smtplib(server, data, to, args.max_seconds),
            run_ours(settings, server, msg, to, 1, args.max_seconds),
            run_ours(settings, server, msg, to, workers, args.max_seconds),
            run_newsletter(server, to, workers, args.max_seconds),
        ]
    base = runs[0].rate
    for r in runs:
        print(
            f"  {r.name:<38} {r.sent:>5} msgs in {r.seconds:6.2f} s = {r.rate:7.1f} msg/s "
            f"({r.connections} connection(s); {r.rate / base:4.1f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
