"""What every reader hands to the outline: the source's blocks in order, with the cues a
heading leaves behind (markup level, bold, a run-in lead, indentation), and the page's metadata.

Readers only *read*; choosing which blocks are the series' sections is `outline`'s job, done the
same way for every input kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Block


@dataclass(frozen=True)
class Node:
    """One block as read. `block.kind` is "h" for a heading in the markup (`level` 1-6); any other
    kind is body content whose layout may still make it a heading (a bold-only paragraph, a short
    line standing alone in copied text, a "Label:" line)."""

    block: Block
    level: int = 0  # heading markup level (h1-h6, '#' count), 0 when the markup has no heading
    bold: bool = False  # the whole paragraph is bold (<p><strong>…</strong></p>, **…**)
    lead: str = ""  # a bold run-in lead opening the paragraph ("1. The city council")
    indent: int = 0  # leading spaces of the line (copied text: lynx indents body text)
    line: int = 0  # 1-based line in the source, for warnings

    @property
    def text(self) -> str:
        return self.block.text


@dataclass(frozen=True)
class PageMeta:
    """What the source says about itself: front matter, <meta> tags, Pelican lines."""

    title: str | None = None
    author: str | None = None
    date: str | None = None
    url: str | None = None
    tags: tuple[str, ...] = ()
    summary: str | None = None
    language: str | None = None
    series: str | None = None  # the series' short name, for subjects (front matter `series:`)
