"""The outbox: a SQLite file (or, at [outbox] url, a PostgreSQL database several machines share)
that is the single source of truth for what was sent to whom.

Scheduled issues keep their rendered subject, preheader, HTML and text (rendered once, at
schedule time). Each (issue, recipient) pair is one delivery row whose state only moves forward:

    pending -> sending -> sent | failed-temporary (-> sending again) | failed-permanent | unknown
    pending | failed-temporary | unknown -> suppressed   (the address unsubscribed meanwhile)

`unknown`: the body went out but no final reply came, so the reader may have it. It is retried
once, on a later pass, with the same Message-ID; a second `unknown` is left for the writer.

Every state change is its own committed transaction, and a delivery is marked `sending` before
its bytes go to the SMTP server, so a crash can leave only the in-flight rows in doubt. A claim
is a lease (`claimed_by` until `lease_until`): on PostgreSQL only a lapsed one is taken back.
WAL mode lets the workers (one connection each) and a `status` reader work side by side.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from .config import Settings, redacted
from .database import RESTORE, Database, Postgres, Sqlite, is_damage, sqlite_failure
from .errors import OutboxError
from .model import Email
from .readers.fetch import is_url
from .schedule_plan import format_local
from .subscribers import Subscriber, email_key

if TYPE_CHECKING:
    from .mailer import SendStatus


class State(StrEnum):
    """Where one delivery stands; the values are what the deliveries table stores."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED_TEMPORARY = "failed-temporary"
    FAILED_PERMANENT = "failed-permanent"
    SUPPRESSED = "suppressed"
    UNKNOWN = "unknown"


# Not finished: still to send, being sent, or to be retried.
WAITING = (State.PENDING, State.SENDING, State.FAILED_TEMPORARY)
Phase = Literal["scheduled", "due", "sending", "done", "unknown", "cancelled", "failed"]
SeriesState = Literal["scheduled", "sending", "started", "done", "cancelled"]

ANSWER_MAX = 1000
SUPPRESS_REASON_MAX = 300
# A refused address's suppression reason starts so, as a bounce report's does: "bounce 550: ...".
BOUNCE_REASON = "bounce"

