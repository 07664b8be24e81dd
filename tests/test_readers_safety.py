"""Text is made safe once, at the reader: line separators and control characters never reach a
title, a heading or a subject; bad front matter is one line; any input is a post or a PostError."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.errors import PostError
from newsletter.readers import Source, parse_source, read_post
from newsletter.series import split_post

# Characters pasted web text brings that must never reach a header or a heading.
HOSTILE = "\u2028\u2029\u0085\x00\x07\x0b\x0c\x1b\x7f\x9b\ufeff"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args], capture_output=True, text=True, timeout=60
    )


def _clean(text: str) -> bool:
    return not any(ch in text for ch in HOSTILE + "\r\n\t")


@pytest.mark.parametrize("suffix", [".md", ".txt"])
def test_separators_and_controls_never_reach_titles_headings_or_subjects(
    tmp_path: Path, suffix: str
) -> None:
    title = "Calm\u2028Mornings\x07 at Home"
    if suffix == ".md":
        body = (
            '---\ntitle: "Calm\\u2028Mornings\\a at Home"\n---\n\nIntro\u2029text.\n\n'
            "## One\u0085Step\n\nFirst\x00 body text with enough words to be a section.\n\n"
            "## Two\x1b Steps\n\nSecond body text with enough words to be a section.\n"
        )
    else:
        body = (
            f"{title}\n\nAn intro paragraph that is long enough to count as prose for the reader "
            "of copied text.\n\nOne\u0085Step\n\nFirst\x00 body text with enough words to be a "
            "section of the article, as written.\n\nTwo\x1b Steps\n\nSecond body text with enough "
            "words to be a section of the article, as written.\n"
        )
    post_file = tmp_path / f"post{suffix}"
    post_file.write_text(body, encoding="utf-8")
    series = split_post(read_post(str(post_file)))
    assert series.post.title == "Calm Mornings at Home"
    assert [i.title for i in series.issues] == ["One Step", "Two Steps"]
    for issue in series.issues:
        assert _clean(issue.subject) and _clean(issue.preheader) and _clean(issue.title)
        assert all(_clean(b.text) for b in issue.blocks)
    r = run("build", str(post_file), "-o", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("date: 2025-13-45", ":2: front matter has a value that is not valid (month must be in"),
        ("title: [a, b]", ": front matter title must be text, not a list or a mapping"),
        ("title: {x: 1}", ": front matter title must be text, not a list or a mapping"),
        ("tags: {a: 1}", ": front matter tags must be a list of words"),
    ],
)
def test_front_matter_of_the_wrong_type_is_one_line(
    tmp_path: Path, front: str, message: str
) -> None:
    post = tmp_path / "p.md"
    post.write_text(f"---\n{front}\n---\n\n## One\n\nText.\n\n## Two\n\nText.\n", encoding="utf-8")
    r = run("split", str(post))
    assert r.returncode == 1
    assert r.stderr.strip() == f"newsletter: error: {post}{message}" or (
        r.stderr.startswith(f"newsletter: error: {post}{message}") and "\n" not in r.stderr.strip()
    )


def test_a_number_as_tags_is_one_tag(tmp_path: Path) -> None:
    post = tmp_path / "p.md"
    post.write_text("---\ntitle: T\ntags: 5\n---\n\n## One\n\nText.\n\n## Two\n\nB.\n", "utf-8")
    assert read_post(str(post)).tags == ("5",)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(["markdown", "text", "html"]),
    text=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=400),
)
def test_any_input_is_a_post_or_one_clear_error(fmt: str, text: str) -> None:
    """Random Unicode, markup fragments included, through every reader: never a traceback."""
    for body in (text, f"# {text}\n\n## {text[:20]}\n\n{text}\n", f"<h2>{text}</h2><p>{text}</p>"):
        try:
            post = parse_source(Source(body, "fuzz", fmt))
        except PostError as e:
            assert "\n" not in str(e)
            continue
        if post.sections:
            for issue in split_post(post).issues:
                assert _clean(issue.subject)
