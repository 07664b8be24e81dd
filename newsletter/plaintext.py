"""The plain-text part: the issue's structured content wrapped at 72 columns, links as
"text (URL)", quotes with "> ", lists with bullets or numbers. Made from the same blocks as the
HTML, never from it."""

from __future__ import annotations

import re
import textwrap
from typing import Any

from .model import Block, Issue, Span

TEXT_WIDTH = 72


def _wrapper(width: int, first: str = "", rest: str = "") -> textwrap.TextWrapper:
    return textwrap.TextWrapper(
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def wrap(text: str, width: int = TEXT_WIDTH, first: str = "", rest: str = "") -> str:
    """Wrap one paragraph at `width` columns; long URLs stay whole on their own line."""
    return _wrapper(width, first, rest).fill(" ".join(text.split())) or first.rstrip()


def spans_plain(spans: tuple[Span, ...]) -> str:
    """Inline text for the plain-text part: links as "text (URL)"."""
    out: list[str] = []
    for s in spans:
        if not s.href:
            out.append(s.text)
            continue
        shown = s.href.removeprefix("mailto:")
        core = s.text.strip()
        if not core or core in (s.href, shown):
            out.append(s.text.replace(core, shown) if core else shown)
            continue
        lead = s.text[: len(s.text) - len(s.text.lstrip())]
        trail = s.text[len(s.text.rstrip()) :]
        out.append(f"{lead}{core} ({shown}){trail}")
    return "".join(out)


def blocks_plain(blocks: tuple[Block, ...], width: int = TEXT_WIDTH) -> str:
    """Paragraphs wrapped at `width`, quotes with "> ", lists with bullets or numbers."""
    parts: list[str] = []
    for b in blocks:
        if b.kind == "code":
            parts.append("\n".join("    " + line for line in b.code.rstrip("\n").splitlines()))
        elif b.kind == "quote":
            parts.append(wrap(spans_plain(b.spans), width, "> ", "> "))
        elif b.kind == "img":
            alt = " ".join(spans_plain(b.spans).split())
            parts.append(wrap(f"[Image: {alt}]" if alt else "[Image]", width))
            if b.caption:
                parts[-1] += "\n" + wrap(spans_plain(b.caption), width)
        elif b.kind == "h":
            title = " ".join(spans_plain(b.spans).split())
            parts.append(wrap(title, width) + "\n" + "-" * min(len(title), width))
        elif b.kind in ("ul", "ol"):
            lines = []
            for n, item in enumerate(b.items, start=1):
                bullet = f"{n}. " if b.kind == "ol" else "  * "
                indent = " " * len(bullet)
                lines.append(wrap(spans_plain(item), width, bullet, indent))
            parts.append("\n".join(lines))
        else:
            text = spans_plain(b.spans)
            if text.strip():
                parts.append(wrap(text, width))
    return "\n\n".join(p for p in parts if p.strip())


def tidy_text(text: str) -> str:
    """Trailing spaces off (not the "-- " signature line), no double blank lines, final newline."""
    lines = [line if line == "-- " else line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


def underline(text: str, char: str = "=") -> str:
    longest = max((len(line) for line in str(text).splitlines()), default=0)
    return char * longest


def text_parts(issue: Issue) -> dict[str, Any]:
    """The issue's content as the text template gets it (`text.intro`, `text.body`,
    `text.conclusion`, and `text.references`: numbered, wrapped entries)."""
    return {
        "intro": blocks_plain(issue.intro),
        "body": blocks_plain(issue.blocks),
        "conclusion": blocks_plain(issue.conclusion),
        "references": tuple(
            wrap(
                r.text + (f" ({r.href})" if r.href else ""),
                TEXT_WIDTH,
                f"{r.marker}. ",
                " " * (len(r.marker) + 2),
            )
            for r in issue.references
        ),
    }
