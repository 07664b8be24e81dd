"""`newsletter outbox copy --to postgresql://...` moves a SQLite outbox into an empty PostgreSQL
database: every row, the unsubscribe secret and the suppression list included, in one
transaction; a database that holds an outbox already, or a URL with a password, is refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from newsletter.outbox import Outbox
from tests.workspace import BEFORE, T0, Workspace, one_line_error, one_pending, plan


def _queued(ws: Workspace) -> None:
    with Outbox.open(ws.outbox) as ob:
        one_pending(ob, "a@example.com", "b@example.com", "c@example.com")
        d = ob.claim(T0, "<a@x>")
        assert d is not None
        ob.record(
            d.id, status="sent", code=250, detail="ok", now=T0, max_attempts=3,
            retry_delay=lambda n: 60.0,
        )  # fmt: skip
        ob.suppress("c@example.com", reason="command", now=T0)
        ob.unsubscribe_secret()


def test_the_copy_holds_every_row_and_the_secret_and_goes_on_sending(
    tmp_path: Path, pg_url: str
) -> None:
    ws = Workspace(tmp_path, None)
    _queued(ws)
    code, out, err = ws.cli("outbox", "copy", "--to", pg_url, now=BEFORE)
    assert code == 0, err
    assert "1 series, 1 issues, 3 deliveries, 1 suppressed addresses" in out
    assert f'set [outbox] url = "{pg_url}"' in out
    with Outbox.open(ws.outbox) as old, Outbox.connect(pg_url) as new:
        assert new.deliveries() == old.deliveries()
        assert new.status() == old.status()
        assert new.unsubscribe_secret() == old.unsubscribe_secret()
        assert new.identity()[2] == old.identity()[2]  # the outbox id
        assert new.is_suppressed("c@example.com")
        assert new.claim(T0, "<b@x>") is not None  # sending goes on where it stood
        other = dataclasses.replace(plan(), slug="other", source="posts/other.txt")
        one_more = new.schedule(other, replace=False, now=T0)
        assert one_more.added  # new rows get ids above the copied ones


def test_a_database_holding_an_outbox_is_refused_and_left_alone(
    tmp_path: Path, pg_url: str
) -> None:
    ws = Workspace(tmp_path, None)
    _queued(ws)
    assert ws.cli("outbox", "copy", "--to", pg_url, now=BEFORE)[0] == 0
    line = one_line_error(*ws.cli("outbox", "copy", "--to", pg_url, now=BEFORE)[::2])
    assert "already holds an outbox; nothing was copied" in line
    with Outbox.connect(pg_url) as new:
        assert len(new.deliveries()) == 3


def test_a_password_in_the_url_is_refused_without_showing_it(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    _queued(ws)
    code, _, err = ws.cli(
        "outbox", "copy", "--to", "postgresql://news:s3cret@127.0.0.1/news", now=BEFORE
    )
    line = one_line_error(code, err, status=2)
    assert "PGPASSWORD" in line and "s3cret" not in line
