"""The readers on a second set of posts of our own, in shapes the first set lacks.

Each post under tests/posts/shapes2/ (saved web pages, copied text from Chrome, `w3m -dump` and
`lynx -dump`, Markdown from Jekyll, Hugo and Pelican) has a sidecar `NAME.expected.json` saying
what a careful editor would make of it:

- `title`;
- `sections`: the headings as written, in order (intro, conclusion, FAQ and other back-matter
  headings are not sections);
- `conclusion_heading`: the heading that opens the closing part, or null when the post has none
  or when it is not worth asserting.

The sidecars say what is right, not what the readers do today: never edit one to match output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sidecars import (
    POST_SUFFIXES,
    Shape,
    check_conclusion,
    check_sections,
    check_title,
    collapse,
    shapes,
)

SHAPES = Path(__file__).parent / "posts" / "shapes2"
KEYS = {"title", "sections", "conclusion_heading"}


ALL = shapes(SHAPES)
WITH_CONCLUSION = [s for s in ALL if s.expected["conclusion_heading"]]

# What the readers get wrong today, and why: each case must still fail (strict), so the day a
# reader learns it, the test says so and the entry goes.
KNOWN_MISSES = {
    ("images-only-sections.html", "sections"): "no headings at all: each section opens with a "
    "photo whose caption names it, and captions are never taken for headings",
    ("images-only-sections.html", "title"): "the reader gives up on the post (no sections)",
    ("chrome-japanese-squares.txt", "title"): "the blog's name, printed twice above the post, "
    "outscores the headline, which sits below the tagline the text reader takes for prose",
}


def params(shapes: list[Shape], check: str = "") -> pytest.MarkDecorator:
    marked = [
        pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[(s.name, check)]))
        if (s.name, check) in KNOWN_MISSES
        else s
        for s in shapes
    ]
    return pytest.mark.parametrize("shape", marked, ids=[s.name for s in shapes])


# --- the sidecars themselves ---------------------------------------------------------------------


def test_every_post_has_a_sidecar() -> None:
    posts = {p for p in SHAPES.iterdir() if p.suffix in POST_SUFFIXES}
    assert len(ALL) >= 30
    assert posts == {s.post for s in ALL}


@params(ALL)
def test_sidecar_is_well_formed(shape: Shape) -> None:
    e = shape.expected
    assert set(e) == KEYS, f"{shape.name}: keys {sorted(set(e) ^ KEYS)}"
    assert isinstance(e["title"], str) and e["title"]
    assert isinstance(e["sections"], list) and len(e["sections"]) >= 2
    assert all(isinstance(s, str) and s.strip() for s in e["sections"])
    assert e["conclusion_heading"] is None or isinstance(e["conclusion_heading"], str)


@params(ALL)
def test_sidecar_quotes_its_post(shape: Shape) -> None:
    """Every heading the sidecar names is in the post's text, so the comparison can fail."""
    source = collapse(shape.post.read_text(encoding="utf-8"))
    e = shape.expected
    quoted = [e["title"], *e["sections"]]
    if e["conclusion_heading"]:
        quoted.append(e["conclusion_heading"])
    missing = [q for q in quoted if collapse(q) not in source]
    assert not missing, f"{shape.name}: not in the post: {missing}"


# --- the readers ---------------------------------------------------------------------------------


@params(ALL, "sections")
def test_sections(shape: Shape) -> None:
    check_sections(shape)


@params(ALL, "title")
def test_title(shape: Shape) -> None:
    check_title(shape)


@params(WITH_CONCLUSION)
def test_conclusion_heading(shape: Shape) -> None:
    check_conclusion(shape)
