"""The outbox: schema and WAL, scheduling and --replace, deliveries and their states; the
tests that take `open_outbox` run on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsletter.errors import OutboxError, SubscriberError
from newsletter.outbox import (
    SCHEMA_VERSION,
    Answer,
    Outbox,
    State,
    parse_ts,
    ts,
)
from newsletter.subscribers import read_subscribers
from tests.pg import Opener
from tests.workspace import T0, WEEK, one_pending, plan, subs


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "outbox.sqlite3"


def test_schema_version_wal_and_tables(db: Path) -> None:
    with Outbox.open(db) as ob:
        assert ob.schema_version() == SCHEMA_VERSION
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"schema_version", "meta", "series", "issues", "deliveries", "suppression"} <= tables
        assert raw.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        raw.close()
    # Opening again applies nothing twice.
    with Outbox.open(db) as ob:
        assert ob.schema_version() == SCHEMA_VERSION


def test_a_newer_schema_is_refused(db: Path) -> None:
    Outbox.open(db).close()
    raw = sqlite3.connect(db)
    raw.execute("INSERT INTO schema_version VALUES (999, 'later')")
    raw.commit()
    raw.close()
    with pytest.raises(OutboxError, match="schema version 999 is newer"):
        Outbox.open(db)


def test_not_a_database_is_a_one_line_error(db: Path) -> None:
    db.write_text("hello, I am not SQLite" * 100)
    with pytest.raises(OutboxError) as err:
        Outbox.open(db)
    assert "not a usable outbox database" in str(err.value)
    assert str(db) in str(err.value)


def test_missing_folder_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(OutboxError, match=r"\[outbox\] path"):
        Outbox.open(tmp_path / "nope" / "outbox.sqlite3")


def test_timestamps_round_trip_and_sort() -> None:
    a = datetime(2025, 3, 9, 6, 59, 59, 999999, tzinfo=UTC)
    b = a + timedelta(microseconds=1)
    assert ts(a) < ts(b)
    assert parse_ts(ts(a)) == a
    with pytest.raises(ValueError):
        ts(datetime(2025, 1, 1))


def test_schedule_twice_is_refused_without_replace(open_outbox: Opener) -> None:
    with open_outbox() as ob:
        first = ob.schedule(plan(), replace=False, now=T0 - WEEK)
        assert first.added == (1, 2, 3)
        assert first.due_now == 0
        with pytest.raises(OutboxError, match=r"already scheduled.*--replace"):
            ob.schedule(plan(tag="v2"), replace=False, now=T0 - WEEK)
        assert [s.subject for s in ob.status()] == ["v1 subject 1", "v1 subject 2", "v1 subject 3"]


def test_replace_never_touches_issues_already_started(open_outbox: Opener) -> None:
    with open_outbox() as ob:
        ob.schedule(plan(n=3), replace=False, now=T0)
        due = ob.due_issues(T0)
        assert [d.number for d in due] == [1]
        ob.materialize([due[0].issue_id], subs("a@example.com"), T0)
        result = ob.schedule(plan(n=2, start=T0 + WEEK, tag="v2"), replace=True, now=T0)
        assert result.kept == (1,)
        assert result.replaced == (2,)
        assert result.removed == (3,)
        status = ob.status()
        assert [(s.number, s.subject) for s in status] == [(1, "v1 subject 1"), (2, "v2 subject 2")]
        assert status[0].send_at == T0  # the started issue kept its time too
        assert status[1].send_at == T0 + 2 * WEEK
        assert ob.stored_issue(due[0].issue_id).email.html == "<p>v1 html 1</p>"


def test_schedule_in_the_past_counts_what_is_due(open_outbox: Opener) -> None:
    with open_outbox() as ob:
        result = ob.schedule(plan(n=5), replace=False, now=T0 + WEEK + timedelta(minutes=1))
        assert result.due_now == 2
        assert [d.number for d in ob.due_issues(T0 + WEEK)] == [1, 2]


def test_materialize_is_once_and_skips_suppressed_and_duplicates(open_outbox: Opener) -> None:
    with open_outbox() as ob:
        ob.schedule(plan(n=2), replace=False, now=T0)
        ob.suppress("Gone@Example.com", reason="test", now=T0)
        ids = [d.issue_id for d in ob.due_issues(T0 + WEEK)]
        people = subs("a@example.com", "gone@example.com", "b@example.com", "A@EXAMPLE.COM")
        assert ob.materialize(ids, people, T0 + WEEK) == {ids[0]: 2, ids[1]: 2}
        assert ob.due_issues(T0 + 2 * WEEK) == []
        assert ob.counts() == {"pending": 4}
        rows = ob.deliveries(ids[0])
        assert [r["email"] for r in rows] == ["a@example.com", "b@example.com"]
        assert rows[0]["name"] == "A"
        # A second call changes nothing: the issues are already started.
        assert ob.materialize(ids, subs("c@example.com"), T0 + WEEK) == {ids[0]: 2, ids[1]: 2}
        assert ob.counts() == {"pending": 4}


def test_a_bad_list_half_way_leaves_no_half_state(open_outbox: Opener, tmp_path: Path) -> None:
    csv = tmp_path / "subscribers.csv"
    good = "".join(f"user{i}@example.com,U{i}\n" for i in range(50))
    csv.write_bytes(b"email,name\n" + good.encode() + b"bad@example.com,J\xf6rg\n")
    with open_outbox() as ob:
        ob.schedule(plan(n=1), replace=False, now=T0)
        ids = [d.issue_id for d in ob.due_issues(T0)]
        with pytest.raises(SubscriberError, match=r"subscribers.csv:52: not UTF-8"):
            ob.materialize(ids, read_subscribers(csv), T0)
        assert ob.counts() == {}
        assert [d.number for d in ob.due_issues(T0)] == [1]  # still due, nothing half-made


def test_claim_marks_sending_with_message_id_committed(open_outbox: Opener) -> None:
    with open_outbox() as ob:
        one_pending(ob, "a@example.com")
        d = ob.claim(T0, "<m1@example.com>")
        assert d is not None
        assert (d.email, d.state, d.message_id) == ("a@example.com", "sending", "<m1@example.com>")
        assert ob.claim(T0, "<m2@example.com>") is None
    # Another connection (another process) sees it: the change was committed.
    with open_outbox() as other:
        (row,) = other.deliveries()
        assert row["state"] == "sending"
        assert row["message_id"] == "<m1@example.com>"


def test_sent_permanent_and_temporary_with_backoff(open_outbox: Opener) -> None:
    delays: list[int] = []

    def delay(attempt: int) -> float:
        delays.append(attempt)
        return 20.0 * 2.0 ** (attempt - 1)

    with open_outbox() as ob:
        one_pending(ob, "ok@example.com", "bad@example.com", "slow@example.com")
        common: dict[str, Any] = {"max_attempts": 3, "retry_delay": delay}
        d1, d2, d3 = (ob.claim(T0, f"<{i}@x>") for i in range(3))
        assert d1 and d2 and d3
        assert ob.record(d1.id, status="sent", code=250, detail="OK", now=T0, **common) == "sent"
        assert (
            ob.record(
                d2.id, status="permanent", code=550, detail="5.1.1 no such user", now=T0, **common
            )
            == "failed-permanent"
        )
        assert (
            ob.record(d3.id, status="temporary", code=451, detail="try later", now=T0, **common)
            == "failed-temporary"
        )
        rows = {r["email"]: r for r in ob.deliveries()}
        assert rows["ok@example.com"]["sent_at"] == ts(T0)
        assert (rows["bad@example.com"]["code"], rows["bad@example.com"]["answer"]) == (
            550,
            "5.1.1 no such user",
        )
        slow = rows["slow@example.com"]
        assert (slow["attempts"], slow["next_try"]) == (1, ts(T0 + timedelta(seconds=20)))
        # Not due before next_try; due after; the retry keeps its Message-ID.
        assert ob.claim(T0 + timedelta(seconds=19), "<new@x>") is None
        again = ob.claim(T0 + timedelta(seconds=20), "<new@x>")
        assert again is not None and again.message_id == "<2@x>"
        ob.record(again.id, status="temporary", code=451, detail="later", now=T0, **common)
        third = ob.claim(T0 + timedelta(hours=1), "<new@x>")
        assert third is not None
        final = ob.record(third.id, status="temporary", code=451, detail="still", now=T0, **common)
        assert final == "failed-permanent"
        slow = {r["email"]: r for r in ob.deliveries()}["slow@example.com"]
        assert slow["attempts"] == 3
        assert slow["answer"] == "gave up after 3 attempts: still"
        assert delays == [1, 2]


def test_recovery_puts_in_flight_rows_back(open_outbox: Opener) -> None:
    with open_outbox() as ob:
        one_pending(ob, "a@example.com", "b@example.com")
        d = ob.claim(T0, "<m@x>")
        assert d is not None
    # "Crash": the connection is gone, the row stays in `sending` (its lease lapses in time).
    with open_outbox() as ob:
        assert ob.recover_in_flight(T0 + timedelta(minutes=2)) == 1
        assert ob.counts() == {"pending": 2}
        again = ob.claim(T0, "<other@x>")
        assert again is not None and again.id == d.id and again.message_id == "<m@x>"


def test_suppression_cancels_queued_and_blocks_claims(open_outbox: Opener) -> None:
    with open_outbox() as ob:
        one_pending(ob, "a@example.com", "b@example.com")
        added, cancelled = ob.suppress("B@example.com", reason="test", now=T0)
        assert (added, cancelled) == (True, 1)
        assert ob.suppress("b@example.com", reason="test", now=T0) == (False, 0)
        assert ob.is_suppressed("b@EXAMPLE.com")
        claimed = []
        while (d := ob.claim(T0, "<m@x>")) is not None:
            claimed.append(d.email)
        assert claimed == ["a@example.com"]
        assert ob.counts() == {"sending": 1, "suppressed": 1}


def test_claim_checks_suppression_even_if_the_row_slipped_through(open_outbox: Opener) -> None:
    with open_outbox() as ob:
        one_pending(ob, "a@example.com")
        with ob.transaction() as c:
            c.execute("INSERT INTO suppression VALUES ('a@example.com', 'a@example.com', 'x', 'n')")
    with open_outbox() as ob:
        assert ob.claim(T0, "<m@x>") is None
        assert ob.counts() == {"suppressed": 1}


def test_parallel_workers_never_claim_the_same_row(open_outbox: Opener) -> None:
    emails = [f"user{i}@example.com" for i in range(300)]
    with open_outbox() as ob:
        one_pending(ob, *emails)
    claimed: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        with open_outbox() as mine:
            while (d := mine.claim(T0, "<m@x>")) is not None:
                with lock:
                    claimed.append(d.email)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(emails)


def test_generated_secret_is_made_once_and_kept(open_outbox: Opener) -> None:
    with open_outbox() as ob:
        first = ob.unsubscribe_secret()
    with open_outbox() as ob:
        assert ob.unsubscribe_secret() == first
    assert len(first) == 64


def test_status_counts_and_phases(open_outbox: Opener) -> None:
    with open_outbox() as ob:
        ob.schedule(plan(n=3), replace=False, now=T0)
        ids = [d.issue_id for d in ob.due_issues(T0)]
        ob.materialize(ids, subs("a@example.com", "b@example.com"), T0)
        d = ob.claim(T0, "<m@x>")
        assert d is not None
        ob.record(
            d.id, status="sent", code=250, detail="ok", now=T0, max_attempts=3, retry_delay=float
        )
        first, second, third = ob.status()
        assert first.counts == {"sent": 1, "pending": 1}
        assert first.phase(T0) == "sending"
        assert second.phase(T0) == "scheduled"
        assert second.phase(T0 + WEEK) == "due"
        assert third.materialized is False
        e = ob.claim(T0, "<n@x>")
        assert e is not None
        ob.record(
            e.id,
            status="permanent",
            code=550,
            detail="no",
            now=T0,
            max_attempts=3,
            retry_delay=float,
        )
        assert ob.status()[0].phase(T0) == "done"
        assert ob.next_send_at() == T0 + WEEK


def test_a_version_1_outbox_upgrades_keeping_each_issues_zone(db: Path) -> None:
    """Schema 2 gives each issue its own zone (from its series), cancelled and catch_up."""
    from newsletter.outbox import MIGRATIONS

    raw = sqlite3.connect(db)
    try:
        raw.executescript(MIGRATIONS[0][1])
        raw.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)")
        raw.execute("INSERT INTO schema_version VALUES (1, ?)", (ts(T0),))
        raw.execute(
            "INSERT INTO series VALUES (1, 'm', 'M', 'm.txt', 'America/New_York', '09:00', 1,"
            " ?, ?)",
            (ts(T0), ts(T0)),
        )
        raw.execute(
            "INSERT INTO issues (series_id, number, slug, title, send_at, subject, preheader, html,"
            " text, created_at) VALUES (1, 1, 'a', 'A', ?, 's', 'p', '<p>h</p>', 't', ?)",
            (ts(T0), ts(T0)),
        )
        raw.execute(
            "INSERT INTO deliveries (issue_id, email, email_key, state, attempts, message_id,"
            " created_at, updated_at) VALUES (1, 'a@x.org', 'a@x.org', 'failed-temporary', 2,"
            " '<m@x.org>', ?, ?)",
            (ts(T0), ts(T0)),
        )
        raw.commit()
    finally:
        raw.close()
    with Outbox.open(db) as ob:
        assert ob.schema_version() == SCHEMA_VERSION
        (row,) = ob.deliveries()  # schema 3 rebuilt the table for `unknown`: the rows stay
        assert (row["state"], row["attempts"], row["message_id"], row["unknowns"]) == (
            "failed-temporary", 2, "<m@x.org>", 0,
        )  # fmt: skip
        (st,) = ob.status()
        assert (st.timezone, st.cancelled, st.local) == (
            "America/New_York",
            False,
            "Mon 2025-03-03 09:00 EST",
        )
        assert [i.number for i in ob.due_issues(T0)] == [1]
        assert st.failed is None and st.phase(T0) == "due"  # schema 4: no issue failed


def test_a_shared_outbox_takes_back_only_lapsed_leases(pg_url: str) -> None:
    """On PostgreSQL another live runner's rows in flight are never taken: only a lease that
    lapsed (its runner died) puts a row back in the queue; a renewed one holds."""
    with Outbox.connect(pg_url, owner="alive", lease_seconds=30) as alive:
        one_pending(alive, "a@example.com", "b@example.com")
        assert alive.claim(T0, "<a@x>") is not None
    with Outbox.connect(pg_url, owner="dead", lease_seconds=30) as dead:
        assert dead.claim(T0, "<b@x>") is not None
    with Outbox.connect(pg_url, owner="alive", lease_seconds=30) as alive:
        assert alive.recover_in_flight(T0 + timedelta(seconds=20)) == 0  # both leases live
        assert alive.renew_leases(T0 + timedelta(seconds=25)) == 1  # only its own
        assert alive.recover_in_flight(T0 + timedelta(seconds=40)) == 1  # the dead one's
        rows = {r["email"]: r for r in alive.deliveries()}
        assert (rows["a@example.com"]["state"], rows["b@example.com"]["state"]) == (
            "sending",
            "pending",
        )
        assert rows["b@example.com"]["message_id"] == "<b@x>"  # kept for the resend


def test_settle_stores_every_answer_then_claims_in_one_transaction(open_outbox: Opener) -> None:
    """Group commit: the answers of several senders and their next claims in one commit."""
    with open_outbox() as ob:
        one_pending(ob, "a@example.com", "b@example.com", "c@example.com", "d@example.com")
        a, b = (ob.claim(T0, f"<m{i}@example.com>") for i in range(2))
        assert a is not None and b is not None
        answers = [
            Answer(a.id, "sent", 250, "OK", T0),
            Answer(b.id, "permanent", 550, "no such user", T0, "bounce 550: no"),
        ]
        states, taken = ob.settle(
            answers, ["<n1@example.com>", "<n2@example.com>", "<n3@example.com>"], now=T0,
            at=T0, max_attempts=3, retry_delay=lambda attempt: 60.0,
        )  # fmt: skip
        assert states == [State.SENT, State.FAILED_PERMANENT]
        assert [d.email if d else None for d in taken] == ["c@example.com", "d@example.com", None]
        assert ob.is_suppressed("b@example.com")
        rows = {r["email"]: r["state"] for r in ob.deliveries()}
        assert rows == {
            "a@example.com": "sent", "b@example.com": "failed-permanent",
            "c@example.com": "sending", "d@example.com": "sending",
        }  # fmt: skip


def test_settle_is_all_or_nothing(open_outbox: Opener) -> None:
    with open_outbox() as ob:
        one_pending(ob, "a@example.com", "b@example.com")
        d = ob.claim(T0, "<m@example.com>")
        assert d is not None
        stray = Answer(d.id + 1, "sent", 250, "OK", T0)  # b's row: never claimed
        with pytest.raises(OutboxError, match="is not being sent"):
            ob.settle(
                [Answer(d.id, "sent", 250, "OK", T0), stray], ["<n@example.com>"], now=T0, at=T0,
                max_attempts=3, retry_delay=lambda attempt: 60.0,
            )  # fmt: skip
        assert sorted(str(r["state"]) for r in ob.deliveries()) == ["pending", "sending"]
