"""A series is its post, not its title (issue 10, case 1): a fixed typo in the title and
`schedule --replace` replace the queued series in place instead of queueing a second one."""

from __future__ import annotations

from pathlib import Path

from newsletter.outbox import Outbox, same_post
from tests.helpers import SAMPLE
from tests.smtpd import SmtpTestServer
from tests.workspace import ACCEPT, BEFORE, ISSUE_1, Workspace, iso, one_line_error

TYPO = "Massage for the (mental) Helth of It"
FIXED = "Massage for the (mental) Health of It"


def _post(path: Path, title: str) -> Path:
    path.write_text(SAMPLE.read_text("utf-8").replace(FIXED, title), "utf-8")
    return path


def _schedule(ws: Workspace, post: Path, *extra: str) -> tuple[int, str, str]:
    return ws.cli("schedule", post, *ACCEPT, "--start", "2025-03-03", *extra, now=BEFORE)


def test_a_fixed_typo_asks_for_replace_then_replaces_in_place(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(3)
    post = _post(tmp_path / "post.txt", TYPO)
    code, out, err = _schedule(ws, post)
    assert code == 0, err
    assert "(massage-for-the-mental-helth-of-it)" in out

    _post(post, FIXED)  # the writer fixes the typo in the same file
    code, _, err = _schedule(ws, post)
    line = one_line_error(code, err.splitlines()[-1])
    assert "already scheduled as 'massage-for-the-mental-helth-of-it'" in line
    assert "add --replace" in line

    code, out, err = _schedule(ws, post, "--replace")
    assert code == 0, err
    assert f"was '{TYPO}'" in out
    with Outbox.open(ws.outbox) as ob:
        status = ob.status()
    assert {st.series_slug for st in status} == {"massage-for-the-mental-health-of-it"}
    assert len(status) == 5
    assert all(TYPO not in st.subject for st in status)

    code, out, err = ws.cli("status", now=BEFORE)
    assert code == 0, err
    assert "Helth" not in out and out.count("massage-for-the-mental-health-of-it (") == 1

    code, out, err = ws.cli("run", "--dry-run", "--out", tmp_path / "dry", now=iso(ISSUE_1))
    assert code == 0, err
    assert len(list((tmp_path / "dry").rglob("*.eml"))) == 3  # was 6: two series, 3 readers


def test_another_post_with_the_same_title_is_another_series(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(1)
    first = _post(tmp_path / "a.txt", FIXED)
    second = _post(tmp_path / "b.txt", FIXED)
    assert _schedule(ws, first)[0] == 0
    code, out, err = _schedule(ws, second)
    assert code == 0, err  # not "already scheduled": it is not the same post
    assert "(massage-for-the-mental-health-of-it-2)" in out
    # --replace on the second post never touches the first post's series.
    code, _, err = _schedule(ws, second, "--replace", "--at", "11:00")
    assert code == 0, err
    with Outbox.open(ws.outbox) as ob:
        times = {(st.series_slug, st.send_at.hour) for st in ob.status() if st.number == 1}
    assert times == {
        ("massage-for-the-mental-health-of-it", 14),
        ("massage-for-the-mental-health-of-it-2", 16),
    }


def test_the_same_file_named_another_way_is_the_same_post(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(1)
    post = _post(tmp_path / "post.txt", FIXED)
    assert _schedule(ws, post)[0] == 0
    code, _, err = _schedule(ws, tmp_path / "." / ".." / tmp_path.name / "post.txt")
    assert "already scheduled" in one_line_error(code, err.splitlines()[-1])


def test_same_post_compares_urls_as_given_and_paths_resolved(tmp_path: Path) -> None:
    url = "https://blog.example/post/"
    assert same_post(url, url)
    assert not same_post(url, "https://blog.example/other/")
    assert not same_post(url, str(tmp_path / "post"))
    assert same_post(str(tmp_path / "x" / ".." / "post.md"), str(tmp_path / "post.md"))
