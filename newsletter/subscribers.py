"""The subscriber list: a CSV file read as a stream, validated, with duplicates yielded once.

Each row is exactly one line: a stray quote costs its own row (a warning), never the next
reader's. A list may hold a million rows, so nothing here keeps the whole list in memory: rows
are read one at a time, and duplicates are found through a private on-disk SQLite table rather
than a Python set of every address seen.
"""

from __future__ import annotations

import csv
import functools
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from email_validator import EmailNotValidError, validate_email

from .config import Settings
from .errors import SubscriberError
from .model import TextWarning

if TYPE_CHECKING:
    from _csv import Reader

WarningSink = Callable[[TextWarning], None]

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


@dataclass(frozen=True)
class Subscriber:
    """One valid, normalized address; `fields` keeps the extra CSV columns in file order."""

    email: str
    name: str | None = None
    fields: tuple[tuple[str, str], ...] = ()
    line: int = 0

    @property
    def key(self) -> str:
        """Case-insensitive identity: Foo@Example.com and foo@example.com are one subscriber."""
        return email_key(self.email)


def email_key(address: str) -> str:
    return address.strip().casefold()


# The everyday address: an ASCII dot-atom local part (RFC 5322 atext) and a domain.
_PLAIN = re.compile(
    r"(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>[A-Za-z0-9.-]{1,253})"
)


def normalize_email(address: str) -> str:
    """The address as email-validator normalizes it (syntax only, no DNS); raises ValueError.

    Most of email-validator's time goes on the domain, and a list repeats a few domains
    (gmail.com) a million times, so a plain ASCII address has its domain checked once per
    domain, its local part by the RFC's dot-atom rule; anything else takes the full path.
    """
    address = address.strip()
    m = _PLAIN.fullmatch(address)
    if m is None or len(m["local"]) > 64 or len(address) > 254:
        return _validated(address)
    return f"{m['local']}@{_domain(m['domain'])}"


@functools.lru_cache(maxsize=4096)
def _domain(domain: str) -> str:
    """The domain as email-validator normalizes it (lower case, checked); raises ValueError."""
    return _validated(f"x@{domain}").rpartition("@")[2]


def _validated(address: str) -> str:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as e:
        raise ValueError(str(e)) from None


def subscribers_path(settings: Settings) -> Path:
    return settings.path(settings.subscribers.file)


def clean_name(value: str) -> str | None:
    """A display name with control characters (CR/LF above all) folded into single spaces."""
    name = " ".join(_CONTROL.sub(" ", value).split())
    return name or None


def read_subscribers(
    path: Path, *, on_warning: WarningSink | None = None, dedupe: bool = True
) -> Iterator[Subscriber]:
    """Open and check the header now (errors name the file), then stream the valid rows.

    Invalid rows and duplicates go to `on_warning` with their line number and are skipped, and
    so does every row it cannot read safely: quoting that runs past the line, a field count
    that is not the header's, a NUL byte, a name holding a line break or an address.
    """
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise SubscriberError(
            f"{path}: no such subscriber list; create it (columns: email, name) or set "
            "[subscribers] file"
        ) from None
    except OSError as e:
        raise SubscriberError(f"{path}: cannot read the subscriber list ({e.strerror})") from None
    try:
        lines = _lines(handle, path)
        header_line = next(lines, "")
        if not header_line.strip():
            raise SubscriberError(
                f"{path}: the subscriber list is empty; it needs an 'email' header line"
            )
        dialect = _dialect(header_line)
        rows = _OneLine(lines)
        reader = csv.reader(rows, dialect)
        try:
            header = next(csv.reader([header_line], dialect), [])
        except csv.Error as e:
            raise SubscriberError(
                f"{path}:1: the header line is not readable as CSV ({e}); it needs an 'email'"
                " column"
            ) from None
        columns = [h.strip().lower() for h in header]
        if "email" not in columns:
            raise SubscriberError(
                f"{path}:1: no 'email' column in the header line (found: "
                f"{', '.join(repr(h) for h in header) or 'nothing'})"
            )
    except BaseException:
        handle.close()
        raise
    return _rows(path, handle, rows, reader, header, columns, on_warning, dedupe)


def _lines(handle: BinaryIO, path: Path) -> Iterator[str]:
    """Decode line by line, so a bad byte is reported on its own line (not a chunk's)."""
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as e:
            raise SubscriberError(
                f"{path}:{number}: not UTF-8 text ({e.reason} at column {e.start + 1}); "
                "save the list as UTF-8 CSV"
            ) from None


