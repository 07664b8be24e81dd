"""A claim costs the same at 100 and 1,000,000 pending rows: every query it runs is served by an
index that already holds the rows in the order wanted (no sort, no scan of the deliveries)."""

from __future__ import annotations

from pathlib import Path

from newsletter.outbox import CLAIM_QUERIES, Outbox, ts
from tests.workspace import T0


def test_every_claim_query_reads_an_index_in_order(tmp_path: Path) -> None:
    with Outbox.open(tmp_path / "o.sqlite3") as ob, ob.transaction() as c:
        for query in CLAIM_QUERIES:
            args = (ts(T0),) * query.count("?")
            plan = " | ".join(row[-1] for row in c.execute("EXPLAIN QUERY PLAN " + query, args))
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (query, plan)
            assert "TEMP B-TREE" not in plan, (query, plan)
            assert "SCAN deliveries" not in plan, (query, plan)
