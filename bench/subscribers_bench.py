"""Peak memory of reading a big subscriber list: streamed vs. held in a list, in the same run.

    .venv/bin/python bench/subscribers_bench.py            # 1,000,000 rows
    .venv/bin/python bench/subscribers_bench.py --rows 200000

Writes a CSV (1% case-variant duplicates, 0.1% invalid rows) to a temporary folder, then runs
each mode in its own child process and reports that process's peak resident memory
(ru_maxrss), so one mode's garbage cannot hide in another's number:

- baseline:    import everything, read nothing
- stream:      iterate `read_subscribers` (validation + SQLite dedupe), keep nothing
- materialize: what `run` does: stream the list into an outbox's deliveries table (SQLite;
               bench/claim_bench.py times it on PostgreSQL too)
- list:        the naive way: `list(read_subscribers(...))`
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODES = ("baseline", "stream", "materialize", "list")


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("email,name,city\n")
        for i in range(rows):
            if i % 1000 == 999:
                f.write(f"broken-address-{i},Broken {i},Nowhere\n")
            elif i % 100 == 50:
                f.write(f"READER{i - 1:07d}@EXAMPLE.COM,Dup {i},Springfield\n")
            else:
                f.write(f"reader{i:07d}@example.com,Reader {i},Springfield\n")


def child(mode: str, csv: Path, workdir: Path) -> dict[str, object]:
    from newsletter.outbox import Outbox
    from newsletter.subscribers import read_subscribers

    warnings = 0

    def count(_: object) -> None:
        nonlocal warnings
        warnings += 1

    start = time.perf_counter()
    rows = 0
    if mode == "stream":
        rows = sum(1 for _ in read_subscribers(csv, on_warning=count))
    elif mode == "list":
        everyone = list(read_subscribers(csv, on_warning=count))
        rows = len(everyone)
    elif mode == "materialize":
        from claim_bench import NOW as now
        from claim_bench import PLAN as plan

        with Outbox.open(workdir / "bench-outbox.sqlite3") as ob:
            ob.schedule(plan, replace=True, now=now)
            ids = [d.issue_id for d in ob.due_issues(now)]
            rows = ob.materialize(ids, read_subscribers(csv, on_warning=count), now)[ids[0]]
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "mode": mode,
        "rows": rows,
        "warnings": warnings,
        "seconds": seconds,
        "peak_kb": peak_kb,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.csv, args.workdir)))
        return 0

    with tempfile.TemporaryDirectory(prefix="subscribers-bench-") as tmp:
        workdir = Path(tmp)
        csv = workdir / "subscribers.csv"
        t = time.perf_counter()
        write_csv(csv, args.rows)
        size_mb = csv.stat().st_size / 1e6
        print(f"wrote {args.rows:,} rows ({size_mb:.1f} MB) in {time.perf_counter() - t:.1f} s")
        results = {}
        for mode in MODES:
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--csv", str(csv), "--workdir", tmp],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            results[mode] = r = json.loads(out)
            print(
                f"{mode:<12} rows {r['rows']:>9,}  warnings {r['warnings']:>7,}  "
                f"{r['seconds']:7.1f} s  peak RSS {r['peak_kb'] / 1024:7.1f} MiB",
                flush=True,
            )
        base = results["baseline"]["peak_kb"]
        over = {m: (results[m]["peak_kb"] - base) / 1024 for m in ("stream", "materialize", "list")}
        print(
            f"above baseline: stream {over['stream']:.1f} MiB, materialize "
            f"{over['materialize']:.1f} MiB, list {over['list']:.1f} MiB "
            f"({over['list'] / max(over['stream'], 0.1):.0f}x the stream)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
