"""The subscriber list: validation with line numbers, case-insensitive duplicates, streaming."""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.errors import SubscriberError
from newsletter.model import TextWarning
from newsletter.subscribers import normalize_email, read_subscribers


def write(tmp_path: Path, text: str, name: str = "subscribers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read(path: Path) -> tuple[list[tuple[str, str | None, dict[str, str], int]], list[TextWarning]]:
    warnings: list[TextWarning] = []
    rows = [
        (s.email, s.name, dict(s.fields), s.line)
        for s in read_subscribers(path, on_warning=warnings.append)
    ]
    return rows, warnings


def test_valid_rows_names_and_extra_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name,city,plan\n"
        "ada@example.com,Ada Lovelace,London,pro\n"
        "grace@example.org,,Arlington,free\n",
    )
    rows, warnings = read(path)
    assert rows == [
        ("ada@example.com", "Ada Lovelace", {"city": "London", "plan": "pro"}, 2),
        ("grace@example.org", None, {"city": "Arlington", "plan": "free"}, 3),
    ]
    assert warnings == []


def test_invalid_rows_are_reported_with_line_numbers_and_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Email,Name\n"
        "ok@example.com,OK\n"
        "not-an-address,Broken\n"
        ",No address\n"
        "\n"
        "two@@example.com,Double at\n"
        "last@example.com,Last\n",
    )
    rows, warnings = read(path)
    assert [r[0] for r in rows] == ["ok@example.com", "last@example.com"]
    assert [r[3] for r in rows] == [2, 7]
    assert [(w.source, w.line) for w in warnings] == [
        (str(path), 3),
        (str(path), 4),
        (str(path), 6),
    ]
    assert "not-an-address" in warnings[0].message
    assert "no email address" in warnings[1].message
    assert str(warnings[0]).startswith(f"{path}:3: warning: invalid email address")


def test_duplicates_are_case_insensitive_and_yielded_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name\n"
        "Reader@Example.com,First\n"
        "other@example.com,Other\n"
        "reader@EXAMPLE.COM,Second\n"
        " READER@example.com ,Third\n",
    )
    rows, warnings = read(path)
    assert [(r[0], r[1]) for r in rows] == [
        ("Reader@example.com", "First"),
        ("other@example.com", "Other"),
    ]
    assert [w.line for w in warnings] == [4, 5]
    assert all("duplicate of line 2" in w.message for w in warnings)


def test_quoting_that_runs_past_its_line_is_a_warning_not_a_merged_row(tmp_path: Path) -> None:
    """A row is its own line: a quoted field that would go on is skipped, the next line read."""
    path = write(
        tmp_path,
        'email,name,note\na@example.com,A,"two\nlines"\nbad,B,x\nc@example.com,C,y\n',
    )
    rows, warnings = read(path)
    assert [(r[0], r[3]) for r in rows] == [("c@example.com", 5)]
    assert [w.line for w in warnings] == [2, 3, 4]
    assert "a quote opened on this line is not closed on it; row skipped" in warnings[0].message
    assert "1 field(s) where the header has 3" in warnings[1].message


def test_a_stray_quote_in_row_501_of_1000_costs_that_row_only(tmp_path: Path) -> None:
    """The hostile case of issue 10: r00500's stray quote used to swallow r00501 into a name."""
    lines = [f"r{i:05d}@example.com,Reader {i}\n" for i in range(1000)]
    lines[500] = "r00500@example.com,\"O'Brien, Pat\n"  # data row 501, file line 502
    path = write(tmp_path, "email,name\n" + "".join(lines))
    rows, warnings = read(path)
    assert len(rows) == 999
    emails = {r[0] for r in rows}
    assert "r00501@example.com" in emails and "r00500@example.com" not in emails
    assert [(w.line, w.message) for w in warnings] == [
        (502, "a quote opened on this line is not closed on it; row skipped")
    ]
    assert str(warnings[0]).startswith(f"{path}:502: warning: ")
    assert not any("@" in (r[1] or "") for r in rows)
    assert [r[3] for r in rows] == [n for n in range(2, 1002) if n != 502]


