"""What `schedule` refuses (placeholders, known damage, several issues due at once) and how to
say otherwise; `unschedule`; `--replace` never touching an issue that has started; `status`
naming each series and its state. All through the command line, on a real SQLite outbox and a
real SMTP server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.outbox import Outbox
from tests.helpers import ROOT, SAMPLE
from tests.smtpd import SmtpTestServer
from tests.workspace import ACCEPT, Workspace, one_line_error, received

SLUG = "massage-for-the-mental-health-of-it"
NOW = "2026-12-01T10:00:00+00:00"  # a Tuesday
CLEAN = """---
title: Three Small Habits
author: Ada Writer
---

Three habits that help.

## Walk

Walk every day, even for ten minutes. It clears the head.

## Read

Read a chapter before bed. It calms the mind.

## Rest

Rest before you are tired. It keeps you going.
"""


def clean_post(folder: Path) -> Path:
    post = folder / "habits.md"
    post.write_text(CLEAN, encoding="utf-8")
    return post


def test_placeholder_settings_are_refused_naming_each_and_the_override(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    post = clean_post(tmp_path)
    code, _, err = ws.cli("schedule", post, now=NOW)
    line = one_line_error(code, err.splitlines()[-1])
    assert "not scheduling: [newsletter] still holds placeholders" in line
    for found in (
        "from = chelsa@example.com",
        "site_url = https://example.com",
        "the unsubscribe link https://example.com/unsubscribe",
        "postal_address = '12 Example Street, Springfield'",
        "--accept-placeholders",
    ):
        assert found in line
    assert not ws.outbox.exists()
    code, out, err = ws.cli("schedule", post, "--accept-placeholders", now=NOW)
    assert code == 0, err
    assert "   1. Mon 2026-12-07 09:00 EST" in out


def test_a_post_url_does_not_hide_the_unsubscribe_link_on_a_placeholder_site(
    tmp_path: Path,
) -> None:
    ws = Workspace(tmp_path, None)
    ws.use_real_names()
    ws.config.write_text(
        ws.config.read_text().replace('site_url = "https://bodyandmind.test"', ""), "utf-8"
    )
    post = clean_post(tmp_path)
    post.write_text(CLEAN.replace("author:", "url: https://blog.test/habits\nauthor:"), "utf-8")
    code, _, err = ws.cli("schedule", post, now=NOW)
    line = one_line_error(code, err.splitlines()[-1])
    assert "the unsubscribe link https://example.com/unsubscribe" in line
    assert "site_url = " not in line  # the post's own address is the emails' link


def test_with_no_settings_file_every_default_is_a_placeholder(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "newsletter", "schedule", str(clean_post(tmp_path))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "NEWSLETTER_NOW": NOW, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    line = one_line_error(r.returncode, r.stderr.splitlines()[-1])
    assert line.startswith("newsletter: error: no newsletter.toml: not scheduling")
    assert "from = newsletter@example.com" in line


def test_build_still_works_with_placeholders_and_only_warns(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    code, out, err = ws.cli("build", SAMPLE, "-o", tmp_path / "build", now=NOW)
    assert code == 0, err
    assert "links go to https://example.com, a placeholder" in err
    assert "wrote 5 issues" in out


def test_unresolved_warnings_are_refused_listing_them(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    ws.use_real_names()
    code, _, err = ws.cli("schedule", SAMPLE, now=NOW)
    line = one_line_error(code, err.splitlines()[-1])
    assert f"{SAMPLE}: not scheduling: 5 unresolved warning(s): line 46: paragraph starts" in line
    assert "line 70: link text with no link: 'click here'" in line
    assert "--accept-warnings" in line
    assert not ws.outbox.exists()
    code, out, err = ws.cli("schedule", SAMPLE, "--accept-warnings", now=NOW)
    assert code == 0, err
    assert "queued 'Massage for the (mental) Health of It'" in out
    code, out, err = ws.cli("schedule", clean_post(tmp_path), now=NOW)  # nothing to accept
    assert code == 0, err


def test_a_past_start_that_makes_several_issues_due_is_refused(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    ws.use_real_names()
    post = clean_post(tmp_path)
    code, _, err = ws.cli("schedule", post, "--start", "2026-11-16", now=NOW)
    line = one_line_error(code, err.splitlines()[-1], status=2)  # after any warnings
    assert "--start 2026-11-16 is in the past: 3 issues would be due at once" in line
    assert "Leave out --start to begin at the next slot (Mon 2026-12-07)" in line
    assert "--catch-up" in line
    assert not ws.outbox.exists()
    # One issue due is no surprise: it is simply due.
    code, out, err = ws.cli("schedule", post, "--start", "2026-11-30", now=NOW)
    assert code == 0, err
    assert "1 issue already due: the next 'newsletter run' sends it" in out


def test_catch_up_sends_the_missed_issues_one_per_run(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.use_real_names()
    ws.subscribers(2)
    post = clean_post(tmp_path)
    code, out, err = ws.cli("schedule", post, "--start", "2026-11-16", "--catch-up", now=NOW)
    assert code == 0, err
    assert "3 issues already due: 'newsletter run' sends them one per run" in out
    for run in (1, 2, 3):
        code, out, err = ws.cli("run", "--once", now=NOW)
        assert code == 0, err
        assert f"started three-small-habits issue {run}: 2 recipient(s)" in out
        assert len(smtp_server.messages) == 2 * run
    code, out, _ = ws.cli("run", "--once", now=NOW)
    assert "nothing due" in out


def test_unschedule_cancels_what_has_not_started_and_names_what_has(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(2)
    ws.schedule()  # five Mondays from 2025-03-03
    code, _, err = ws.cli("run", "--once", now="2025-03-03T14:00:00+00:00")
    assert code == 0, err
    code, out, err = ws.cli(
        "unschedule", "massage-for-the-mental-health-of-it", "--yes", now="2025-03-04T00:00:00Z"
    )
    assert code == 0, err
    assert "cancelled issue(s) 2, 3, 4, 5" in out
    assert "left alone: issue(s) 1 (sending had begun)" in out
    with Outbox.open(ws.outbox) as ob:
        phases = [st.phase(ob.status()[0].send_at) for st in ob.status()]
    assert phases == ["done", "cancelled", "cancelled", "cancelled", "cancelled"]
    code, out, err = ws.cli("run", "--once", now="2025-04-30T00:00:00+00:00")
    assert code == 0, err
    assert "nothing due" in out
    assert received(smtp_server) == {
        ("reader0000@example.com", 1): 1,
        ("reader0001@example.com", 1): 1,
    }
    code, out, _ = ws.cli("status", now="2025-04-30T00:00:00+00:00")
    assert (
        "massage-for-the-mental-health-of-it ('Massage for the (mental) Health of It'): "
        "cancelled, 1 of 5 issues started, 4 cancelled"
    ) in out
    ics = tmp_path / "plan.ics"
    code, out, err = ws.cli("calendar", "--ics", ics, now="2025-04-30T00:00:00+00:00")
    assert code == 0, err
    assert out.count("(cancelled)") == 4 and "wrote 1 event(s)" in out
    assert ics.read_bytes().count(b"BEGIN:VEVENT") == 1
    code, _, err = ws.cli("unschedule", "no-such-series", "--yes", now=NOW)
    line = one_line_error(code, err)
    assert "no series 'no-such-series'" in line and "massage-for-the-mental-health-of-it" in line


def test_unschedule_asks_first(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    ws.schedule()

    def unschedule(answer: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "newsletter", "--config", str(ws.config), "unschedule", SLUG],
            input=answer,
            capture_output=True,
            text=True,
            env={**os.environ, "NEWSLETTER_NOW": "2025-03-01T12:00:00+00:00"},
            timeout=60,
        )

    r = unschedule("n\n")
    assert "cancel issue(s) 1, 2, 3, 4, 5 of 'massage-for-the-mental-health-of-it'" in r.stdout
    assert "nothing cancelled" in one_line_error(r.returncode, r.stderr)
    with Outbox.open(ws.outbox) as ob:
        assert not any(st.cancelled for st in ob.status())
    r = unschedule("y\n")
    assert r.returncode == 0, r.stderr
    assert "cancelled issue(s) 1, 2, 3, 4, 5" in r.stdout
    # Cancelled in full, the series can be queued again without --replace.
    code, _, err = ws.cli(
        "schedule", SAMPLE, *ACCEPT, "--start", "2025-03-10", now="2025-03-01T12:00:00+00:00"
    )
    assert code == 0, err


def test_replace_never_changes_an_issue_that_has_started(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(1)
    edited = tmp_path / "post.txt"
    edited.write_text(SAMPLE.read_text("utf-8"), "utf-8")
    ws.schedule(edited)  # 09:00 New York
    code, _, err = ws.cli("run", "--once", now="2025-03-03T14:00:00+00:00")
    assert code == 0, err
    with Outbox.open(ws.outbox) as ob:
        before = ob.status()[0]
        html_before = ob.stored_issue(1).email.html
    edited.write_text(SAMPLE.read_text("utf-8").replace("Improved Sleep", "Better Sleep"), "utf-8")
    code, out, err = ws.cli(
        "schedule", edited, *ACCEPT, "--start", "2025-04-07", "--at", "07:30",
        "--tz", "Europe/London", "--replace", now="2025-03-04T00:00:00+00:00",
    )  # fmt: skip
    assert code == 0, err
    assert (
        "   1. Mon 2025-03-03 09:00 EST  (2025-03-03 14:00 UTC)  Improved Sleep"
        "  (sending had begun: kept as it was)"
    ) in out
    with Outbox.open(ws.outbox) as ob:
        after = ob.status()
        assert ob.stored_issue(1).email.html == html_before
    assert (after[0].send_at, after[0].timezone, after[0].local, after[0].title) == (
        before.send_at,
        "America/New_York",
        "Mon 2025-03-03 09:00 EST",
        "Improved Sleep",
    )
    assert [st.timezone for st in after[1:]] == ["Europe/London"] * 4
    code, out, _ = ws.cli("status", "--json", now="2025-03-04T00:00:00+00:00")
    issues = json.loads(out)["issues"]
    assert issues[0]["timezone"] == "America/New_York" and issues[0]["local"].endswith("EST")


def test_status_names_each_series_and_its_state(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.use_real_names()
    ws.subscribers(1)
    ws.schedule()
    code, _, err = ws.cli(
        "schedule", clean_post(tmp_path), "--start", "2025-06-02", now="2025-03-01T12:00:00+00:00"
    )
    assert code == 0, err
    code, _, err = ws.cli("run", "--once", now="2025-03-03T14:00:00+00:00")
    assert code == 0, err
    code, out, _ = ws.cli("status", now="2025-03-04T00:00:00+00:00")
    assert code == 0
    assert (
        "massage-for-the-mental-health-of-it ('Massage for the (mental) Health of It'): started, "
        "1 of 5 issues started, next Mon 2025-03-10 09:00 EDT"
    ) in out
    assert "three-small-habits ('Three Small Habits'): scheduled, 0 of 3 issues started" in out
    code, out, _ = ws.cli("status", "--json", now="2025-03-04T00:00:00+00:00")
    series = {s["slug"]: s for s in json.loads(out)["series"]}
    assert series["three-small-habits"]["state"] == "scheduled"
    assert series["massage-for-the-mental-health-of-it"]["state"] == "started"
    assert set(series["three-small-habits"]) == {
        "slug", "title", "state", "issues", "started", "cancelled", "next", "failed",
    }  # fmt: skip


@pytest.mark.parametrize("flag", ["--accept-warnings", "--accept-placeholders", "--catch-up"])
def test_each_override_has_help(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    from newsletter.cli import main

    with pytest.raises(SystemExit):
        main(["schedule", "--help"])
    assert flag in capsys.readouterr().out
