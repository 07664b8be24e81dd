"""The README's scheduling example runs as written on a fresh copy, at today's date: each command
ends as its comment says, the errors are the ones the README prints, and nothing falls due."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from newsletter.cli import main
from tests.helpers import ROOT
from tests.workspace import environ

TODAY = "2026-12-01T10:00:00+00:00"


def scheduling_example() -> tuple[list[tuple[str, bool]], list[str]]:
    """The commands of the section's first `sh` block (with whether the comment says refused),
    and the lines of the output block after it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Scheduling and sending") :]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, re.S)
    commands = []
    for line in blocks[0][1].splitlines():
        command, _, comment = line.partition("   #")
        commands.append((command.strip(), comment.strip().startswith("refused")))
    return commands, blocks[1][1].splitlines()


def test_the_scheduling_example_runs_as_written_today(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(ROOT / "posts", tmp_path / "posts")  # the test runs in tmp_path
    commands, shown = scheduling_example()
    assert len(commands) >= 6
    errors, outputs = [], []
    with environ(NEWSLETTER_NOW=TODAY):
        for command, refused in commands:
            argv = shlex.split(command)
            assert argv[0] == "newsletter", command
            code = main(argv[1:])
            out, err = capsys.readouterr()
            assert (code != 0) == refused, f"{command}: {code}\n{err}"
            if refused:
                errors.append(err.splitlines()[-1])
            outputs.append(out)
    # Every error the README prints is the one the command gave (an elided one up to its '…').
    printed = [line for line in shown if line.startswith("newsletter: error: ")]
    assert len(printed) == len(errors)
    for line, actual in zip(printed, errors, strict=True):
        head = line.split("; line 48: …")[0]
        assert actual.startswith(head), f"\n{line}\n{actual}"
    queued = next(o for o in outputs if o.startswith("queued "))
    for line in shown:
        if line.startswith("queued "):
            assert queued.splitlines()[0] == line.replace("/home/you/newsletter", str(tmp_path))
        elif re.match(r"\s+\d\. ", line):
            assert line in queued.splitlines()
    # Nothing was due, so nothing was written or sent; the last command cancelled the rest.
    dry = next(o for c, o in zip(commands, outputs, strict=True) if "--dry-run" in c[0])
    assert dry.startswith("wrote 0 message(s)")
    assert "cancelled issue(s) 1, 2, 3, 4, 5" in outputs[-1]
