"""The readers on posts nobody tuned them to: one post of the project's own per shape.

Each post under tests/posts/shapes/ (copied text, Markdown, saved web pages) has a sidecar
`NAME.expected.json` saying what a careful editor would make of it:

- `title`, and `sections`: the headings as written, in order (intro, conclusion and back-matter
  headings are not sections);
- `conclusion_heading`: the heading that opens the closing part, or null when there is none;
- `intro_starts`: the first words of the intro, which opens issue 1;
- `absent`: chrome and back matter (menus, galleries, cards, sponsor boxes, comments, credits)
  that must not reach any issue of the series;
- `warning` (optional): a piece of a warning the reader must give.

The sidecars say what is right, not what the readers do today: never edit one to match output.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsletter.model import Post, blocks_text
from newsletter.series import series_json, split_post
from tests.sidecars import (
    POST_SUFFIXES,
    Shape,
    check_conclusion,
    check_sections,
    check_title,
    collapse,
    read,
    shapes,
)

SHAPES = Path(__file__).parent / "posts" / "shapes"
# How far into issue 1's intro its first words may sit: room for a dateline or a key-points
# box above the first paragraph, not for an intro that starts somewhere else.
INTRO_START_WITHIN = 300
KEYS = {"title", "sections", "conclusion_heading", "intro_starts", "absent"}
OPTIONAL_KEYS = {"warning"}


ALL = shapes(SHAPES)


def params(shapes: list[Shape]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("shape", shapes, ids=[s.name for s in shapes])


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def series_text(post: Post) -> str:
    """Every string of the series JSON (issues, subjects, previews, intro, conclusion)."""
    return "\n".join(collapse(s) for s in _strings(series_json(split_post(post))))


def _source_text(path: Path) -> str:
    """The post's source as plain words: entities decoded, inline markup marks dropped."""
    text = html.unescape(path.read_text(encoding="utf-8"))
    return collapse(re.sub(r"[`*_]", "", text))


# --- the sidecars themselves: a check that cannot fail is no check ------------------------------


def test_every_post_has_a_sidecar() -> None:
    posts = {p for p in SHAPES.iterdir() if p.suffix in POST_SUFFIXES}
    assert len(ALL) >= 30
    assert posts == {s.post for s in ALL}


@params(ALL)
def test_sidecar_is_well_formed(shape: Shape) -> None:
    e = shape.expected
    assert KEYS <= set(e) <= KEYS | OPTIONAL_KEYS, sorted(set(e) ^ KEYS)
    assert isinstance(e["title"], str) and e["title"]
    assert isinstance(e["sections"], list) and len(e["sections"]) >= 3
    assert all(isinstance(s, str) and s.strip() for s in e["sections"])
    assert e["conclusion_heading"] is None or isinstance(e["conclusion_heading"], str)
    assert isinstance(e["intro_starts"], str) and e["intro_starts"]
    assert isinstance(e["absent"], list)


@params(ALL)
def test_sidecar_quotes_its_post(shape: Shape) -> None:
    """Headings, intro words and chrome the sidecar names are in the post, so every later
    comparison can fail."""
    source = _source_text(shape.post)
    e = shape.expected
    quoted = [*e["sections"], e["intro_starts"], *e["absent"]]
    if e["conclusion_heading"]:
        quoted.append(e["conclusion_heading"])
    if "warning" not in e:  # else the title comes from the file name
        quoted.append(e["title"])
    missing = [q for q in quoted if collapse(re.sub(r"[`*_]", "", q)) not in source]
    assert not missing, f"{shape.name}: not in the post: {missing}"


@params(ALL)
def test_sidecar_chrome_is_not_article_text(shape: Shape) -> None:
    """An `absent` string must not be something the series ought to carry."""
    e = shape.expected
    wanted = [*e["sections"], e["intro_starts"], e["conclusion_heading"] or ""]
    clashes = [a for a in e["absent"] for w in wanted if w and (a in w or w in a)]
    assert not clashes, f"{shape.name}: absent strings that are headings or intro: {clashes}"


# --- the readers ---------------------------------------------------------------------------------


@params(ALL)
def test_sections(shape: Shape) -> None:
    check_sections(shape)


@params(ALL)
def test_title(shape: Shape) -> None:
    check_title(shape)


@params(ALL)
def test_conclusion_heading(shape: Shape) -> None:
    check_conclusion(shape)


@params(ALL)
def test_intro(shape: Shape) -> None:
    post = read(shape)
    intro = collapse(blocks_text(post.intro))
    start = collapse(shape.expected["intro_starts"])
    at = intro.find(start)
    assert 0 <= at <= INTRO_START_WITHIN, (
        f"{shape.name}: intro should start with {start!r}\n  got: {intro[:200]!r}"
    )


WITH_ABSENT = [s for s in ALL if s.expected["absent"]]


@params(WITH_ABSENT)
def test_no_chrome_in_the_series(shape: Shape) -> None:
    text = series_text(read(shape))
    leaked = [a for a in shape.expected["absent"] if collapse(a) in text]
    assert not leaked, f"{shape.name}: chrome or back matter in the series: {leaked}"


WITH_WARNING = [s for s in ALL if "warning" in s.expected]


@params(WITH_WARNING)
def test_warning(shape: Shape) -> None:
    messages = [w.message for w in read(shape).warnings]
    assert any(shape.expected["warning"] in m for m in messages), (
        f"{shape.name}: no warning with {shape.expected['warning']!r}: {messages}"
    )
