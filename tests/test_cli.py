"""The command line's contract, built from the parser's own list of commands: help on every one,
usage errors as status 2, and every failure as one line on stderr with status 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.cli import COMMANDS, ExitStatus, build_parser, main, subcommands
from tests.helpers import SAMPLE

COMMAND_NAMES = sorted(subcommands(build_parser()))


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if ": warning: " not in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("newsletter: error: ")
    assert "Traceback" not in err
    return lines[0]


def test_every_command_has_a_handler_and_help_text() -> None:
    parsers = subcommands(build_parser())
    assert set(parsers) == set(COMMANDS)
    assert {"split", "build", "schedule", "run", "unsubscribe-server", "templates"} <= set(parsers)
    for name, parser in parsers.items():
        assert parser.description, name
    summaries = build_parser().format_help()
    for name in parsers:
        assert f"    {name}" in summaries, name


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: newsletter {command} ")


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_an_unknown_option_is_a_usage_error(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--no-such-option"])
    assert done.value.code == ExitStatus.USAGE
    assert "usage: newsletter" in capsys.readouterr().err


def test_an_os_error_is_one_line_naming_the_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(SAMPLE), "-o", "/dev/null/out"]) == ExitStatus.ERROR
    line = one_line(capsys.readouterr().err)
    assert "/dev/null/out" in line and "Not a directory" in line


def test_debug_shows_the_traceback_of_the_same_error() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "newsletter", "--debug", "build", str(SAMPLE), "-o", "/dev/null/x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert "Traceback" in r.stderr and "NotADirectoryError" in r.stderr


def test_a_usage_error_found_after_parsing_is_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["captions", str(SAMPLE), "--issue", "9"]) == ExitStatus.USAGE
    assert "there is no issue 9" in one_line(capsys.readouterr().err)


def test_every_option_of_every_command_has_help_text() -> None:
    for name, parser in subcommands(build_parser()).items():
        for action in parser._actions:
            assert action.help and action.help.strip(), f"{name} {action.dest} has no help"


def test_usage_shows_the_post_as_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["preview"])
    assert done.value.code == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert err.startswith("usage: newsletter preview") and "[POST]" not in err
    assert "the following arguments are required: POST" in err


def test_every_help_names_its_setting() -> None:
    schedule = subcommands(build_parser())["schedule"]
    (every,) = [a for a in schedule._actions if "--every" in a.option_strings]
    assert "[schedule] every" in (every.help or "")


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_works_before_or_after_the_command(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('[outbox]\npath = "mine.sqlite3"\n', encoding="utf-8")
    argv = (
        ["--config", str(config), "status"]
        if where == "before"
        else ["status", "--config", str(config)]
    )
    assert main(argv) == ExitStatus.OK
    assert str(tmp_path / "mine.sqlite3") in capsys.readouterr().out


def test_debug_after_the_command_overrides_nothing_given_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--config before the command stays when the command is given no --config of its own."""
    config = tmp_path / "a.toml"
    config.write_text('[outbox]\npath = "a.sqlite3"\n', encoding="utf-8")
    assert main(["--config", str(config), "status", "--debug"]) == ExitStatus.OK
    assert "a.sqlite3" in capsys.readouterr().out


def test_an_unreadable_settings_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "a-folder.toml"
    folder.mkdir()
    assert main(["--config", str(folder), "status"]) == ExitStatus.ERROR
    assert str(folder) in one_line(capsys.readouterr().err)


def test_a_broken_pipe_is_not_an_error() -> None:
    """`newsletter split POST --json | head -1`: the reader stopped reading; nothing to report."""
    r = subprocess.run(
        f"{sys.executable} -m newsletter split {SAMPLE} --json | head -c 1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.stdout == "{"
    assert "Traceback" not in r.stderr and "error" not in r.stderr
