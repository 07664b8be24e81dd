"""One bad issue never stops the others (issue 10, case 2): an issue that cannot be built is
marked failed with the reason, `status` shows it, and the other series go out."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from newsletter.series import subject_pattern_error
from tests.helpers import SAMPLE
from tests.smtpd import SmtpTestServer
from tests.workspace import ACCEPT, BEFORE, ISSUE_1, ISSUE_2, Workspace, iso, one_line_error

TITLE = "Massage for the (mental) Health of It"
SLUG = "massage-for-the-mental-health-of-it"


def _two_series(ws: Workspace, tmp_path: Path) -> Path:
    post = tmp_path / "post.txt"
    post.write_text(SAMPLE.read_text("utf-8"), "utf-8")
    other = tmp_path / "other.txt"
    other.write_text(SAMPLE.read_text("utf-8").replace(TITLE, "Another Massage Series"), "utf-8")
    ws.schedule(post)
    ws.schedule(other)
    return post


def _spoil_issue_1(ws: Workspace, subject: str) -> None:
    """An outbox written by an older version, or edited by hand: a subject no header carries."""
    with closing(sqlite3.connect(ws.outbox)) as db, db:
        db.execute(
            "UPDATE issues SET subject = ? WHERE number = 1 AND series_id ="
            " (SELECT id FROM series WHERE slug = ?)",
            (subject, SLUG),
        )


@pytest.mark.parametrize("bad", ["Sleep\u2028better", "Sleep\x85better", "Sleep\x00", "a\rb"])
def test_an_issue_that_cannot_be_built_fails_alone(
    tmp_path: Path, smtp_server: SmtpTestServer, bad: str
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(3)
    _two_series(ws, tmp_path)
    _spoil_issue_1(ws, bad)

    code, out, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    assert "Traceback" not in err
    assert f"{SLUG} issue 1 failed, nothing sent: its subject" in err
    assert "started another-massage-series issue 1: 3 recipient(s)" in out
    assert len(smtp_server.messages) == 3  # the other series' issue 1, to every reader
    assert all("Another Massage" in m.data.decode() for m in smtp_server.messages)

    code, out, err = ws.cli("status", "--json", now=iso(ISSUE_1))
    assert code == 0, err
    rows = {(r["series"], r["number"]): r for r in json.loads(out)["issues"]}
    failed = rows[(SLUG, 1)]
    assert failed["state"] == "failed" and failed["sent"] == 0
    assert "holds U+" in failed["reason"]
    assert rows[("another-massage-series", 1)]["state"] == "done"
    code, out, err = ws.cli("status", now=iso(ISSUE_1))
    assert f"{SLUG} issue 1 failed, nothing sent: its subject" in out

    # The next pass does not try the failed issue again; issue 2 of the same series goes out.
    code, out, err = ws.cli("run", "--once", now=iso(ISSUE_2))
    assert code == 0, err
    assert "failed" not in err
    assert f"started {SLUG} issue 2: 3 recipient(s)" in out


def test_replace_clears_a_failed_issue(tmp_path: Path, smtp_server: SmtpTestServer) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(2)
    post = _two_series(ws, tmp_path)
    _spoil_issue_1(ws, "bad\u2029subject")
    assert ws.cli("run", "--once", now=iso(ISSUE_1))[0] == 0
    code, _, err = ws.cli(
        "schedule", post, *ACCEPT, "--start", "2025-03-03", "--replace", now=BEFORE
    )
    assert code == 0, err
    code, out, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    assert f"started {SLUG} issue 1: 2 recipient(s)" in out


def test_a_dry_run_reports_the_failed_issue_and_writes_the_rest(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(2)
    _two_series(ws, tmp_path)
    _spoil_issue_1(ws, "bad\x0bsubject")
    code, _, err = ws.cli("run", "--dry-run", "--out", tmp_path / "dry", now=iso(ISSUE_1))
    assert code == 0, err
    assert f"{SLUG} issue 1 failed" in err
    assert len(list((tmp_path / "dry").rglob("*.eml"))) == 2


def test_a_subject_pattern_with_a_control_character_is_refused(tmp_path: Path) -> None:
    assert subject_pattern_error("{number}: {title}") is None
    assert "U+0085" in (subject_pattern_error("{number}:\x85{title}") or "")
    ws = Workspace(tmp_path, None)
    text = ws.config.read_text("utf-8")
    ws.config.write_text(
        text.replace("[newsletter]\n", '[newsletter]\nsubject = "{number}\\u2028{title}"\n', 1),
        "utf-8",
    )
    code, _, err = ws.cli("split", SAMPLE, now=BEFORE)
    assert "U+2028" in one_line_error(code, err)


def test_a_post_with_pasted_separators_schedules_and_sends_cleanly(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    """Case 2 as it was met: U+2028, U+2029 and NEL in a title and a heading, pasted from the
    web, next to another series in the same outbox."""
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(2)
    pasted = tmp_path / "pasted.txt"
    pasted.write_text(
        SAMPLE.read_text("utf-8")
        .replace(TITLE, "Massage for the\u2028(mental) Health of It")
        .replace("Improved Sleep", "Improved\u0085Sleep\u2029"),
        "utf-8",
    )
    other = tmp_path / "other.txt"
    other.write_text(SAMPLE.read_text("utf-8").replace(TITLE, "Another Massage Series"), "utf-8")
    for post in (pasted, other):
        code, _, err = ws.cli("schedule", post, *ACCEPT, "--start", "2025-03-03", now=BEFORE)
        assert code == 0, err
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    assert "failed" not in err and "Traceback" not in err
    subjects = sorted(str(m.parsed()["Subject"]) for m in smtp_server.messages)
    assert len(subjects) == 4
    assert all(not any(c in s for c in "\u2028\u2029\x85\r\n") for s in subjects)
    assert "Improved Sleep" in subjects[-1]
