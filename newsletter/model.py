"""The values that flow through the pipeline: a post, its series of issues, and their content.

Content is kept structured (paragraphs, lists, quotes, links) rather than as HTML or Markdown, so
the HTML email and the plain-text part are both generated from the same source and cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Span:
    """A run of inline text; `href` makes it a link."""

    text: str
    href: str | None = None
    strong: bool = False
    em: bool = False
    code: bool = False


BlockKind = Literal["p", "h", "quote", "ul", "ol", "code", "img"]


@dataclass(frozen=True)
class Block:
    """One block of body content.

    kind is "p" (paragraph), "quote", "h" (a sub-heading inside a section), "ul"/"ol" (lists:
    `items` holds one tuple of spans per item), "code" (`code` holds the literal text) or "img"
    (a picture: `src`, its alt text as the spans, `width`/`height`/`caption` when known).
    """

    kind: BlockKind
    spans: tuple[Span, ...] = ()
    items: tuple[tuple[Span, ...], ...] = ()
    code: str = ""
    line: int = 0
    src: str = ""  # kind "img": the picture's URL as the source gives it (alt text: the spans)
    width: int = 0  # kind "img": its size in CSS pixels, when the source says (0: unknown)
    height: int = 0
    caption: tuple[Span, ...] = ()  # kind "img": a figure's caption, kept with its picture

    @property
    def text(self) -> str:
        """The block as plain text (list items on their own lines)."""
        if self.kind == "code":
            return self.code
        if self.kind in ("ul", "ol"):
            return "\n".join(spans_text(item) for item in self.items)
        return spans_text(self.spans)


def spans_text(spans: tuple[Span, ...]) -> str:
    return "".join(s.text for s in spans)


def paragraph(text: str, line: int = 0) -> Block:
    return Block("p", (Span(text),), line=line)


def blocks_text(blocks: tuple[Block, ...]) -> str:
    """Plain text of a run of blocks, one blank line between blocks; pictures are not text."""
    return "\n\n".join(b.text for b in blocks if b.kind != "img" and b.text.strip())


@dataclass(frozen=True)
class Reference:
    """An entry of the post's reference list; `marker` is its original number ("3")."""

    marker: str
    text: str
    href: str | None = None


@dataclass(frozen=True)
class TextWarning:
    """A suspicious spot in the source (a lost drop cap, a link with no target)."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: warning: {self.message}"


@dataclass(frozen=True)
class Section:
    heading: str
    blocks: tuple[Block, ...]
    line: int = 0


@dataclass(frozen=True)
class Post:
    title: str
    source: str
    sections: tuple[Section, ...]
    intro: tuple[Block, ...] = ()
    conclusion: tuple[Block, ...] = ()
    conclusion_heading: str | None = None
    references: tuple[Reference, ...] = ()
    author: str | None = None
    url: str | None = None
    date: str | None = None
    tags: tuple[str, ...] = ()
    summary: str | None = None
    warnings: tuple[TextWarning, ...] = ()
    series: str | None = None  # front matter `series:`: the series' short name in subjects


@dataclass(frozen=True)
class Issue:
    """One email of the series: one section, plus the intro (first) or conclusion (last)."""

    number: int
    total: int
    slug: str
    title: str
    subject: str
    preheader: str
    blocks: tuple[Block, ...]
    references: tuple[Reference, ...] = ()
    intro: tuple[Block, ...] = ()
    conclusion: tuple[Block, ...] = ()
    conclusion_heading: str | None = None
    next_title: str | None = None

    @property
    def text(self) -> str:
        return blocks_text(self.blocks)

    @property
    def is_last(self) -> bool:
        return self.number == self.total


@dataclass(frozen=True)
class Email:
    """One issue, rendered once: what every recipient gets, before their own parts go in.

    `html` and `text` still hold the per-recipient tokens (name, unsubscribe link). `mjml` is
    the template's output before compiling, and `warnings` what rendering noticed; neither is
    kept in the outbox.
    """

    subject: str
    preheader: str
    html: str
    text: str
    mjml: str = ""
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Series:
    post: Post
    slug: str
    issues: tuple[Issue, ...] = field(default_factory=tuple)

    @property
    def title(self) -> str:
        return self.post.title
