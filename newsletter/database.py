"""The outbox's two databases behind one small interface, so its SQL is written once.

The outbox writes SQLite's SQL with `?` placeholders; `Postgres` turns those into `%s`, and an
`INTEGER PRIMARY KEY` in a migration into an identity column. Both run `INSERT ... ON CONFLICT
DO NOTHING` and `RETURNING`. What differs stays here: opening, transactions (SQLite's write lock,
PostgreSQL's advisory lock or row locks), bulk loading, and turning each driver's errors into
one-line `OutboxError`s.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

from .config import redacted
from .errors import OutboxBusy, OutboxError

if TYPE_CHECKING:
    import psycopg

RESTORE = "stop the runner and restore a backup (see 'Backing up the outbox' in the README)"
# SQLite's primary result codes that mean more than "something failed".
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26
# The key of PostgreSQL's advisory lock that stands in for SQLite's one write lock.
_WRITE_LOCK = 0x6E6C6F62  # "nlob"


class Cursor(Protocol):
    """What both drivers' cursors offer and the outbox uses."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    """One connection to an outbox, in either database."""

    kind: Literal["sqlite", "postgresql"]
    where: str  # the file, or the URL without a password: what a message names
    row_lock: str  # appended to a claim's SELECT: skip the rows another runner holds
    now_sql: str  # the database's clock as a timestamp text (audit stamps only)
    errors: tuple[type[Exception], ...]

    def execute(self, sql: str, args: Sequence[object] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None: ...

    def load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        """Append many rows to `table`, the fastest way the database has."""

    def ddl(self, statement: str) -> str:
        """A migration's statement, as this database spells it."""

    def ids_loaded(self, table: str) -> None:
        """After rows came in with their ids: new rows get ids above them."""

    def begin(self, exclusive: bool) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    def failure(self, e: Exception) -> OutboxError: ...


def sqlite_failure(where: str, e: sqlite3.Error) -> OutboxError:
    """One line for what SQLite said, naming the file and what to do; the change was rolled back."""
    code = (getattr(e, "sqlite_errorcode", 0) or 0) & 0xFF
    if code in (_BUSY, _LOCKED):
        return OutboxBusy(f"{where}: the outbox is busy ({e}); try again")
    if code == _FULL:
        return OutboxError(
            f"{where}: the disk is full ({e}); the last change was not saved and nothing is"
            " half-recorded: free some space, then run again"
        )
    if code in (_CORRUPT, _NOTADB):
        return OutboxError(f"{where}: the outbox is damaged ({e}); {RESTORE}")
    if code in (_READONLY, _IOERR, _CANTOPEN):
        return OutboxError(
            f"{where}: the outbox cannot be read or written ({e}); check the disk, the file's"
            " permissions and its folder"
        )
    return OutboxError(f"{where}: the outbox failed ({e})")


def is_damage(e: sqlite3.Error) -> bool:
    return (getattr(e, "sqlite_errorcode", 0) & 0xFF) in (_CORRUPT, _NOTADB)


class Sqlite:
    """A SQLite connection in autocommit mode; `begin` takes the write lock first (IMMEDIATE)."""

    kind: Literal["sqlite", "postgresql"] = "sqlite"
    row_lock = ""
    now_sql = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, conn: sqlite3.Connection, where: str) -> None:
        self.conn = conn
        self.where = where

    def execute(self, sql: str, args: Sequence[object] = ()) -> Cursor:
        return self.conn.execute(sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        self.conn.executemany(sql, rows)

    def load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        marks = ", ".join("?" for _ in columns)
        self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def ddl(self, statement: str) -> str:
        return statement

    def ids_loaded(self, table: str) -> None:
        """SQLite's next rowid is always above the largest: nothing to do."""

    def begin(self, exclusive: bool) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        """Undo what is left: after a full disk or an I/O error SQLite has rolled back already."""
        if self.conn.in_transaction:
            with suppress(sqlite3.Error):  # the error that brought us here is the one to report
                self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()

    def failure(self, e: Exception) -> OutboxError:
        assert isinstance(e, sqlite3.Error)
        return sqlite_failure(self.where, e)


@functools.lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    """`?` to `%s`, and a literal `%` kept literal (psycopg reads `%` as a placeholder)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _server(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "the local socket"
    return f"{host}:{parts.port or 5432}"


class Postgres:
    """A psycopg connection in autocommit mode, with explicit transactions.

    `begin(exclusive=True)` takes the outbox's advisory write lock, so the read-then-decide
    changes (scheduling, starting an issue, suppressing, migrating) run one at a time, as under
    SQLite's write lock. Claims, answers and leases pass `exclusive=False`: they lock only the
    rows they touch, and `row_lock` lets a claim skip the rows another runner holds.
    """

    kind: Literal["sqlite", "postgresql"] = "postgresql"
    row_lock = " FOR UPDATE SKIP LOCKED"
    now_sql = "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

    def __init__(self, url: str) -> None:
        import psycopg  # the optional `postgresql` extra: only an outbox that asks for it

        self.where = redacted(url)
        self.server = _server(url)
        self.errors: tuple[type[Exception], ...] = (psycopg.Error,)
        try:
            self.conn: psycopg.Connection[Any] = psycopg.connect(
                url, autocommit=True, connect_timeout=10
            )
        except psycopg.Error as e:
            raise self.failure(e) from None

    def execute(self, sql: str, args: Sequence[object] = ()) -> Cursor:
        if not args:  # no placeholders to fill: psycopg leaves `%` alone
            return self.conn.execute(sql.encode())
        return self.conn.execute(_placeholders(sql), tuple(args))

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(_placeholders(sql), rows)

    def load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def ddl(self, statement: str) -> str:
        return re.sub(
            r"\bINTEGER PRIMARY KEY\b",
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            statement,
        )

    def ids_loaded(self, table: str) -> None:
        self.conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1,"
            f" false) FROM {table}".encode()
        )

    def begin(self, exclusive: bool) -> None:
        self.conn.execute(b"BEGIN")
        if exclusive:
            self.conn.execute(b"SELECT pg_advisory_xact_lock(%d)" % _WRITE_LOCK)

    def commit(self) -> None:
        self.conn.execute(b"COMMIT")

    def rollback(self) -> None:
        import psycopg

        with suppress(psycopg.Error):  # the error that brought us here is the one to report
            self.conn.execute(b"ROLLBACK")

    def close(self) -> None:
        self.conn.close()

    def failure(self, e: Exception) -> OutboxError:
        """One line for what PostgreSQL (or libpq) said, naming the database and what to do."""
        from psycopg import errors as pg

        said = " ".join(str(e).split("\n")[0].split()) or type(e).__name__
        where = self.where
        if isinstance(e, pg.DiskFull):
            return OutboxError(
                f"{where}: the database server's disk is full ({said}); the last change was not"
                " saved: free some space on the server, then run again"
            )
        if isinstance(e, pg.LockNotAvailable | pg.DeadlockDetected | pg.SerializationFailure):
            return OutboxBusy(f"{where}: the outbox is busy ({said}); try again")
        text = str(e).lower()
        if "password" in text and ("authentication" in text or "no password" in text):
            return OutboxError(
                f"{where}: the PostgreSQL server refused the login ({said}); set the password"
                " in the PGPASSWORD environment variable (or ~/.pgpass), never in [outbox] url"
            )
        if "does not exist" in text and "database" in text:
            return OutboxError(
                f"{where}: no such database on {self.server} ({said}); create it (createdb),"
                " or check [outbox] url"
            )
        if isinstance(e, pg.OperationalError) and (
            "connect" in text or "server closed" in text or "timeout" in text
        ):
            # Busy, not broken: a server restarting is back by the loop's next tick.
            return OutboxBusy(
                f"{where}: cannot reach the PostgreSQL server at {self.server} ({said}); start"
                " it or check [outbox] url, then run again"
            )
        if isinstance(e, pg.InsufficientPrivilege):
            return OutboxError(
                f"{where}: the database user may not do this ({said}); grant it the rights on"
                " the outbox's database"
            )
        return OutboxError(f"{where}: the outbox failed ({said})")