class _OneLine:
    """The lines of the list, handed to `csv.reader` one row's line at a time.

    A stray quote would make the csv module read on into the next lines and merge them into
    one row (a reader lost, their address in someone's name). Here a row gets exactly its own
    line: when the parser asks for another, it is told the data ended, and the row is flagged.
    """

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._budget = 0
        self.number = 1  # the header's
        self.overran = False

    def __iter__(self) -> _OneLine:
        return self

    def __next__(self) -> str:
        if self._budget == 0:
            self.overran = True
            raise StopIteration
        self._budget = 0
        line = next(self._lines)
        self.number += 1
        return line

    def next_row(self, reader: Reader) -> list[str]:
        """The next line's row (StopIteration at the end); `overran` says its quoting did."""
        self._budget = 1
        self.overran = False
        return next(reader)


_LINE_BREAK = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")
_ADDRESS = re.compile(r"[^\s@]+@[^\s@]+")


def _name_problem(name: str) -> str | None:
    """Why a name cannot go into a greeting or a To: header as it is, or None."""
    if _LINE_BREAK.search(name):
        return "holds a line break"
    if _ADDRESS.search(name):
        return "holds an email address"
    return None


def _dialect(header_line: str) -> type[csv.Dialect]:
    """Comma by default; semicolon or tab when the header uses them (spreadsheet exports do)."""

    class Dialect(csv.excel):
        pass

    if "," not in header_line:
        if ";" in header_line:
            Dialect.delimiter = ";"
        elif "\t" in header_line:
            Dialect.delimiter = "\t"
    return Dialect


def _rows(
    path: Path,
    handle: BinaryIO,
    lines: _OneLine,
    reader: Reader,
    header: list[str],
    columns: list[str],
    on_warning: WarningSink | None,
    dedupe: bool,
) -> Iterator[Subscriber]:
    email_at = columns.index("email")
    name_at = columns.index("name") if "name" in columns else None
    extra_at = [
        (i, header[i].strip()) for i, c in enumerate(columns) if c not in ("email", "name") and c
    ]
    seen = _Seen() if dedupe else None
    source = str(path)

    def warn(line: int, message: str) -> None:
        if on_warning is not None:
            on_warning(TextWarning(source, line, message))

    try:
        while True:
            try:
                row = lines.next_row(reader)
            except StopIteration:
                return
            except csv.Error as e:
                warn(lines.number, f"not readable as CSV ({e}); row skipped")
                continue
            line = lines.number
            if lines.overran:
                warn(line, "a quote opened on this line is not closed on it; row skipped")
                continue
            if not any(cell.strip() for cell in row):
                continue
            if any("\x00" in cell for cell in row):
                warn(line, "holds a NUL byte; row skipped")
                continue
            if len(row) != len(header):
                warn(line, f"{len(row)} field(s) where the header has {len(header)}; row skipped")
                continue
            raw = row[email_at].strip()
            if not raw:
                warn(line, "no email address; row skipped")
                continue
            try:
                address = normalize_email(raw)
            except ValueError as e:
                warn(line, f"invalid email address {raw!r} ({e}); row skipped")
                continue
            name_cell = row[name_at] if name_at is not None else ""
            refused = _name_problem(name_cell)
            if refused:
                warn(line, f"the name {refused}; row skipped")
                continue
            if seen is not None:
                first = seen.add(email_key(address), line)
                if first is not None:
                    warn(line, f"duplicate of line {first} ({address}); row skipped")
                    continue
            name = clean_name(name_cell) if name_at is not None else None
            fields = tuple((key, row[i]) for i, key in extra_at)
            yield Subscriber(email=address, name=name, fields=fields, line=line)
    finally:
        handle.close()
        if seen is not None:
            seen.close()


class _Seen:
    """Addresses seen so far, in a private temporary SQLite file (not in memory)."""

    def __init__(self) -> None:
        # "" opens a private on-disk temporary database that SQLite deletes on close.
        self._db = sqlite3.connect("")
        self._db.execute("PRAGMA cache_size = -2048")
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, line INTEGER) WITHOUT ROWID")

    def add(self, key: str, line: int) -> int | None:
        """Record `key`; returns the line it was first seen on when it is a duplicate."""
        cur = self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (key, line))
        if cur.rowcount:
            return None
        row = self._db.execute("SELECT line FROM seen WHERE key = ?", (key,)).fetchone()
        return int(row[0])

    def close(self) -> None:
        self._db.close()