def test_fields_that_do_not_match_the_header_are_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name,city\n"
        "a@example.com,A,Cork\n"
        "b@example.com,B\n"
        "c@example.com,C,Cork,extra\n"
        "d@example.com,D,Derry\n",
    )
    rows, warnings = read(path)
    assert [r[0] for r in rows] == ["a@example.com", "d@example.com"]
    assert [(w.line, w.message) for w in warnings] == [
        (3, "2 field(s) where the header has 3; row skipped"),
        (4, "4 field(s) where the header has 3; row skipped"),
    ]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ('"Eve\rBcc: victim@example.com"', "holds a line break"),
        ("Eve\u2028Bcc", "holds a line break"),
        ("Eve\x85Bcc", "holds a line break"),
        ("O'Brien Pat r00501@example.com", "holds an email address"),
        ('"Pat <pat@example.org>"', "holds an email address"),
    ],
)
def test_a_name_with_a_line_break_or_an_address_is_skipped(
    tmp_path: Path, name: str, why: str
) -> None:
    path = write(tmp_path, f"email,name\nx@example.com,{name}\ny@example.com,Yve\n")
    rows, warnings = read(path)
    assert [(r[0], r[1]) for r in rows] == [("y@example.com", "Yve")]
    assert [(w.line, w.message) for w in warnings] == [(2, f"the name {why}; row skipped")]


def test_a_skipped_row_does_not_count_as_the_first_of_a_duplicate(tmp_path: Path) -> None:
    path = write(tmp_path, "email,name\nx@example.com,Eve x@example.com\nX@example.com,Eve\n")
    rows, warnings = read(path)
    assert [(r[0], r[3]) for r in rows] == [("X@example.com", 3)]
    assert [w.line for w in warnings] == [2]


def test_bom_crlf_and_nul_bytes(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        b"\xef\xbb\xbfemail,name\r\n"
        b"a@example.com,Ann\r\n"
        b"b@example.com,B\x00b\r\n"
        b"c\x00@example.com,C\r\n"
        b'd@example.com,"Dee, Dr"\r\n'
        b'e@example.com,"Eve\r\n'
        b"f@example.com,Fay\r\n"
        b"\r\n"
        b"g@example.com,Gus"  # no line end at all
    )
    rows, warnings = read(path)
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("a@example.com", "Ann", 2),
        ("d@example.com", "Dee, Dr", 5),
        ("f@example.com", "Fay", 7),
        ("g@example.com", "Gus", 9),
    ]
    assert [(w.line, w.message) for w in warnings] == [
        (3, "holds a NUL byte; row skipped"),
        (4, "holds a NUL byte; row skipped"),
        (6, "a quote opened on this line is not closed on it; row skipped"),
    ]


def test_a_quote_left_open_on_the_last_line_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, 'email,name\na@example.com,A\nb@example.com,"B')
    rows, warnings = read(path)
    assert [r[0] for r in rows] == ["a@example.com"]
    assert [w.line for w in warnings] == [3]


def test_fifty_thousand_rows_are_read_in_seconds(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("email,name,city\r\n")
        for i in range(50_000):
            f.write(f'reader{i:05d}@example.com,"Reader {i}, Jr",Springfield\r\n')
    started = time.perf_counter()
    rows, warnings = read(path)
    took = time.perf_counter() - started
    assert len(rows) == 50_000 and warnings == []
    assert rows[-1] == (
        "reader49999@example.com",
        "Reader 49999, Jr",
        {"city": "Springfield"},
        50_001,
    )
    assert took < 10, took


def test_semicolon_lists_and_bom_and_unicode(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes("\ufeffemail;name\njörg@bücher.de;Jörg\n".encode())
    rows, warnings = read(path)
    assert rows == [("jörg@bücher.de", "Jörg", {}, 2)]
    assert warnings == []


def test_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(SubscriberError, match=r"nope\.csv: no such subscriber list"):
        read_subscribers(path)


def test_no_email_column_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "address,name\na@example.com,A\n")
    with pytest.raises(SubscriberError, match=r"subscribers.csv:1: no 'email' column"):
        read_subscribers(path)


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SubscriberError, match="empty"):
        read_subscribers(write(tmp_path, ""))


