"""Send benchmark: our whole `newsletter run --once` pass against plain smtplib loops and mailmerge,
in one run, against one local counting sink.

The sink runs in its own process (so our CPU figures are ours alone) and can put a round trip on
the path: every reply leaves `rtt` seconds after the client's bytes came in, as on a network, so
commands sent together (PIPELINING, RFC 2920) wait once, while a server that waits before each
reply would make them wait one after another. It checks that every recipient got one message.

Runs, each with messages to its own recipients:

- `smtplib`, a new connection per message (connect, EHLO, MAIL, RCPT, DATA, QUIT);
- `smtplib`, one persistent connection, one prebuilt message: the ceiling for one connection;
- mailmerge, its real command line, one connection per message as it does (if installed:
  `pip install -e '.[bench]'`);
- the whole `newsletter run --once` pass (runner.run_once): the outbox in SQLite, a message per
  reader from the issue prepared once, every state change committed;
- at `--delay` (default 20 ms) round trip, the pass with `--wide` connections (default 32), with
  and without PIPELINING, as a share of the wire limit `connections / (round trips x delay)`:
  a message takes 4 round trips without pipelining (MAIL, RCPT, DATA, the body) and 2 with it
  (MAIL+RCPT+DATA, the body).

CPU is our process's `time.process_time()` (all threads), or for mailmerge the child's
`getrusage(RUSAGE_CHILDREN)`; both per message.

    .venv/bin/python bench/send_bench.py [-n 2000] [--connections 4] [--delay 0.02] [--wide 32]
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sink import Sink  # noqa: E402  (bench/sink.py, beside this file)

from newsletter import service  # noqa: E402
from newsletter.build import write_build  # noqa: E402
from newsletter.config import Settings, load_settings  # noqa: E402
from newsletter.runner import run_once  # noqa: E402

SAMPLE = ROOT / "posts" / "massage-for-the-mental-health-of-it.txt"
FROM = "news@example.com"
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

# -- the runs -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Run:
    name: str
    sent: int
    seconds: float
    cpu: float  # seconds of CPU
    connections: int
    between: float  # seconds from the first message's arrival to the last's
    limit: float | None = None  # the wire limit, messages per second

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    @property
    def steady(self) -> float:
        """The rate once sending has begun (the connections open, the list read)."""
        return (self.sent - 1) / self.between if self.between > 0 else self.rate

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.sent if self.sent else 0.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(
    name: str, sink: Sink, to: list[str], body: Callable[[], int], *, child: bool = False
) -> Run:
    """Run `body` (it returns how many it sent); the sink must have got each of them once."""
    before = sink.ask("mark")
    cpu = _children_cpu() if child else time.process_time()
    started = time.perf_counter()
    sent = body()
    seconds = time.perf_counter() - started
    cpu = (_children_cpu() if child else time.process_time()) - cpu
    after = sink.ask()
    got, distinct, twice = after[0] - before[0], after[1] - before[1], after[2] - before[2]
    if not got == distinct == sent == len(to) or twice:
        raise SystemExit(
            f"{name}: sent {sent} of {len(to)}; the sink got {got} messages for {distinct} new "
            f"recipients, {twice} of them more than once"
        )
    return Run(name, sent, seconds, cpu, after[3] - before[3], after[5] - after[4])


def recipients(tag: str, n: int) -> list[str]:
    return [f"{tag}{i:06d}@example.com" for i in range(n)]


def smtplib_per_message(sink: Sink, data: bytes, to: list[str]) -> Run:
    def body() -> int:
        for addr in to:
            with smtplib.SMTP("127.0.0.1", sink.port, local_hostname="bench", timeout=30) as s:
                s.sendmail(FROM, [addr], data)
        return len(to)

    return timed("smtplib, a connection per message", sink, to, body)


def smtplib_prebuilt(sink: Sink, data: bytes, to: list[str]) -> Run:
    def body() -> int:
        with smtplib.SMTP("127.0.0.1", sink.port, local_hostname="bench", timeout=30) as s:
            for addr in to:
                s.sendmail(FROM, [addr], data)
        return len(to)

    return timed("smtplib, 1 connection, prebuilt message", sink, to, body)


def mailmerge(sink: Sink, text: str, to: list[str], tmp: Path) -> Run | None:
    exe = shutil.which("mailmerge", path=str(Path(sys.executable).parent))
    if exe is None:
        return None
    (tmp / "mm.conf").write_text(
        f"[smtp_server]\nhost = 127.0.0.1\nport = {sink.port}\nsecurity = Never\n", "utf-8"
    )
    (tmp / "mm.txt").write_text(
        f"TO: {{{{email}}}}\nSUBJECT: Improved Sleep\nFROM: Body & Mind Notes <{FROM}>\n\n"
        f"Hi {{{{name}}}},\n{{% raw %}}{text}{{% endraw %}}\n",
        "utf-8",
    )
    (tmp / "mm.csv").write_text(
        "email,name\n" + "".join(f"{a},Reader {i}\n" for i, a in enumerate(to)), "utf-8"
    )
    command = [exe, "--no-dry-run", "--no-limit", "--output-format", "raw"]
    command += ["--template", "mm.txt", "--database", "mm.csv", "--config", "mm.conf"]

    def body() -> int:
        subprocess.run(command, cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        return len(to)

    return timed("mailmerge (its CLI, a connection per msg.)", sink, to, body, child=True)


def queued_workspace(
    root: Path, port: int, to: Iterable[str], connections: int, outbox_url: str = ""
) -> Settings:
    """A writer's folder in `root`: settings for the sink on `port`, the list `to` (written as
    it comes), the outbox (SQLite, or `outbox_url`) with the sample post queued; its settings."""
    config = root / "newsletter.toml"
    outbox = f'url = "{outbox_url}"\n' if outbox_url else 'path = "outbox.sqlite3"\n'
    config.write_text(
        f'[newsletter]\nfrom = "Body & Mind Notes <{FROM}>"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f"connections = {connections}\ntimeout = 30\n"
        '[schedule]\ntimezone = "UTC"\n[subscribers]\nfile = "list.csv"\n'
        f"[outbox]\n{outbox}",
        encoding="utf-8",
    )
    with (root / "list.csv").open("w", encoding="utf-8") as f:
        f.write("email,name\n")
        f.writelines(f"{a},Reader {i}\n" for i, a in enumerate(to))
    settings = load_settings(config)
    before = datetime(2025, 3, 1, tzinfo=UTC)
    series = service.load_series(SAMPLE, settings)
    when = service.timing(settings, before, start="2025-03-03", at="09:00", tz="UTC")
    service.queue_series(series, settings, when, now=before)
    return settings


def newsletter_pass(sink: Sink, to: list[str], connections: int, tmp: Path, name: str) -> Run:
    """`schedule` the sample post into a fresh outbox, then time one `run --once` pass."""
    settings = queued_workspace(Path(tempfile.mkdtemp(dir=tmp)), sink.port, to, connections)
    return timed(name, sink, to, lambda: run_once(settings, START, stop=threading.Event()).sent)


def sample(tmp: Path) -> tuple[bytes, str]:
    """A message of issue 1 as `build` writes it (message.eml), and the issue's plain text."""
    settings = Settings()
    write_build(service.load_series(SAMPLE, settings), settings, tmp / "build")
    eml = next((tmp / "build").rglob("01-*/message.eml"))
    return eml.read_bytes(), next((tmp / "build").rglob("01-*/email.txt")).read_text("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=2000, help="messages per run")
    parser.add_argument("--connections", type=int, default=4, help="our connections at 0 ms")
    parser.add_argument("--delay", type=float, default=0.02, help="round trip of the wide runs")
    parser.add_argument("--wide", type=int, default=32, help="our connections at --delay")
    args = parser.parse_args(argv)
    n = args.messages
    few = max(1, n // 10)  # for the loops that open a connection per message
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            data, text = sample(tmp)
            print(
                f"{len(data) / 1024:.1f} KB messages (issue 1 of the sample post) to a counting "
                f"sink on 127.0.0.1:{sink.port}, its own process; {n} per run ({few} for the "
                "loops with a connection per message)"
            )
            runs = [
                smtplib_per_message(sink, data, recipients("a", few)),
                smtplib_prebuilt(sink, data, recipients("b", n)),
            ]
            merged = mailmerge(sink, text, recipients("c", few), tmp)
            if merged is not None:
                runs.append(merged)
            ours = newsletter_pass(
                sink, recipients("d", n), args.connections, tmp,
                f"newsletter run --once, {args.connections} conn.",
            )  # fmt: skip
            runs.append(ours)
            wide = []
            sink.ask(f"rtt {args.delay}")
            merged_far = mailmerge(sink, text, recipients("f", max(1, few // 4)), tmp)
            for pipelining, trips in (("on", 2), ("off", 4)):
                sink.ask(f"pipelining {pipelining}")
                run = newsletter_pass(
                    sink, recipients(f"e{pipelining}", n), args.wide, tmp,
                    f"run --once, {args.wide} conn., pipelining {pipelining}",
                )  # fmt: skip
                wide.append(dataclasses.replace(run, limit=args.wide / (trips * args.delay)))
            sink.ask("rtt 0")
            sink.ask("pipelining on")
    finally:
        sink.close()
    print("\nat 0 ms round trip:")
    for r in runs:
        print(
            f"  {r.name:<44} {r.sent:>6} msgs {r.rate:8.1f} msg/s  {r.cpu_ms:6.3f} ms CPU/msg"
            f"  ({r.connections} conn.; {r.steady:.0f} msg/s once sending)"
        )
    ceiling = runs[1]
    print(
        f"  ours against the prebuilt loop: {ours.rate / ceiling.rate:.2f}x its rate, "
        f"{ours.cpu_ms / ceiling.cpu_ms:.2f}x its CPU per message"
    )
    if merged is not None:
        print(f"  ours against mailmerge: {ours.rate / merged.rate:.1f}x its rate")
    print(f"\nat {args.delay * 1000:g} ms round trip:")
    if merged_far is not None:
        print(
            f"  {merged_far.name:<44} {merged_far.sent:>6} msgs {merged_far.rate:8.1f} msg/s  "
            f"{merged_far.cpu_ms:6.3f} ms CPU/msg"
        )
    for r in wide:
        assert r.limit is not None
        print(
            f"  {r.name:<44} {r.sent:>6} msgs {r.rate:8.1f} msg/s  {r.cpu_ms:6.3f} ms CPU/msg"
            f"  {r.rate / r.limit:4.0%} of its wire limit {r.limit:.0f} msg/s; "
            f"{r.steady / r.limit:4.0%} once sending ({r.steady:.0f} msg/s)"
        )
    if merged_far is not None:
        print(
            f"  ours (pipelining) against mailmerge: {wide[0].rate / merged_far.rate:.1f}x its rate"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
