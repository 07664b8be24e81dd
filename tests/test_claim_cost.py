"""A claim costs the same at 100 and 1,000,000 pending rows: every query it runs is served by an
index that already holds the rows in the order wanted (no sort, no scan of the deliveries), on
SQLite and on PostgreSQL (whose planner is asked with real statistics: a list of 30,000)."""

from __future__ import annotations

from datetime import timedelta

from newsletter.outbox import CLAIM_QUERIES, Outbox, ts
from tests.pg import Opener
from tests.workspace import T0, plan, subs

READERS = 30_000


def test_every_claim_query_reads_an_index_in_order(open_outbox: Opener) -> None:
    with open_outbox() as ob:
        ob.schedule(plan(n=1), replace=False, now=T0)
        (issue,) = ob.due_issues(T0)
        ob.materialize([issue.issue_id], subs(*(f"r{i}@example.com" for i in range(READERS))), T0)
        later = ts(T0 + timedelta(hours=1))
        _plans_read_an_index(ob)  # every row pending: the statistics a pass starts with
        with ob.transaction() as c:  # most sent, a few to retry, a few unknown: a list mid-issue
            c.execute("UPDATE deliveries SET state = 'sent' WHERE id % 3 = 0")
            c.execute(
                "UPDATE deliveries SET state = 'failed-temporary', next_try = ? WHERE id % 97 = 1",
                (later,),
            )
            c.execute(
                "UPDATE deliveries SET state = 'unknown', next_try = ? WHERE id % 89 = 2", (later,)
            )
        _plans_read_an_index(ob)


def _plans_read_an_index(ob: Outbox) -> None:
    sqlite = ob.path is not None
    with ob.transaction() as c:
        c.execute("ANALYZE")
        for query in CLAIM_QUERIES:
            args = (ts(T0),) * query.count("?")
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            rows = c.execute(explain + query + c.row_lock, args).fetchall()
            shown = " | ".join(str(row[-1]) for row in rows)
            if sqlite:
                assert "USING INDEX" in shown or "USING COVERING INDEX" in shown, shown
                assert "TEMP B-TREE" not in shown and "SCAN deliveries" not in shown, shown
                assert "SEARCH s USING COVERING INDEX" in shown, shown  # suppressed? one lookup
            else:  # the index made for it, not the primary key walked past the rows sent
                wanted = ("to_send", "pending") if "'pending'" in query else ("state",)
                assert any(f"Scan using deliveries_{w} on" in shown for w in wanted), shown
                assert "Sort" not in shown and "Seq Scan on deliveries" not in shown, shown
