"""What a claim costs at 100 and at 1,000,000 pending deliveries, on SQLite and on PostgreSQL.

    .venv/bin/python bench/claim_bench.py                 # both databases, 100 and 1,000,000
    .venv/bin/python bench/claim_bench.py --rows 100 200000 --only sqlite

Each size gets a fresh outbox: one issue materialised for that many readers (timed, with the
process's peak memory after it), then `--claims` claims, each its own committed transaction as
a runner makes them; then again with 90% of the issue marked sent (the statistics still those
of its start, as in the middle of a real pass). PostgreSQL runs in a throwaway cluster
(tests/pg.py), or at `--url`.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsletter.model import Email  # noqa: E402
from newsletter.outbox import Outbox, PlannedIssue, SeriesPlan  # noqa: E402
from newsletter.subscribers import Subscriber  # noqa: E402

NOW = datetime(2025, 3, 3, 14, tzinfo=UTC)
PLAN = SeriesPlan(
    slug="bench",
    title="Bench",
    source="bench",
    timezone="UTC",
    local_time="14:00",
    every_weeks=1,
    issues=(PlannedIssue(1, "one", "One", NOW, Email("s", "p", "<p>h</p>", "t")),),
)


def readers(n: int) -> Iterator[Subscriber]:
    for i in range(n):
        yield Subscriber(f"reader{i:07d}@example.com", f"Reader {i}", (("city", "Springfield"),))


def _claims(ob: Outbox, n: int) -> tuple[float, float]:
    """(median, mean) ms per claim over `n` claims: the mean carries PostgreSQL's one-time walk
    over the index entries a mass update left dead, until the first claims mark them so."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        ob.claim(NOW, "<m@bench>")
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), statistics.fmean(times)


Claims = tuple[float, float]


def measure(
    ob: Outbox, rows: int, claims: int, url: str | None = None
) -> tuple[float, float, Claims, Claims, Claims | None]:
    """(materialise seconds, peak MiB after it, ms per claim at the start of the issue, with
    90% of it sent and the statistics still those of the start, and on PostgreSQL (`url`)
    once more after the VACUUM that autovacuum makes)."""
    ob.schedule(PLAN, replace=True, now=NOW)
    ids = [d.issue_id for d in ob.due_issues(NOW)]
    start = time.perf_counter()
    ob.materialize(ids, readers(rows), NOW)
    made = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if ob.path is None:
        with ob.transaction() as c:
            c.execute("ANALYZE deliveries")
    n = min(claims, rows // 20 or 1)
    first = _claims(ob, n)
    with ob.transaction() as c:
        c.execute("UPDATE deliveries SET state = 'sent' WHERE id <= ?", (rows * 9 // 10,))
    late = _claims(ob, n)
    vacuumed = None
    if url is not None:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM deliveries")
        vacuumed = _claims(ob, n)
    return made, peak, first, late, vacuumed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100, 1_000_000])
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--url", help="a PostgreSQL database to use (emptied: a test one)")
    args = parser.parse_args()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="claim-bench-")))
        for kind in ("sqlite", "postgresql"):
            if args.only and kind != args.only:
                continue
            cluster = None
            if kind == "postgresql" and not args.url:
                from tests.pg import start_cluster

                cluster = start_cluster()
                stack.callback(cluster.stop)
            for n in args.rows:
                if kind == "sqlite":
                    ob = Outbox.open(tmp / f"bench-{n}.sqlite3")
                else:
                    url = args.url
                    if cluster is not None:
                        url = stack.enter_context(cluster.database())
                    assert url is not None
                    ob = Outbox.connect(url)
                with ob:
                    made, peak, first, late, vacuumed = measure(
                        ob, n, args.claims, None if kind == "sqlite" else url
                    )
                after = f", vacuumed {vacuumed[0]:.3f} ms" if vacuumed else ""
                print(
                    f"{kind:<10} {n:>9,} pending  materialise {made:6.2f} s  peak RSS"
                    f" {peak:6.1f} MiB  claim {first[0]:.3f} ms (mean {first[1]:.3f}), with 90%"
                    f" sent {late[0]:.3f} ms (mean {late[1]:.3f}){after}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
