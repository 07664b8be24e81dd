"""Any bytes as newsletter.toml or subscribers.csv: a result or one clear line, never a traceback.

The settings loader and the CSV reader read files people edit by hand and spreadsheets export;
whatever they hold, the loader returns settings or a ConfigError, the reader rows or a
SubscriberError, and every message (warnings too) is one line.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from newsletter.config import load_settings
from newsletter.errors import ConfigError, SubscriberError
from newsletter.model import TextWarning
from newsletter.subscribers import read_subscribers

TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECTIONS = ["newsletter", "smtp", "schedule", "subscribers", "outbox", "social", "dkim"]
KEYS = ["name", "from", "host", "port", "security", "timezone", "time", "file", "path", "limits"]


def _load_settings(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "newsletter.toml"
        path.write_bytes(data)
        try:
            load_settings(path)
        except ConfigError as e:
            assert "\n" not in str(e) and str(e).startswith(str(path))


def _read_csv(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "subscribers.csv"
        path.write_bytes(data)
        warnings: list[TextWarning] = []
        try:
            rows = list(read_subscribers(path, on_warning=warnings.append))
        except SubscriberError as e:
            assert "\n" not in str(e) and str(e).startswith(str(path))
            return
        assert all("\n" not in w.message for w in warnings)
        assert all("@" in s.email and "\n" not in (s.name or "") for s in rows)


@FUZZ
@given(data=st.binary(max_size=400))
def test_any_bytes_as_settings_are_settings_or_one_line(data: bytes) -> None:
    _load_settings(data)


@FUZZ
@given(text=TEXT)
def test_any_unicode_as_settings_is_settings_or_one_line(text: str) -> None:
    _load_settings(text.encode("utf-8"))


def _toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, when non-ASCII stays as it is)."""
    return json.dumps(text, ensure_ascii=False)


# Valid TOML with random names and values: past the parser, into the checks of each setting.
VALUES = st.one_of(
    TEXT.map(_toml_string),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "0x7fffffffffffffff"]),
    st.booleans().map(lambda b: str(b).lower()),
    st.lists(TEXT, max_size=3).map(lambda v: json.dumps(v, ensure_ascii=False)),
    st.just('{ a = 1, b = "x" }'),
)


@FUZZ
@given(
    section=st.one_of(st.sampled_from(SECTIONS), TEXT),
    key=st.one_of(st.sampled_from(KEYS), TEXT),
    value=VALUES,
)
@example(section="\n", key="name", value="1")  # was a message of two lines
@example(section="smtp", key="a\u2028b", value="1")
def test_any_table_key_and_value_are_settings_or_one_line(
    section: str, key: str, value: str
) -> None:
    document = f"[{_toml_string(section)}]\n{_toml_string(key)} = {value}\n"
    _load_settings(document.encode())


@FUZZ
@given(data=st.binary(max_size=400))
def test_any_bytes_as_a_list_are_rows_or_one_line(data: bytes) -> None:
    _read_csv(data)
    _read_csv(b"email,name\n" + data)


@FUZZ
@given(
    rows=st.lists(
        st.tuples(TEXT, TEXT, st.sampled_from([",", ";", '"', "\r\n", "\x00", "\ufeff"])),
        max_size=8,
    )
)
@example(rows=[("", "\r", ",")])  # a CR in the header line was a traceback
def test_any_unicode_rows_are_rows_or_one_line(rows: list[tuple[str, str, str]]) -> None:
    body = "".join(f"{a}@example.com,{b}{extra}\n" for a, b, extra in rows)
    _read_csv(("\ufeffemail,name\n" + body).encode("utf-8"))
    _read_csv(("".join(a + b + extra for a, b, extra in rows)).encode("utf-8"))