# Ordered migrations: (version, statements). Append new versions; never edit an applied one.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE series (
            id          INTEGER PRIMARY KEY,
            slug        TEXT NOT NULL UNIQUE,
            title       TEXT NOT NULL,
            source      TEXT NOT NULL,
            timezone    TEXT NOT NULL,
            local_time  TEXT NOT NULL,
            every_weeks INTEGER NOT NULL,
            created_at  TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        );
        CREATE TABLE issues (
            id              INTEGER PRIMARY KEY,
            series_id       INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
            number          INTEGER NOT NULL,
            slug            TEXT NOT NULL,
            title           TEXT NOT NULL,
            send_at         TEXT NOT NULL,
            subject         TEXT NOT NULL,
            preheader       TEXT NOT NULL,
            html            TEXT NOT NULL,
            text            TEXT NOT NULL,
            materialized_at TEXT,
            recipients      INTEGER,
            created_at      TEXT NOT NULL,
            UNIQUE (series_id, number)
        );
        CREATE INDEX issues_due ON issues (materialized_at, send_at);
        CREATE TABLE deliveries (
            id         INTEGER PRIMARY KEY,
            issue_id   INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
            email      TEXT NOT NULL,
            email_key  TEXT NOT NULL,
            name       TEXT,
            fields     TEXT,
            state      TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent',
                           'failed-temporary', 'failed-permanent', 'suppressed')),
            attempts   INTEGER NOT NULL DEFAULT 0,
            next_try   TEXT,
            message_id TEXT,
            code       INTEGER,
            answer     TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sent_at    TEXT,
            UNIQUE (issue_id, email_key)
        );
        CREATE INDEX deliveries_state ON deliveries (state, next_try);
        CREATE INDEX deliveries_key ON deliveries (email_key, state);
        CREATE TABLE suppression (
            email_key  TEXT PRIMARY KEY,
            email      TEXT NOT NULL,
            reason     TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
    ),
    (
        2,
        # Each issue keeps the zone it was queued in (a --replace of the rest never relabels
        # one already sent); `unschedule` marks issues cancelled; a --catch-up series starts
        # at most one missed issue per pass.
        """
        ALTER TABLE issues ADD COLUMN timezone TEXT;
        UPDATE issues SET timezone = (SELECT timezone FROM series WHERE series.id = series_id);
        ALTER TABLE issues ADD COLUMN cancelled_at TEXT;
        ALTER TABLE series ADD COLUMN catch_up INTEGER NOT NULL DEFAULT 0
        """,
    ),
    (
        3,
        # `unknown`: no final reply after the body. SQLite cannot change a CHECK constraint, so
        # the table is rebuilt; `unknowns` counts those answers (one retry, then the writer's).
        """
        CREATE TABLE deliveries_v3 (
            id         INTEGER PRIMARY KEY,
            issue_id   INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
            email      TEXT NOT NULL,
            email_key  TEXT NOT NULL,
            name       TEXT,
            fields     TEXT,
            state      TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent',
                           'failed-temporary', 'failed-permanent', 'suppressed', 'unknown')),
            attempts   INTEGER NOT NULL DEFAULT 0,
            next_try   TEXT,
            message_id TEXT,
            code       INTEGER,
            answer     TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sent_at    TEXT,
            unknowns   INTEGER NOT NULL DEFAULT 0,
            UNIQUE (issue_id, email_key)
        );
        INSERT INTO deliveries_v3 (id, issue_id, email, email_key, name, fields, state, attempts,
            next_try, message_id, code, answer, created_at, updated_at, sent_at)
            SELECT id, issue_id, email, email_key, name, fields, state, attempts, next_try,
            message_id, code, answer, created_at, updated_at, sent_at FROM deliveries;
        DROP TABLE deliveries;
        ALTER TABLE deliveries_v3 RENAME TO deliveries;
        CREATE INDEX deliveries_state ON deliveries (state, next_try);
        CREATE INDEX deliveries_key ON deliveries (email_key, state)
        """,
    ),
    (
        4,
        # An issue that cannot be built is failed with its reason, alone: the others still go.
        """
        ALTER TABLE issues ADD COLUMN failed TEXT
        """,
    ),
    (
        5,
        # A claim costs the same at 100 and 1,000,000 pending rows: each of its queries reads
        # one index entry, already in the order it wants (tests/test_claim_cost.py).
        """
        CREATE INDEX deliveries_pending ON deliveries (state, id);
        DROP INDEX deliveries_state;
        CREATE INDEX deliveries_state ON deliveries (state, next_try, id)
        """,
    ),
    (
        6,
        # A claim is a lease: `claimed_by` (a runner) holds the row until `lease_until`, and
        # renews it while it sends; a dead runner's rows go back to the queue when it lapses.
        """
        ALTER TABLE deliveries ADD COLUMN lease_until TEXT;
        ALTER TABLE deliveries ADD COLUMN claimed_by TEXT
        """,
    ),
    (
        7,
        # The pending rows alone, by id. PostgreSQL, on the statistics of a list not sent yet,
        # walked the primary key instead of (state, id), past every row sent since; this one it
        # takes. SQLite keeps to (state, id), which it prefers.
        """
        CREATE INDEX deliveries_to_send ON deliveries (id) WHERE state = 'pending'
        """,
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
# An `unknown` delivery due its one retry, recorded before the pass at `?` (twice) began.
_UNKNOWN_DUE = "state = 'unknown' AND next_try <= ? AND updated_at < ?"
# The claim's queries, tried in turn: pending first, then due retries, then due unknowns (each
# recorded before this pass began: never again in the same one). Each is served by an index.
# The next delivery to claim, in this order, with whether its address is suppressed by now.
_CLAIMED = (
    "SELECT id, EXISTS (SELECT 1 FROM suppression s WHERE s.email_key = deliveries.email_key)"
    " FROM deliveries WHERE "
)
CLAIM_QUERIES = (
    _CLAIMED + "state = 'pending' ORDER BY id LIMIT 1",
    _CLAIMED + "state = 'failed-temporary' AND next_try <= ? ORDER BY next_try, id LIMIT 1",
    _CLAIMED + f"{_UNKNOWN_DUE} ORDER BY next_try, id LIMIT 1",
)
_DELIVERY_COLUMNS = "id, issue_id, email, name, fields, state, attempts, message_id"
_STORED_ISSUE = (  # the columns of a StoredIssue, then of its Email, in field order
    "SELECT i.id, s.slug, i.number, i.slug, i.title, i.subject, i.preheader, i.html, i.text"
    " FROM issues i JOIN series s ON s.id = i.series_id"
)


# Where `materialize` puts the list before joining it with the due issues (one scratch table per
# connection, emptied after use).
_INCOMING_COLUMNS = ("seq", "email", "email_key", "name", "fields")
_INCOMING = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS incoming (seq INTEGER PRIMARY KEY, email TEXT NOT NULL,"
    " email_key TEXT NOT NULL, name TEXT, fields TEXT)"
)


_FIELDS_JSON = json.JSONEncoder(ensure_ascii=False).encode  # one encoder for a million rows


def _incoming_rows(subscribers: Iterable[Subscriber]) -> Iterator[tuple[object, ...]]:
    for seq, sub in enumerate(subscribers):
        fields = _FIELDS_JSON(dict(sub.fields)) if sub.fields else None
        yield (seq, sub.email, sub.key, sub.name, fields)


# What `outbox copy` moves, parents first (schema_version is the target's own, made at connect).
COPIED_TABLES = ("meta", "series", "issues", "deliveries", "suppression")


class _Counted:
    """Rows passed through, counted."""

    def __init__(self, rows: Iterable[Sequence[object]]) -> None:
        self.rows = rows
        self.n = 0

    def __iter__(self) -> Iterator[Sequence[object]]:
        for row in self.rows:
            self.n += 1
            yield row


def ts(moment: datetime) -> str:
    """A UTC timestamp that sorts as text: 2025-03-10T13:00:00.000000Z."""
    if moment.tzinfo is None:
        raise ValueError("outbox times must be timezone-aware")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_ts(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _delivery_from(row: Sequence[Any]) -> Delivery:
    """A Delivery from the `_DELIVERY_COLUMNS` of its row."""
    fields = tuple(json.loads(row[4]).items()) if row[4] else ()
    return Delivery(row[0], row[1], row[2], row[3], fields, State(row[5]), row[6], row[7])


def post_identity(source: str) -> str:
    """What makes a series the same series: its post's URL, or its path resolved (a relative
    path an older outbox kept against the current folder), never its title."""
    return source if is_url(source) else str(Path(source).resolve())


def same_post(stored: str, source: str) -> bool:
    """Whether a series queued from `stored` is the post at `source`: a series is its post, so
    a retitled post is still the same series."""
    return post_identity(stored) == post_identity(source)


def _free_slug(slug: str, taken: set[str]) -> str:
    """`slug`, or `slug-2`, `slug-3`…: another post with the same title is another series."""
    n, name = 1, slug
    while name in taken:
        n += 1
        name = f"{slug}-{n}"
    return name


def outbox_path(settings: Settings) -> Path:
    return settings.path(settings.outbox.path)


def open_outbox(settings: Settings, *, create: bool = True, owner: str | None = None) -> Outbox:
    """The outbox the settings name: the PostgreSQL database at [outbox] url when it is set,
    else the SQLite file at [outbox] path."""
    lease = settings.outbox.lease_seconds
    if settings.outbox.url:
        return Outbox.connect(settings.outbox.url, create=create, owner=owner, lease_seconds=lease)
    return Outbox.open(outbox_path(settings), create=create, owner=owner, lease_seconds=lease)


def outbox_where(settings: Settings) -> str:
    """The outbox as a message names it: the file, or the URL without a password."""
    return redacted(settings.outbox.url) if settings.outbox.url else str(outbox_path(settings))


def has_outbox(settings: Settings) -> bool:
    """Whether there is an outbox yet (a command that only reads one has nothing to do if not)."""
    if not settings.outbox.url:
        return outbox_path(settings).exists()
    with Outbox(Postgres(settings.outbox.url), None) as outbox:  # looked at, not migrated
        return outbox.holds_outbox()


def gone(path: Path) -> OutboxError:
    return OutboxError(
        f"{path}: the outbox is gone (deleted or moved while running); nothing more was sent"
        f" and no new outbox was made: put it back or {RESTORE}, then run again"
    )


def replaced(path: Path) -> OutboxError:
    return OutboxError(
        f"{path}: the outbox was replaced by another file while running; nothing more was sent:"
        " stop every runner, check which file is the right one, then run again"
    )


def _suppress_in(c: Database, delivery_id: int, reason: str, stamp: str) -> None:
    """Put a delivery's address on the suppression list and cancel its other queued rows."""
    c.execute(
        "INSERT INTO suppression (email_key, email, reason, created_at)"
        " SELECT email_key, email, ?, ? FROM deliveries WHERE id = ? ON CONFLICT DO NOTHING",
        (reason[:SUPPRESS_REASON_MAX], stamp, delivery_id),
    )
    c.execute(
        "UPDATE deliveries SET state = 'suppressed', updated_at = ? WHERE email_key ="
        " (SELECT email_key FROM deliveries WHERE id = ?) AND (state IN ('pending',"
        " 'failed-temporary') OR (state = 'unknown' AND next_try IS NOT NULL))",
        (stamp, delivery_id),
    )


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guarded(
    method: Callable[Concatenate[Outbox, _P], _R],
) -> Callable[Concatenate[Outbox, _P], _R]:
    """The database's errors (a full disk, a damaged page, a server gone) become one
    OutboxError naming the file or the database."""

    @functools.wraps(method)
    def wrapper(self: Outbox, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except self._db.errors as e:
            raise self._db.failure(e) from None

    return wrapper


@dataclass(frozen=True)
class PlannedIssue:
    """One issue as `schedule` queues it: its send time and its rendered content."""

    number: int
    slug: str
    title: str
    send_at: datetime
    email: Email


@dataclass(frozen=True)
class SeriesPlan:
    slug: str
    title: str
    source: str
    timezone: str
    local_time: str
    every_weeks: int
    issues: tuple[PlannedIssue, ...]
    catch_up: bool = False


@dataclass(frozen=True)
class ScheduleResult:
    """What `schedule` did; `kept` are issues left alone because sending had already begun."""

    series_slug: str
    retitled_from: str | None = None  # the title the series had, when the post's has changed
    added: tuple[int, ...] = ()
    replaced: tuple[int, ...] = ()
    kept: tuple[int, ...] = ()
    removed: tuple[int, ...] = ()
    due_now: int = 0


@dataclass(frozen=True)
class StoredIssue:
    """A queued issue and its email, as rendered at schedule time."""

    issue_id: int
    series_slug: str
    number: int
    slug: str
    title: str
    email: Email

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> StoredIssue:
        """From the columns `_STORED_ISSUE` selects, in its order."""
        issue_id, series_slug, number, slug, title, *email = row
        return cls(issue_id, series_slug, number, slug, title, Email(*email))


@dataclass(frozen=True)
class Answer:
    """What the server said to one delivery, at `at`, for `Outbox.record` and `Outbox.settle`;
    `suppress` is the reason to put the address on the suppression list (a refused address)."""

    delivery_id: int
    status: SendStatus
    code: int | None
    detail: str
    at: datetime
    suppress: str | None = None


@dataclass(frozen=True)
class Delivery:
    id: int
    issue_id: int
    email: str
    name: str | None
    fields: tuple[tuple[str, str], ...]
    state: State
    attempts: int
    message_id: str | None


@dataclass(frozen=True)
class IssueStatus:
    series_slug: str
    series_title: str
    timezone: str
    number: int
    title: str
    subject: str
    send_at: datetime
    materialized: bool
    counts: dict[str, int] = field(default_factory=dict)
    cancelled: bool = False
    series_source: str = ""  # the post the series was queued from (its identity)
    failed: str | None = None  # why the issue could not be built (then nothing was sent)

    def count(self, state: State) -> int:
        return self.counts.get(state, 0)

    @property
    def waiting(self) -> int:
        """Deliveries not finished yet: pending, in flight, or to be retried."""
        return sum(self.count(s) for s in WAITING)

    @property
    def local(self) -> str:
        """The send time as the writer reads it, in the series' own zone."""
        return format_local(self.send_at, ZoneInfo(self.timezone))

    def phase(self, now: datetime) -> Phase:
        """scheduled | due | sending | done | unknown | cancelled | failed: where this issue
        stands at `now`.

        `unknown`: nothing left to send, but some readers may or may not have the message."""
        if self.cancelled:
            return "cancelled"
        if self.failed is not None:
            return "failed"
        if not self.materialized:
            return "due" if self.send_at <= now else "scheduled"
        if self.waiting:
            return "sending"
        return "unknown" if self.count(State.UNKNOWN) else "done"


DEFAULT_LEASE = 60.0  # seconds: [outbox] lease_seconds
# Whose claims this process makes: every connection of one runner (its threads, its forked
# sender processes) renews the same leases; another process, here or elsewhere, is another.
RUNNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Outbox:
    """One connection to the outbox (a SQLite file, or a PostgreSQL database): open one per unit
    of work (a command, a worker).

    `owner` names the runner whose claims this connection makes, so its leases can be renewed
    together; `lease_seconds` is how long a claim holds without renewal.
    """

    def __init__(
        self,
        db: Database,
        path: Path | None,
        *,
        owner: str | None = None,
        lease_seconds: float = DEFAULT_LEASE,
    ) -> None:
        self._db = db
        self.path = path  # the SQLite file; None for PostgreSQL
        self.where = db.where
        self.owner = owner or RUNNER
        self.lease = timedelta(seconds=lease_seconds)
        self._identity = (0, 0)

    @property
    def shared(self) -> bool:
        """Whether runners on other machines may use this outbox too (PostgreSQL): then only a
        lapsed lease says a row in flight was abandoned."""
        return self._db.kind == "postgresql"

    def _stat(self) -> tuple[int, int]:
        if self.path is None:
            return (0, 0)
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise gone(self.path) from None
        except OSError as e:
            raise OutboxError(f"{self.where}: cannot read the outbox ({e.strerror})") from None
        return st.st_dev, st.st_ino

    def check_in_place(self) -> None:
        """Stop if the file at `path` is no longer the one this connection writes to.

        A deleted outbox lives on, unlinked, for as long as it is open: sending into it would
        record nothing anyone can read.
        """
        if self.path is not None and self._stat() != self._identity:
            raise replaced(self.path)

    @_guarded
    def identity(self) -> tuple[int, int, str]:
        """The file (device, inode) and the outbox's own id: a run checks it on every pass."""
        self.check_in_place()
        return (*self._identity, self.meta("outbox_id", lambda: secrets.token_hex(16)))

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        create: bool = True,
        owner: str | None = None,
        lease_seconds: float = DEFAULT_LEASE,
    ) -> Outbox:
        """Connect (WAL, foreign keys, a patient busy timeout) and bring the schema up to date."""
        if not create and not path.exists():
            raise OutboxError(f"{path}: no outbox yet; queue a series with 'newsletter schedule'")
        if not path.parent.is_dir():
            raise OutboxError(
                f"{path}: its folder does not exist; create it or change [outbox] path"
            )
        # mode=rw: a file deleted since the check above is an error, never a new empty outbox.
        uri = f"file:{quote(str(path.absolute()))}?mode={'rwc' if create else 'rw'}"
        try:
            conn = sqlite3.connect(uri, timeout=30, isolation_level=None, uri=True)
        except sqlite3.Error as e:
            raise OutboxError(f"{path}: cannot open the outbox ({e})") from None
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            outbox = cls(Sqlite(conn, str(path)), path, owner=owner, lease_seconds=lease_seconds)
            outbox._migrate()
            outbox._identity = outbox._stat()
        except sqlite3.DatabaseError as e:
            conn.close()
            if not is_damage(e):
                raise sqlite_failure(str(path), e) from None
            raise OutboxError(
                f"{path}: not a usable outbox database ({e}); move it away or change [outbox]"
                f" path, or {RESTORE}"
            ) from None
        except BaseException:
            conn.close()
            raise
        return outbox

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        create: bool = True,
        owner: str | None = None,
        lease_seconds: float = DEFAULT_LEASE,
    ) -> Outbox:
        """Connect to a PostgreSQL outbox (the password, if any, from PGPASSWORD) and bring its
        schema up to date; `create=False` refuses a database that holds no outbox yet."""
        db = Postgres(url)
        outbox = cls(db, None, owner=owner, lease_seconds=lease_seconds)
        try:
            if not create and not outbox.holds_outbox():
                raise OutboxError(
                    f"{db.where}: no outbox in this database yet; queue a series with"
                    " 'newsletter schedule' or move one here with 'newsletter outbox copy'"
                )
            outbox._migrate()
        except BaseException:
            db.close()
            raise
        return outbox

    @_guarded
    def holds_outbox(self) -> bool:
        """Whether the database has an outbox's tables (PostgreSQL; a SQLite file always does)."""
        if self._db.kind == "sqlite":
            return True
        return self._db.execute("SELECT to_regclass('schema_version')").fetchone()[0] is not None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self, *, exclusive: bool = True) -> Iterator[Database]:
        """BEGIN ... COMMIT, the write lock taken first, so two writers never deadlock.

        `exclusive=False` (PostgreSQL) locks only the rows the statements touch: for the claims,
        answers and leases that runners on many machines make at once.
        """
        db = self._db
        try:
            db.begin(exclusive)
        except db.errors as e:
            raise db.failure(e) from None
        try:
            yield db
            db.commit()
        except BaseException as e:
            db.rollback()
            if isinstance(e, db.errors):
                raise db.failure(e) from None
            raise

    def _migrate(self) -> None:
        with self.transaction() as c:  # the write lock: one process migrates at a time
            c.execute(
                c.ddl(
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
                )
            )
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise OutboxError(
                f"{self.where}: outbox schema version {current} is newer than this program "
                f"understands ({SCHEMA_VERSION}); upgrade newsletter"
            )
        for version, script in MIGRATIONS:
            if version <= current:
                continue
            with self.transaction() as c:
                if self.schema_version() >= version:  # another process got here first
                    continue
                for statement in script.split(";"):
                    if statement.strip():
                        c.execute(c.ddl(statement))
                # An audit stamp only; nothing depends on it, so the database's clock is fine.
                c.execute(f"INSERT INTO schema_version VALUES (?, {c.now_sql})", (version,))

    @_guarded
    def schema_version(self) -> int:
        row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    # -- meta -----------------------------------------------------------------------------------

    @_guarded
    def meta(self, key: str, default: Callable[[], str]) -> str:
        """The stored value of `key`, storing `default()` first when there is none."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return str(row[0])
        with self.transaction() as c:
            c.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT DO NOTHING", (key, default()))
            row = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0])

    def unsubscribe_secret(self) -> str:
        """The generated HMAC secret, created once (used when NEWSLETTER_SECRET is unset)."""
        return self.meta("unsubscribe_secret", lambda: secrets.token_hex(32))

    # -- scheduling -----------------------------------------------------------------------------

    @_guarded
    def schedule(self, plan: SeriesPlan, *, replace: bool, now: datetime) -> ScheduleResult:
        """Queue a series, known by its post (`plan.source`), not its title; with `replace`,
        swap in place only the issues whose sending has not begun."""
        stamp = ts(now)
        added: list[int] = []
        replaced: list[int] = []
        kept: list[int] = []
        removed: list[int] = []
        with self.transaction() as c:
            known = c.execute("SELECT id, slug, source, title FROM series ORDER BY id").fetchall()
            found = next((r for r in known if same_post(r[2], plan.source)), None)
            row = None if found is None else (found[0],)
            others = {r[1] for r in known if r is not found}
            slug = _free_slug(plan.slug, others)  # a retitled post's series takes its new name
            name = slug if found is None else str(found[1])  # the name it is queued under now
            live = 0
            if row is not None:
                live = c.execute(
                    "SELECT COUNT(*) FROM issues WHERE series_id = ? AND cancelled_at IS NULL",
                    (row[0],),
                ).fetchone()[0]
            c.execute(  # the id a run checks its file against; made with the outbox
                "INSERT INTO meta VALUES ('outbox_id', ?) ON CONFLICT DO NOTHING",
                (secrets.token_hex(16),),
            )
            if live and not replace:  # a series unscheduled in full may be queued again
                assert row is not None
                count, first = c.execute(
                    "SELECT COUNT(*), MIN(send_at) FROM issues WHERE series_id = ?"
                    " AND cancelled_at IS NULL",
                    (row[0],),
                ).fetchone()
                when = f", first {parse_ts(first):%Y-%m-%d %H:%M} UTC" if first else ""
                raise OutboxError(
                    f"{self.where}: {plan.source} is already scheduled as '{name}' ({count} "
                    f"issues{when}); add --replace to replace the issues not sent yet"
                )
            about = (
                plan.title,
                plan.source,
                plan.timezone,
                plan.local_time,
                plan.every_weeks,
                int(plan.catch_up),
            )
            if row is None:
                series_id = c.execute(
                    "INSERT INTO series (slug, title, source, timezone, local_time, every_weeks,"
                    " catch_up, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " RETURNING id",
                    (slug, *about, stamp, stamp),
                ).fetchone()[0]
            else:
                series_id = row[0]
                c.execute(
                    "UPDATE series SET slug = ?, title = ?, source = ?, timezone = ?,"
                    " local_time = ?, every_weeks = ?, catch_up = ?, updated_at = ? WHERE id = ?",
                    (slug, *about, stamp, series_id),
                )
            existing = {
                number: (issue_id, started is not None)
                for issue_id, number, started in c.execute(
                    "SELECT id, number, materialized_at FROM issues WHERE series_id = ?",
                    (series_id,),
                )
            }
            for issue in plan.issues:
                email = issue.email
                values = (
                    issue.slug,
                    issue.title,
                    ts(issue.send_at),
                    plan.timezone,
                    email.subject,
                    email.preheader,
                    email.html,
                    email.text,
                )
                old = existing.pop(issue.number, None)
                if old is None:
                    c.execute(
                        "INSERT INTO issues (series_id, number, slug, title, send_at, timezone,"
                        " subject, preheader, html, text, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (series_id, issue.number, *values, stamp),
                    )
                    added.append(issue.number)
                elif old[1]:
                    kept.append(issue.number)
                else:
                    c.execute(
                        "UPDATE issues SET slug = ?, title = ?, send_at = ?, timezone = ?,"
                        " subject = ?, preheader = ?, html = ?, text = ?, cancelled_at = NULL,"
                        " failed = NULL WHERE id = ?",
                        (*values, old[0]),
                    )
                    replaced.append(issue.number)
            for number, (issue_id, started) in sorted(existing.items()):
                if started:
                    kept.append(number)
                else:
                    c.execute("DELETE FROM issues WHERE id = ?", (issue_id,))
                    removed.append(number)
            due = c.execute(
                "SELECT COUNT(*) FROM issues WHERE series_id = ? AND materialized_at IS NULL"
                " AND cancelled_at IS NULL AND send_at <= ?",
                (series_id, stamp),
            ).fetchone()[0]
        return ScheduleResult(
            series_slug=slug,
            retitled_from=found[3] if found and found[3] != plan.title else None,
            added=tuple(added),
            replaced=tuple(replaced),
            kept=tuple(sorted(kept)),
            removed=tuple(removed),
            due_now=int(due),
        )

    @_guarded
    def status(self) -> list[IssueStatus]:
        """Every scheduled issue, in send order, with its deliveries counted by state."""
        rows = self._db.execute(
            "SELECT i.id, s.slug, s.title, COALESCE(i.timezone, s.timezone), i.number, i.title,"
            " i.subject, i.send_at, i.materialized_at, i.cancelled_at, s.source, i.failed"
            " FROM issues i JOIN series s ON s.id = i.series_id"
            " ORDER BY i.send_at, s.slug, i.number"
        ).fetchall()
        counts: dict[int, dict[str, int]] = {}
        for issue_id, state, n in self._db.execute(
            "SELECT issue_id, state, COUNT(*) FROM deliveries GROUP BY issue_id, state"
        ):
            counts.setdefault(issue_id, {})[state] = n
        return [
            IssueStatus(
                series_slug=row[1],
                series_title=row[2],
                timezone=row[3],
                number=row[4],
                title=row[5],
                subject=row[6],
                send_at=parse_ts(row[7]),
                materialized=row[8] is not None,
                counts=counts.get(row[0], {}),
                cancelled=row[9] is not None,
                series_source=row[10],
                failed=row[11],
            )
            for row in rows
        ]

    @_guarded
    def unschedule(self, slug: str, *, now: datetime) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Cancel every issue of series `slug` whose sending has not begun.

        Returns (cancelled, left alone because sending had begun). Issues not started have no
        deliveries yet, so nothing else changes; a series unknown here is an error.
        """
        with self.transaction() as c:
            row = c.execute("SELECT id FROM series WHERE slug = ?", (slug,)).fetchone()
            if row is None:
                known = [r[0] for r in c.execute("SELECT slug FROM series ORDER BY slug")]
                listed = ", ".join(known) if known else "none"
                raise OutboxError(
                    f"{self.where}: no series '{slug}' in the outbox (queued: {listed}); "
                    "'newsletter status' names them"
                )
            cancelled, started = [], []
            for issue_id, number, materialized, gone in c.execute(
                "SELECT id, number, materialized_at, cancelled_at FROM issues"
                " WHERE series_id = ? ORDER BY number",
                (row[0],),
            ).fetchall():
                if materialized is not None:
                    started.append(number)
                elif gone is None:
                    c.execute(
                        "UPDATE issues SET cancelled_at = ? WHERE id = ?", (ts(now), issue_id)
                    )
                    cancelled.append(number)
        return tuple(cancelled), tuple(started)

    @_guarded
    def due_issues(self, now: datetime) -> list[StoredIssue]:
        """Issues whose time has come and whose deliveries are not created yet (oldest first)."""
        rows = self._db.execute(
            _STORED_ISSUE.replace(" FROM", ", s.catch_up FROM", 1)
            + " WHERE i.materialized_at IS NULL AND i.cancelled_at IS NULL AND i.failed IS NULL"
            " AND i.send_at <= ?"
            " ORDER BY i.send_at, i.id",
            (ts(now),),
        ).fetchall()
        found, caught_up = [], set()
        for *row, catch_up in rows:
            issue = StoredIssue.from_row(row)
            if catch_up:  # --catch-up: the missed issues go one per pass, oldest first
                if issue.series_slug in caught_up:
                    continue
                caught_up.add(issue.series_slug)
            found.append(issue)
        return found

    @_guarded
    def fail_issue(self, issue_id: int, reason: str) -> None:
        """Mark an issue that cannot be built failed, with why; it is never started, and a
        `schedule --replace` of its post clears it."""
        with self.transaction() as c:
            c.execute(
                "UPDATE issues SET failed = ? WHERE id = ? AND materialized_at IS NULL",
                (reason[:ANSWER_MAX], issue_id),
            )

    @_guarded
    def stored_issue(self, issue_id: int) -> StoredIssue:
        row = self._db.execute(_STORED_ISSUE + " WHERE i.id = ?", (issue_id,)).fetchone()
        if row is None:
            raise OutboxError(f"{self.where}: issue {issue_id} is missing from the outbox")
        return StoredIssue.from_row(row)

    # -- deliveries -----------------------------------------------------------------------------

    @_guarded
    def materialize(
        self, issue_ids: Sequence[int], subscribers: Iterable[Subscriber], now: datetime
    ) -> dict[int, int]:
        """Create one pending delivery per (due issue, subscriber), skipping suppressed addresses.

        One transaction: if reading the list fails half-way, nothing is created and the issues
        stay due. Once done, an issue's recipients are fixed; later list changes do not add to it.
        Returns each issue's number of recipients.
        """
        if not issue_ids:
            return {}
        stamp = ts(now)

        with self.transaction() as c:
            placeholders = ", ".join("?" for _ in issue_ids)
            fresh = [
                row[0]
                for row in c.execute(
                    f"SELECT id FROM issues WHERE id IN ({placeholders})"
                    " AND materialized_at IS NULL ORDER BY send_at, id",
                    tuple(issue_ids),
                )
            ]
            if fresh:
                # The list goes into a scratch table first, then one statement makes every row:
                # the suppression list is joined once, not asked once per subscriber.
                c.execute(_INCOMING)
                c.execute("DELETE FROM incoming")
                c.load("incoming", _INCOMING_COLUMNS, _incoming_rows(subscribers))
                c.execute(
                    "INSERT INTO deliveries (issue_id, email, email_key, name, fields, state,"
                    " created_at, updated_at) SELECT i.id, n.email, n.email_key, n.name, n.fields,"
                    f" 'pending', ?, ? FROM incoming n JOIN issues i ON i.id IN"
                    f" ({', '.join('?' for _ in fresh)}) WHERE NOT EXISTS (SELECT 1 FROM"
                    " suppression s WHERE s.email_key = n.email_key)"
                    " ORDER BY n.seq, i.send_at, i.id ON CONFLICT DO NOTHING",
                    (stamp, stamp, *fresh),
                )
                c.execute("DELETE FROM incoming")
            for issue_id in fresh:
                c.execute(
                    "UPDATE issues SET materialized_at = ?, recipients = (SELECT COUNT(*) FROM"
                    " deliveries WHERE issue_id = ?) WHERE id = ? AND materialized_at IS NULL",
                    (stamp, issue_id, issue_id),
                )
            recipients = {
                issue_id: int(n or 0)
                for issue_id, n in c.execute(
                    f"SELECT id, recipients FROM issues WHERE id IN ({placeholders})",
                    tuple(issue_ids),
                )
            }
        return recipients

    @_guarded
    def recover_in_flight(self, now: datetime) -> int:
        """After a crash, rows left in `sending` go back to pending (their Message-ID is kept).

        Their message may or may not have reached the server: this is the only duplicate window.
        A SQLite outbox has one runner (the lock file), so every such row was abandoned; on a
        shared outbox only those whose lease lapsed were: another live runner's are left alone.
        """
        lapsed = " AND (lease_until IS NULL OR lease_until < ?)" if self.shared else ""
        with self.transaction(exclusive=False) as c:
            return c.execute(
                "UPDATE deliveries SET state = 'pending', lease_until = NULL, claimed_by = NULL,"
                f" updated_at = ? WHERE state = 'sending'{lapsed}",
                (ts(now), ts(now)) if lapsed else (ts(now),),
            ).rowcount

    @_guarded
    def renew_leases(self, now: datetime) -> int:
        """Extend the lease of every row this runner (`owner`) is sending: it is alive."""
        with self.transaction(exclusive=False) as c:
            return c.execute(
                "UPDATE deliveries SET lease_until = ? WHERE state = 'sending' AND claimed_by = ?",
                (ts(now + self.lease), self.owner),
            ).rowcount

    @_guarded
    def claim(
        self, now: datetime, message_id: str, *, at: datetime | None = None
    ) -> Delivery | None:
        """Take the next pending (or due retry, as of the pass that began at `now`) delivery and
        mark it `sending`, committed, leased to `owner` from `at` (default `now`).

        The Message-ID is stored here, before anything goes to the server; a retry keeps the one
        it already has, so a receiver can recognise a repeat.
        """
        lease_until = ts((at or now) + self.lease)
        with self.transaction(exclusive=False) as c:
            return self._claim_in(c, ts(now), message_id, lease_until)

    def _claim_in(
        self, c: Database, stamp: str, message_id: str, lease_until: str
    ) -> Delivery | None:
        """`claim` in transaction `c`: `stamp` is the pass's time and `lease_until` the lease's
        end, as `ts` gives them."""
        while True:
            row = None
            for query in CLAIM_QUERIES:
                row = c.execute(query + c.row_lock, (stamp,) * query.count("?")).fetchone()
                if row is not None:
                    break
            if row is None:
                return None
            delivery_id, suppressed = row
            if suppressed:  # suppressed after the issue started
                c.execute(
                    "UPDATE deliveries SET state = 'suppressed', updated_at = ? WHERE id = ?",
                    (stamp, delivery_id),
                )
                continue
            taken = c.execute(
                "UPDATE deliveries SET state = 'sending', message_id = COALESCE(message_id, ?),"
                " updated_at = ?, lease_until = ?, claimed_by = ? WHERE id = ?"
                f" RETURNING {_DELIVERY_COLUMNS}",
                (message_id, stamp, lease_until, self.owner, delivery_id),
            ).fetchone()
            return _delivery_from(taken)

    def _delivery(self, c: Database, delivery_id: int) -> Delivery:
        return _delivery_from(
            c.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
        )

    @_guarded
    def record(
        self,
        delivery_id: int,
        *,
        status: SendStatus,
        code: int | None,
        detail: str,
        now: datetime,
        max_attempts: int,
        retry_delay: Callable[[int], float],
        suppress: str | None = None,
    ) -> State:
        """Store the server's answer and return the new state.

        `status` is the mailer's: sent | temporary | permanent | unknown. A temporary failure is
        retried after `retry_delay(attempts)` seconds until `max_attempts` tries have been made.
        `suppress` (a reason) puts the address on the suppression list in the same transaction
        and cancels its other queued deliveries: a refused address is never tried again.
        """
        answer = Answer(delivery_id, status, code, detail, now, suppress)
        with self.transaction(exclusive=False) as c:
            return self._record_in(c, answer, max_attempts, retry_delay)

    @_guarded
    def settle(
        self,
        answers: Sequence[Answer],
        claims: Sequence[str],
        *,
        now: datetime,
        at: datetime,
        max_attempts: int,
        retry_delay: Callable[[int], float],
    ) -> tuple[list[State], list[Delivery | None]]:
        """`record` every answer, then `claim` one delivery per Message-ID in `claims`, all in one
        transaction: the senders of a process share one commit (group commit), and each answer
        is stored before its sender's next message is taken."""
        with self.transaction(exclusive=False) as c:
            states = [self._record_in(c, a, max_attempts, retry_delay) for a in answers]
            stamp, lease_until = ts(now), ts(at + self.lease)  # once for the whole batch
            taken = [self._claim_in(c, stamp, message_id, lease_until) for message_id in claims]
        return states, taken

    def _record_in(
        self,
        c: Database,
        answer: Answer,
        max_attempts: int,
        retry_delay: Callable[[int], float],
    ) -> State:
        delivery_id, status, code, now = answer.delivery_id, answer.status, answer.code, answer.at
        suppress = answer.suppress
        stamp = ts(now)
        detail = answer.detail[:ANSWER_MAX]
        row = c.execute(
            "SELECT attempts, state, unknowns, claimed_by FROM deliveries WHERE id = ?"
            + c.row_lock.replace(" SKIP LOCKED", ""),
            (delivery_id,),
        ).fetchone()
        if row is None or row[1] != State.SENDING or row[3] not in (None, self.owner):
            raise OutboxError(
                f"{self.where}: delivery {delivery_id} is not being sent; another runner may"
                " be using this outbox"
            )
        attempts, unknowns = int(row[0]) + 1, int(row[2])
        next_try: str | None = None
        if status == "sent":
            state = State.SENT
        elif status == "unknown":
            state, unknowns = State.UNKNOWN, unknowns + 1
            if unknowns == 1:  # one retry, on a later pass, with the same Message-ID
                next_try = ts(now + timedelta(seconds=retry_delay(attempts)))
            else:
                detail = (
                    f"no final reply twice, so not sent again: the reader may have it; {detail}"
                )[:ANSWER_MAX]
        elif status == "temporary" and attempts < max_attempts:
            state = State.FAILED_TEMPORARY
            next_try = ts(now + timedelta(seconds=retry_delay(attempts)))
        elif status == "temporary":
            state = State.FAILED_PERMANENT
            detail = f"gave up after {attempts} attempts: {detail}"[:ANSWER_MAX]
        else:
            state = State.FAILED_PERMANENT
        c.execute(
            "UPDATE deliveries SET state = ?, attempts = ?, next_try = ?, code = ?, answer = ?,"
            " updated_at = ?, sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,"
            " unknowns = ? WHERE id = ?",
            (
                state,
                attempts,
                next_try,
                code,
                detail,
                stamp,
                state,
                stamp,
                unknowns,
                delivery_id,
            ),
        )
        if suppress is not None:
            _suppress_in(c, delivery_id, suppress, stamp)
        return state

    @_guarded
    def count_waiting(self, now: datetime) -> int:
        """How many deliveries a pass at `now` would send."""
        stamp = ts(now)
        row = self._db.execute(
            "SELECT (SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'sending'))"
            " + (SELECT COUNT(*) FROM deliveries WHERE state = 'failed-temporary'"
            f" AND next_try <= ?) + (SELECT COUNT(*) FROM deliveries WHERE {_UNKNOWN_DUE})",
            (stamp, stamp, stamp),
        ).fetchone()
        return int(row[0])

    @_guarded
    def waiting(self, now: datetime) -> list[Delivery]:
        """Deliveries a pass at `now` would send (pending or due retries), without claiming them."""
        rows = self._db.execute(
            "SELECT id FROM deliveries d WHERE (state IN ('pending', 'sending') OR"
            f" (state = 'failed-temporary' AND next_try <= ?) OR ({_UNKNOWN_DUE})) AND NOT EXISTS"
            " (SELECT 1 FROM suppression s WHERE s.email_key = d.email_key) ORDER BY id",
            (ts(now), ts(now), ts(now)),
        )
        return [self._delivery(self._db, delivery_id) for (delivery_id,) in rows.fetchall()]

    @_guarded
    def deliveries(self, issue_id: int | None = None) -> list[dict[str, object]]:
        """Rows as dicts, for status details and tests."""
        query = "SELECT * FROM deliveries"
        args: tuple[object, ...] = ()
        if issue_id is not None:
            query += " WHERE issue_id = ?"
            args = (issue_id,)
        cur = self._db.execute(query + " ORDER BY id", args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    @_guarded
    def counts(self) -> dict[str, int]:
        return {
            state: n
            for state, n in self._db.execute(
                "SELECT state, COUNT(*) FROM deliveries GROUP BY state"
            )
        }

    @_guarded
    def next_send_at(self) -> datetime | None:
        """When the next not-yet-due issue goes out, for the loop's 'next issue' line."""
        row = self._db.execute(
            "SELECT MIN(send_at) FROM issues WHERE materialized_at IS NULL AND cancelled_at IS NULL"
            " AND failed IS NULL"
        ).fetchone()
        return parse_ts(row[0]) if row[0] else None

    # -- backup ---------------------------------------------------------------------------------

    def backup(self, target: Path) -> tuple[int, int]:
        """Copy the outbox to a new file with SQLite's online backup, while runners go on.

        The copy is checked page by page and appears under its name only once complete, so a
        full disk or a damaged outbox never leaves a backup that looks good. Returns the
        (series, deliveries) it holds.
        """
        if not isinstance(self._db, Sqlite):
            raise OutboxError(
                f"{self.where}: a PostgreSQL outbox is backed up with the server's own tools"
                " (pg_dump), not 'newsletter backup'"
            )
        if target.exists() or target.is_symlink():
            raise OutboxError(f"{target}: already exists; a backup never overwrites a file")
        if not target.parent.is_dir():
            raise OutboxError(f"{target}: its folder does not exist")
        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        try:
            with closing(sqlite3.connect(partial, isolation_level=None)) as copy:
                self._db.conn.backup(copy)
                check = copy.execute("PRAGMA integrity_check").fetchone()[0]
                if check != "ok":
                    raise self._damaged(check)
                held = copy.execute(
                    "SELECT (SELECT COUNT(*) FROM series), (SELECT COUNT(*) FROM deliveries)"
                ).fetchone()
            os.link(partial, target)  # unlike a rename, never replaces a file made meanwhile
        except OSError as e:
            raise OutboxError(f"{target}: cannot write the backup ({e.strerror})") from None
        except sqlite3.Error as e:
            if is_damage(e):
                raise self._damaged(str(e)) from None
            raise OutboxError(f"{target}: the backup failed ({e}); no backup was written") from None
        finally:
            partial.unlink(missing_ok=True)
        return int(held[0]), int(held[1])

    def _damaged(self, why: str) -> OutboxError:
        return OutboxError(
            f"{self.where}: the outbox is damaged ({why}); no backup was written:"
            f" {RESTORE.removeprefix('stop the runner and ')}"
        )

    # -- moving -----------------------------------------------------------------------------------

    @_guarded
    def copy_into(self, target: Outbox) -> dict[str, int]:
        """Copy every row (series, issues, deliveries, the suppression list, and meta with the
        unsubscribe secret and the outbox id) into `target`, an outbox with no series or meta
        yet, in one transaction on each side: the target gets all of it or nothing. Returns the
        rows copied per table; the rows stream, so memory stays flat."""
        with target.transaction() as into, self.transaction() as source:
            held = into.execute(
                "SELECT (SELECT COUNT(*) FROM series) + (SELECT COUNT(*) FROM meta)"
            ).fetchone()[0]
            if held:
                raise OutboxError(
                    f"{target.where}: already holds an outbox; nothing was copied (copy into an"
                    " empty database)"
                )
            copied = {}
            for table in COPIED_TABLES:
                cur = source.execute(f"SELECT * FROM {table}")
                columns = [d[0] for d in cur.description]
                counted = _Counted(cur)
                into.load(table, columns, counted)
                if "id" in columns:
                    into.ids_loaded(table)
                copied[table] = counted.n
        return copied

    # -- suppression ----------------------------------------------------------------------------

    @_guarded
    def suppress(self, address: str, *, reason: str, now: datetime) -> tuple[bool, int]:
        """Never send to `address` again; returns (newly added, queued deliveries cancelled)."""
        key = email_key(address)
        stamp = ts(now)
        with self.transaction() as c:
            added = c.execute(
                "INSERT INTO suppression VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (key, address.strip(), reason, stamp),
            ).rowcount
            cancelled = c.execute(
                "UPDATE deliveries SET state = 'suppressed', updated_at = ? WHERE email_key = ?"
                " AND (state IN ('pending', 'failed-temporary')"
                " OR (state = 'unknown' AND next_try IS NOT NULL))",
                (stamp, key),
            ).rowcount
        return bool(added), cancelled

    @_guarded
    def is_suppressed(self, address: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM suppression WHERE email_key = ?", (email_key(address),)
        ).fetchone()
        return row is not None
