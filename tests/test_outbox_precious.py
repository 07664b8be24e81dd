"""The outbox is precious: a run never makes one, stops when its file goes away or is swapped,
locks the real file, says "disk full" or "damaged" in one line with nothing half-recorded, and
`newsletter backup` copies it (issue 10, cases 5 and 7). Real files, a real full tmpfs, a real
SMTP server; everything through the CLI.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from newsletter.outbox import Outbox
from newsletter.runner import runner_lock
from tests.smtpd import SmtpTestServer
from tests.workspace import ISSUE_1, ISSUE_2, Workspace, iso, one_line_error

PAGE = 4096


def _remove(outbox: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{outbox}{suffix}").unlink(missing_ok=True)


def _stopped(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err.decode()


def test_run_never_creates_an_outbox(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    ws.subscribers(2)
    for args in (("run", "--once"), ("run",), ("run", "--dry-run"), ("backup", "b.sqlite3")):
        code, _, err = ws.cli(*args, now=iso(ISSUE_1))
        assert "no outbox yet" in one_line_error(code, err), args
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newsletter.toml", "subscribers.csv"]


@pytest.mark.parametrize("loop", [False, True], ids=["once", "loop"])
def test_an_outbox_deleted_mid_run_stops_with_one_line(
    tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer], loop: bool
) -> None:
    """Case 5: no "sent 200", no quiet new outbox with a new unsubscribe secret."""
    server = smtp_server_factory(reply_delay=0.01)
    ws = Workspace(tmp_path, server)
    ws.subscribers(200)
    ws.schedule()
    proc = ws.spawn("run", *(() if loop else ("--once",)), now=iso(ISSUE_1))
    try:
        assert len(server.wait_for(20, timeout=90)) >= 20
        _remove(ws.outbox)
    finally:
        code, err = _stopped(proc)
    assert "the outbox is gone (deleted or moved while running)" in one_line_error(code, err)
    assert "no new outbox was made" in err
    arrived = len(server.messages)
    assert arrived < 200
    assert not ws.outbox.exists()
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert "no outbox yet" in one_line_error(code, err)
    assert not ws.outbox.exists() and len(server.messages) == arrived


def test_an_outbox_replaced_mid_run_stops_with_one_line(
    tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server_factory(reply_delay=0.01)
    (tmp_path / "other").mkdir()
    other = Workspace(tmp_path / "other", None)
    other.schedule()
    ws = Workspace(tmp_path, server)
    ws.subscribers(200)
    ws.schedule()
    proc = ws.spawn("run", now=iso(ISSUE_1))
    try:
        assert len(server.wait_for(20, timeout=90)) >= 20
        os.replace(other.outbox, ws.outbox)
    finally:
        code, err = _stopped(proc)
    assert "the outbox was replaced by another file while running" in one_line_error(code, err)
    assert len(server.messages) < 200


def test_an_unreadable_outbox_is_one_line(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    ws.subscribers(2)
    ws.outbox.write_bytes(b"these are not the pages you are looking for\n" * 200)
    for args in (("run", "--once"), ("status",), ("backup", "b.sqlite3")):
        code, _, err = ws.cli(*args, now=iso(ISSUE_1))
        assert "not a usable outbox database" in one_line_error(code, err), args
    assert not (tmp_path / "b.sqlite3").exists()


def test_the_runner_lock_is_taken_on_the_real_file(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    """A second runner reaching the outbox through a symlink is refused, either way round."""
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(2)
    ws.schedule()
    link = tmp_path / "link.sqlite3"
    link.symlink_to(ws.outbox.name)
    config = ws.config.read_text(encoding="utf-8")
    ws.config.write_text(config.replace('"outbox.sqlite3"', '"link.sqlite3"'), encoding="utf-8")
    for held in (ws.outbox, link):
        with runner_lock(held):
            code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
        assert "another 'newsletter run' is sending" in one_line_error(code, err)
    assert smtp_server.messages == []
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    assert len(smtp_server.messages) == 2


# -- a damaged page ---------------------------------------------------------------------------


def test_a_damaged_page_is_one_line_on_every_pass(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    """Case 7: garbage over any one page of a real outbox: one line or a pass, never a traceback
    or "cannot rollback"; the root page of the deliveries table says "damaged" every time."""
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(3)
    ws.schedule()
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    with closing(sqlite3.connect(ws.outbox)) as db:
        (root,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'deliveries'"
        ).fetchone()
    pristine = ws.outbox.read_bytes()
    assert not Path(f"{ws.outbox}-wal").exists()  # everything is in the main file
    damaged = 0
    for page in range(2, len(pristine) // PAGE + 1):
        garbage = bytearray(pristine)
        garbage[(page - 1) * PAGE : page * PAGE] = os.urandom(PAGE)
        ws.outbox.write_bytes(bytes(garbage))
        for _ in range(2):
            code, _, err = ws.cli("run", "--once", now=iso(ISSUE_2))
            if code == 0:
                break
            line = one_line_error(code, err)
            assert "cannot rollback" not in line and "unexpected" not in line, line
            damaged += "the outbox is damaged" in line
            if page == root:
                assert "the outbox is damaged (database disk image is malformed)" in line
                assert "restore a backup" in line
        _remove(ws.outbox)
    assert damaged >= 2
    # A backup refuses to copy a damaged outbox, and leaves no file behind.
    garbage = bytearray(pristine)
    garbage[(root - 1) * PAGE : root * PAGE] = os.urandom(PAGE)
    ws.outbox.write_bytes(bytes(garbage))
    code, _, err = ws.cli("backup", tmp_path / "b.sqlite3", now=iso(ISSUE_2))
    assert "the outbox is damaged" in one_line_error(code, err)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".b.", "b."))]


# -- a full disk --------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB tmpfs, mounted for this test and removed after it."""
    where = tmp_path / "disk"
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a tmpfs for the disk-full test: {done.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs (needs root): {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):
        while f.write(b"\0" * PAGE):
            pass  # until the disk is full (ENOSPC)
    return filler


def test_a_full_disk_is_one_line_with_nothing_half_recorded(
    small_disk: Path, smtp_server: SmtpTestServer
) -> None:
    """Case 7: every pass on a full disk is the same one line; freeing space sends all, once."""
    ws = Workspace(small_disk, smtp_server)
    emails = ws.subscribers(50)
    ws.schedule()
    # A reader holds the WAL open, empty, so the run must find new blocks for every change.
    with Outbox.open(ws.outbox, create=False) as reader:
        before = reader.status()
        filler = _fill(small_disk)
        for _ in range(3):
            code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
            line = one_line_error(code, err)
            assert "the disk is full (database or disk is full)" in line, line
            assert "nothing is half-recorded" in line
            assert "cannot rollback" not in err
        code, _, err = ws.cli("backup", small_disk / "b.sqlite3", now=iso(ISSUE_1))
        assert "no backup was written" in one_line_error(code, err)
        assert sorted(p.name for p in small_disk.iterdir() if "b.sqlite3" in p.name) == []
        assert reader.counts() == {}
        assert reader.status() == before  # issue 1 still due, nothing started
        assert smtp_server.messages == []
        filler.unlink()
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    assert Counter(m.rcpt_tos[0] for m in smtp_server.messages) == Counter(emails)
    assert ws.counts() == {"sent": 50}


# -- backup and restore -----------------------------------------------------------------------


def test_backup_then_the_documented_restore(tmp_path: Path, smtp_server: SmtpTestServer) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(3)
    ws.schedule()
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    code, out, err = ws.cli("unsubscribe", "reader0002@example.com", now=iso(ISSUE_1))
    assert code == 0, err
    backup = tmp_path / "backups" / "outbox-2025-03-03.sqlite3"
    backup.parent.mkdir()
    code, out, err = ws.cli("backup", backup, now=iso(ISSUE_1))
    assert code == 0, err
    assert out == f"backed up {ws.outbox} to {backup}: 1 series, 3 deliveries\n"
    code, _, err = ws.cli("backup", backup, now=iso(ISSUE_1))
    assert "already exists; a backup never overwrites a file" in one_line_error(code, err)
    code, _, err = ws.cli("backup", tmp_path / "no" / "b.sqlite3", now=iso(ISSUE_1))
    assert "its folder does not exist" in one_line_error(code, err)
    with Outbox.open(ws.outbox, create=False) as ob:
        secret = ob.unsubscribe_secret()

    # The outbox is lost; the README's restore: runner stopped, move the remains aside, copy.
    _remove(ws.outbox)
    shutil.copyfile(backup, ws.outbox)
    code, out, err = ws.cli("status", now=iso(ISSUE_2))
    assert code == 0, err
    with Outbox.open(ws.outbox, create=False) as ob:
        assert ob.unsubscribe_secret() == secret  # the links already sent still work
        assert ob.is_suppressed("reader0002@example.com")
        assert ob.counts() == {"sent": 3}
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_2))
    assert code == 0, err
    issue_2 = [m.rcpt_tos[0] for m in smtp_server.messages[3:]]
    assert sorted(issue_2) == ["reader0000@example.com", "reader0001@example.com"]


def test_backup_while_a_runner_sends(
    tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    """The online backup copies a consistent outbox while a run writes to it."""
    server = smtp_server_factory(reply_delay=0.005)
    ws = Workspace(tmp_path, server)
    ws.subscribers(100)
    ws.schedule()
    proc = ws.spawn("run", "--once", now=iso(ISSUE_1))
    try:
        assert len(server.wait_for(10, timeout=90)) >= 10
        code, _, err = ws.cli("backup", tmp_path / "hot.sqlite3", now=iso(ISSUE_1))
        assert code == 0, err
    finally:
        code, err = _stopped(proc)
    assert code == 0, err
    with closing(sqlite3.connect(tmp_path / "hot.sqlite3")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM deliveries").fetchone() == (100,)
