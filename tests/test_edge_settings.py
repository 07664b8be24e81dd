"""Settings and flags checked at the edge (issue 10): every number finite and in range, dates
that fit the calendar, no empty zone, and a password of any characters, each through the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from newsletter.cli import main
from tests.helpers import SAMPLE
from tests.smtpd import SmtpTestServer
from tests.workspace import Workspace

Factory = Callable[..., SmtpTestServer]
NOW = "2025-03-01T12:00:00+00:00"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", "a-test-secret-of-enough-length-1234")
    monkeypatch.setenv("NEWSLETTER_NOW", NOW)
    monkeypatch.delenv("NEWSLETTER_SMTP_PASSWORD", raising=False)


def one_error(err: str) -> str:
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if ": warning: " not in line]
    assert len(errors) == 1, err
    assert errors[0].startswith("newsletter: error: ")
    return errors[0]


@pytest.mark.parametrize(
    ("section", "setting", "value"),
    [
        ("smtp", "timeout", "nan"),
        ("smtp", "timeout", "inf"),
        ("smtp", "timeout", "1e400"),
        ("smtp", "timeout", "-1"),
        ("smtp", "timeout", "100000000"),
        ("smtp", "retry_after", "nan"),
        ("smtp", "retry_after", "-inf"),
        ("smtp", "retry_after", "-5"),
        ("smtp", "retry_after", "1e12"),
        ("smtp", "rate_limit", "nan"),
        ("smtp", "rate_limit", "1e30"),
        ("smtp", "max_attempts", "0"),
        ("smtp", "max_attempts", "-3"),
        ("smtp", "max_attempts", "9223372036854775807"),
        ("smtp", "connections", "100000"),
        ("smtp", "port", "-1"),
        ("schedule", "every", "1000000"),
        ("schedule", "poll_seconds", "9223372036854775807"),
    ],
)
def test_a_number_out_of_range_is_one_line_naming_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str, setting: str, value: str
) -> None:
    ws = Workspace(tmp_path, None)
    ws.config.write_text(f"[{section}]\n{setting} = {value}\n", encoding="utf-8")
    rc = main(["--config", str(ws.config), "split", str(SAMPLE)])
    line = one_error(capsys.readouterr().err)
    assert rc == 1
    assert f"[{section}] {setting}" in line


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--start", "9999-12-27"], "past the year 9999"),
        (["--start", "9999-12-31", "--every", "520"], "past the year 9999"),
        (["--every", "1000000"], "--every 1000000: issues may be at most 520 weeks"),
        (["--every", "0"], "--every 0: issues must be at least 1 week apart"),
        (["--tz", ""], "--tz is empty"),
        (["--tz", "  "], "--tz is empty"),
    ],
)
def test_schedule_flags_out_of_range_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    ws = Workspace(tmp_path, None)
    rc = main(
        ["--config", str(ws.config), "schedule", str(SAMPLE), "--accept-placeholders",
         "--accept-warnings", *flags]
    )  # fmt: skip
    line = one_error(capsys.readouterr().err)
    assert rc == 2
    assert message in line
    assert not ws.outbox.exists()


PASSWORD = "Pässwörd-日本-🔑"


def test_a_non_ascii_password_logs_in_as_utf8(
    smtp_server_factory: Factory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server_factory(tls="starttls", auth=("chelsa", PASSWORD))
    ws = Workspace(tmp_path, server, timeout=3)
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", PASSWORD)
    args = ["send-test", str(SAMPLE), "--issue", "1", "--to", "reader@example.com"]
    rc = main(["--config", str(ws.config), *args])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "sent issue 1 of 5" in out
    [received] = server.messages
    assert received.auth_user == "chelsa"


def test_a_wrong_non_ascii_password_is_refused_without_showing_it(
    smtp_server_factory: Factory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server_factory(tls="starttls", auth=("chelsa", "the-right-one"))
    ws = Workspace(tmp_path, server, timeout=3)
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", PASSWORD)
    args = ["send-test", str(SAMPLE), "--issue", "1", "--to", "reader@example.com"]
    rc = main(["--config", str(ws.config), *args])
    out, err = capsys.readouterr()
    line = one_error(err)
    assert rc == 1
    assert "refused the login for 'chelsa'" in line
    for char in "äö日本🔑":
        assert char not in out + err
    assert not server.messages
