"""Our own posts with their sidecars (NAME.expected.json beside NAME.txt|.md|.html): the split a
careful editor would make of each, shared by tests/test_shapes.py and tests/test_shapes2.py."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from newsletter.errors import PostError
from newsletter.model import Post
from newsletter.readers import read_post

POST_SUFFIXES = (".txt", ".md", ".html")
SIDECAR = ".expected.json"


def collapse(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Shape:
    post: Path
    expected: dict[str, Any]

    @property
    def name(self) -> str:
        return self.post.name


def _post_for(sidecar: Path) -> Path:
    stem = sidecar.name[: -len(SIDECAR)]
    found = [sidecar.parent / f"{stem}{suffix}" for suffix in POST_SUFFIXES]
    found = [p for p in found if p.exists()]
    assert len(found) == 1, f"{sidecar.name}: expected one post beside it, found {found}"
    return found[0]


def shapes(folder: Path) -> list[Shape]:
    """Every post in `folder` with the split its sidecar expects."""
    return [
        Shape(_post_for(sidecar), json.loads(sidecar.read_text(encoding="utf-8")))
        for sidecar in sorted(folder.glob(f"*{SIDECAR}"))
    ]


@functools.cache
def _read(path: Path) -> Post | str:
    """The post, or the reader's error as text (each test then fails with it)."""
    try:
        return read_post(str(path))
    except PostError as e:
        return f"PostError: {e}"


def read(shape: Shape) -> Post:
    """The post as read once per run, or the test fails saying why the reader gave up."""
    post = _read(shape.post)
    if isinstance(post, str):
        pytest.fail(f"{shape.name}: the reader gave up: {post}")
    return post


def check_sections(shape: Shape) -> None:
    got = [collapse(s.heading) for s in read(shape).sections]
    expected = [collapse(s) for s in shape.expected["sections"]]
    assert got == expected, (
        f"{shape.name}: sections differ\n  got:      {got}\n  expected: {expected}"
    )


def check_title(shape: Shape) -> None:
    got = collapse(read(shape).title)
    expected = collapse(shape.expected["title"])
    assert got == expected, f"{shape.name}: title {got!r}, expected {expected!r}"


def check_conclusion(shape: Shape) -> None:
    """The heading that opens the closing part (none: null in the sidecar)."""
    post = read(shape)
    got = collapse(post.conclusion_heading) if post.conclusion_heading else None
    expected = shape.expected["conclusion_heading"]
    expected = collapse(expected) if expected else None
    assert got == expected, (
        f"{shape.name}: conclusion heading {got!r}, expected {expected!r}"
        f" (sections: {[s.heading for s in post.sections]})"
    )
