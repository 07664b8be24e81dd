"""Scale benchmark: the whole `newsletter run --once` as a writer runs it, in its own process,
against the counting sink of the benchmarks in another (bench/sink.py), so neither shares an
interpreter with the other. Two comparisons, each in the same run:

- workers: 1 against 2 sender processes (`run --workers`), on the SQLite outbox, and on a
  PostgreSQL outbox when `--postgresql URL` is given;
- list size: the same issue to 1,000 and to 100,000 readers; the sending rate should not depend
  on the list (the target: within 10%).

Each figure is the sending rate at the sink (messages over the time from the first to the last
message: the list's materialisation before the first message is reported apart; "steady" leaves
out the first tenth of the messages, where a short run still warms up), and the CPU
milliseconds per message of the runner and its workers (getrusage of the children). A run stops
at `--max-seconds` of sending (SIGTERM, as systemd would); its rate is then over what it sent.

    .venv/bin/python bench/scale_bench.py [--max-seconds 20] [--connections 4]
        [--postgresql postgresql://127.0.0.1:5432/bench]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from send_bench import queued_workspace  # noqa: E402  (bench/send_bench.py, beside this)
from sink import Sink  # noqa: E402  (bench/sink.py, beside this file)

ISSUE_1 = "2025-03-03T09:00:00+00:00"


@dataclasses.dataclass(frozen=True)
class Result:
    label: str
    sent: int
    sending_seconds: float  # first to last message at the sink
    setup_seconds: float  # from the start of the process to its first message
    cpu_ms: float  # runner and workers, per message
    steady_rate: float  # after the first tenth of the messages

    @property
    def rate(self) -> float:
        return self.sent / self.sending_seconds if self.sending_seconds else 0.0


def measure(
    label: str, *, readers: int, workers: int, connections: int, budget: float,
    outbox_url: str = "",
) -> Result:  # fmt: skip
    """One `run --once` pass to `readers` readers; stopped after `budget` s of sending."""
    sink = Sink()
    with tempfile.TemporaryDirectory() as tmp, contextlib.closing(sink):
        to = (f"reader{i:07d}@example.com" for i in range(readers))
        settings = queued_workspace(Path(tmp), sink.port, to, connections, outbox_url)
        config = settings.source
        env = dict(os.environ, NEWSLETTER_NOW=ISSUE_1, PYTHONPATH=str(ROOT))
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.time()
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "--config", str(config), "run", "--once",
             "--workers", str(workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        while proc.poll() is None:
            time.sleep(0.2)
            n, *_, first, _ = sink.ask()
            if n and time.time() - first > budget:
                proc.send_signal(signal.SIGTERM)
                break
        _, err = proc.communicate(timeout=120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(f"{label}: run failed: {err.decode()[-500:]}")
        n, _, twice, _, first, last = sink.ask()
        if twice:
            raise SystemExit(f"{label}: {twice} reader(s) got the issue more than once")
        ramp = n // 10  # the first tenth warms up (connections, the issue's message, caches)
        steady = sink.ask(f"after {ramp}")[4] if ramp else first
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return Result(
        label, n, last - first, first - started, 1000 * cpu / max(n, 1),
        (n - ramp) / (last - steady) if last > steady else 0.0,
    )  # fmt: skip


def _print(results: list[Result]) -> None:
    print(f"{'':<44} {'sent':>7} {'msg/s':>8} {'steady':>8} {'CPU ms/msg':>11} {'setup s':>8}")
    for r in results:
        print(
            f"{r.label:<44} {r.sent:>7} {r.rate:>8.0f} {r.steady_rate:>8.0f} {r.cpu_ms:>11.2f}"
            f" {r.setup_seconds:>8.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-seconds", type=float, default=20.0, help="sending time per run")
    parser.add_argument("--connections", type=int, default=4, help="[smtp] connections")
    parser.add_argument("--readers", type=int, default=20000, help="list for the workers runs")
    parser.add_argument(
        "--postgresql",
        default="",
        metavar="URL|auto",
        help="also run on this PostgreSQL outbox ('auto': a throwaway cluster, tests/pg.py)",
    )
    parser.add_argument("--only", choices=["workers", "size"], help="run one comparison")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} cores; sink in its own process; {args.connections} connections/worker")

    with contextlib.ExitStack() as stack:
        if args.postgresql == "auto":
            from tests.pg import start_cluster

            cluster = start_cluster()
            stack.callback(cluster.stop)
            args.postgresql = cluster.url
        _compare(args)
    return 0


@contextlib.contextmanager
def _fresh_database(url: str) -> Iterator[str]:
    """An empty database beside the one `url` names (each run queues the series anew)."""
    import psycopg

    name = f"newsletter_bench_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


def _compare(args: argparse.Namespace) -> None:
    budget, conns = args.max_seconds, args.connections
    if args.only != "size":
        print("\n1 and 2 sender processes (run --workers)")
        runs = [("SQLite", "")] + ([("PostgreSQL", args.postgresql)] if args.postgresql else [])
        results = []
        for name, url in runs:
            for w in (1, 2):
                label = f"{name}, {w} worker(s), {args.readers:,} readers"
                with contextlib.ExitStack() as per_run:
                    fresh = per_run.enter_context(_fresh_database(url)) if url else ""
                    one = measure(
                        label, readers=args.readers, workers=w, connections=conns,
                        budget=budget, outbox_url=fresh,
                    )  # fmt: skip
                results.append(one)
        _print(results)
        for i in range(0, len(results), 2):
            one, two = results[i], results[i + 1]
            print(f"{two.label.split(',')[0]}: 2 workers / 1 worker = {two.rate / one.rate:.2f}x")
        if args.postgresql:
            print(f"PostgreSQL / SQLite, 2 workers: {results[3].rate / results[1].rate:.2f}x")

    if args.only != "workers":
        print("\nthe same issue to 1,000 and to 100,000 readers (1 worker)")
        small = measure("1,000 readers", readers=1000, workers=1, connections=conns, budget=budget)
        large = measure(
            "100,000 readers", readers=100_000, workers=1, connections=conns, budget=budget
        )
        _print([small, large])
        for what, few, many in (
            ("first to last message", small.rate, large.rate),
            ("after the first tenth", small.steady_rate, large.steady_rate),
        ):
            ratio = many / few
            verdict = "within 10%" if abs(1 - ratio) <= 0.10 else "NOT within 10%"
            print(f"100,000 / 1,000 readers, {what}: {ratio:.2f}x ({verdict})")


if __name__ == "__main__":
    raise SystemExit(main())