def test_undecodable_bytes_are_an_error_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    rows = b"".join(b"user%d@example.com,A\n" % i for i in range(3000))
    path.write_bytes(b"email,name\n" + rows + b"b@example.com,J\xf6rg\n")
    stream = read_subscribers(path)
    with pytest.raises(SubscriberError, match=r"latin1.csv:3002: not UTF-8"):
        list(stream)


def test_reading_is_a_stream(tmp_path: Path) -> None:
    """Python's heap stays flat while streaming; holding the same rows in a list does not."""
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("email,name\n")
        for i in range(2_000):
            f.write(f"user{i}@example.com,User {i}\n")
            if i % 10 == 0:
                f.write(f"USER{i}@EXAMPLE.COM,Dup {i}\n")
    duplicates: list[int] = []

    def peak_of(fn: Callable[[], int]) -> tuple[int, int]:
        tracemalloc.start()
        try:
            result = fn()
            return result, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def stream() -> int:
        return sum(
            1 for _ in read_subscribers(path, on_warning=lambda w: duplicates.append(w.line))
        )

    def whole_list() -> int:
        return len(list(read_subscribers(path)))

    n, stream_peak = peak_of(stream)
    m, list_peak = peak_of(whole_list)
    assert n == m == 2_000
    assert len(duplicates) == 200
    assert stream_peak < 300_000, stream_peak
    assert list_peak > 4 * stream_peak, (stream_peak, list_peak)


def test_rows_come_out_before_the_file_is_complete(tmp_path: Path) -> None:
    """Read from a pipe: the first subscriber is yielded while the writer still holds the rest."""
    fifo = tmp_path / "list.csv"
    os.mkfifo(fifo)
    got: list[str] = []
    done = threading.Event()

    def reader() -> None:
        for sub in read_subscribers(fifo):
            got.append(sub.email)
            done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    with fifo.open("w", encoding="utf-8") as w:
        w.write("email\nfirst@example.com\n")
        w.flush()
        assert done.wait(10), "the first row was not yielded until the file ended"
        assert got == ["first@example.com"]
        w.write("second@example.com\n")
    t.join(10)
    assert got == ["first@example.com", "second@example.com"]


_ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
_DOMAINS = [
    "example.com", "Example.COM", "mail.example.co.uk", "localhost", "example.test", "a..b.com",
    "-a.com", "a-.com", "xn--bcher-kva.example", "123.com", "com", "a" * 64 + ".com",
    "b" * 63 + ".com", "x.invalid", "ex_ample.com", "[127.0.0.1]",
]  # fmt: skip


@given(
    local=st.lists(st.text(_ATEXT, min_size=1, max_size=30), min_size=1, max_size=3).map(".".join)
    | st.text(_ATEXT + ". ", min_size=0, max_size=70),
    domain=st.sampled_from(_DOMAINS),
)
@settings(max_examples=400, deadline=None)
def test_the_fast_path_agrees_with_email_validator(local: str, domain: str) -> None:
    """Plain addresses skip part of email-validator; the answer must be the library's own."""
    address = f"{local}@{domain}"
    try:  # normalize_email strips the spaces a spreadsheet leaves around a cell
        expected: str | None = validate_email(
            address.strip(), check_deliverability=False
        ).normalized
    except EmailNotValidError:
        expected = None
    try:
        got: str | None = normalize_email(address)
    except ValueError:
        got = None
    assert got == expected
