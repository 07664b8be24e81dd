"""Readers: one per kind of source, all ending in the same `Post`.

Like pelican's readers, each knows one input kind and is chosen by the file's extension or by
`--format`: Markdown (.md, .markdown), HTML (.html, .htm, a saved page), copied text (.txt), and a
URL given instead of a file (fetched, then read as HTML). A reader turns its source into nodes and
metadata; `outline` then chooses the sections the same way for all of them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import PostError
from ..model import Block, Post, Reference, Span, TextWarning
from ..text import plain, sentences
from .nodes import Node, PageMeta
from .outline import (
    Outline,
    assemble,
    choose_outline,
    is_furniture,
    loosely_equal,
    numbering,
    starts_with_phrase,
    words,
)
from .warnings import text_warnings

FORMATS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".txt": "text",
    ".text": "text",
}
FORMAT_NAMES = ("markdown", "html", "text")

# What to do when no sections were found, by input kind: the one line says the next step.
_NO_SECTIONS_HINT = {
    "markdown": "give each section a heading ('## ' lines, all at one level)",
    "html": "run `newsletter import` on it, then mark each section with a '## ' heading in the "
    "Markdown it writes",
    "text": "run `newsletter import` on it, then mark each section with a '## ' heading in the "
    "Markdown it writes",
}


@dataclass(frozen=True)
class Source:
    """A post's raw text and what it is: the reader's input."""

    text: str
    name: str  # a path or a URL, for messages
    fmt: str
    url: str | None = None  # where the page lives, when known


def detect_format(name: str, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in FORMAT_NAMES:
            raise PostError(f"{name}: unknown format {fmt!r}: use one of {', '.join(FORMAT_NAMES)}")
        return fmt
    suffix = Path(name).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    raise PostError(
        f"{name}: unknown post format {suffix or '(no extension)'!r}: use .md, .html or .txt, "
        "or say --format markdown|html|text"
    )


def open_source(name: str, fmt: str | None = None) -> Source:
    """Read a file, or fetch a URL, into a `Source`."""
    from .fetch import fetch_page, is_url

    if is_url(name):
        page = fetch_page(name)
        return Source(_safe_source(page.text), name, fmt or "html", url=page.url)
    path = Path(name)
    if path.is_dir():
        raise PostError(f"{path}: is a folder, not a post")
    kind = detect_format(name, fmt)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PostError(f"{path}: no such file") from None
    except OSError as e:
        raise PostError(f"{path}: cannot read ({e.strerror})") from None
    if kind == "html":
        from .html import decode_html

        text = decode_html(raw)
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise PostError(
                f"{path}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
                "save the post as UTF-8"
            ) from None
    text = _safe_source(text.replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        raise PostError(f"{path}: the post is empty")
    return Source(text, str(path), kind)


def read_post(name: str, fmt: str | None = None, *, strict: bool = False) -> Post:
    """The post at `name` (a path or a URL), read by the reader for its kind and outlined."""
    src = open_source(name, fmt)
    post = parse_source(src)
    if strict and post.warnings:
        first = post.warnings[0]
        more = f" (and {len(post.warnings) - 1} more)" if len(post.warnings) > 1 else ""
        raise PostError(f"{first.source}:{first.line}: {first.message}{more}")
    if not post.sections:
        raise PostError(f"found no sections in {post.source}: {_NO_SECTIONS_HINT[src.fmt]}")
    return post


Reader = Callable[[Source], tuple[PageMeta, list[Node], list[Reference], list[TextWarning]]]


def _read_markdown(src: Source) -> tuple[PageMeta, list[Node], list[Reference], list[TextWarning]]:
    from .markdown import read_markdown

    meta, nodes = read_markdown(src.text, src.name)
    warnings: list[TextWarning] = []
    if not meta.title:
        first = next((k for k, n in enumerate(nodes) if n.block.kind == "h"), None)
        h1s = [n for n in nodes if n.block.kind == "h" and n.level == 1]
        if first is not None and (len(h1s) == 1 and nodes[first] is h1s[0]):
            meta = dataclasses.replace(meta, title=nodes[first].text)
            nodes = nodes[:first] + nodes[first + 1 :]
        else:
            title = _title_from_file_name(src.name)
            warnings.append(
                TextWarning(
                    src.name,
                    1,
                    f"no title: using {title!r} from the file name; add 'title:' front matter",
                )
            )
            meta = dataclasses.replace(meta, title=title)
    return meta, nodes, [], warnings


def _title_from_file_name(name: str) -> str:
    """Jekyll's way: "2019-05-01-general-advice.md" is "General Advice"."""
    stem = Path(name).stem
    stem = re.sub(r"^\d{4}-\d{1,2}-\d{1,2}-", "", stem)
    stem = re.sub(r"^\d+[-_]", "", stem) if re.match(r"^\d+[-_]\D", stem) else stem
    text = re.sub(r"[-_]+", " ", stem).strip()
    return text[:1].upper() + text[1:] if text else "Untitled"


def _read_text(src: Source) -> tuple[PageMeta, list[Node], list[Reference], list[TextWarning]]:
    from .text import read_text

    meta, nodes, refs = read_text(src.text, src.name)
    if not meta.title:
        raise PostError(f"{src.name}: found no text once page chrome was removed")
    return meta, nodes, refs, []


def _read_html(src: Source) -> tuple[PageMeta, list[Node], list[Reference], list[TextWarning]]:
    from .html import read_html

    meta, nodes = read_html(src.text, src.name, src.url)
    if meta.title:
        # The headline itself opens the article's nodes: it is the title, not a heading.
        nodes = [
            n
            for n in nodes
            if not (n.block.kind == "h" and n.level <= 1 and loosely_equal(n.text, meta.title))
        ] or nodes
    return meta, nodes, [], []


READERS: dict[str, Reader] = {"markdown": _read_markdown, "text": _read_text, "html": _read_html}


def parse_source(src: Source) -> Post:
    """Read `src` with its reader, then choose its outline."""
    meta, nodes, refs, warnings = READERS[src.fmt](src)
    nodes = [_tidy(n) for n in nodes]
    nodes = [n for n in nodes if not (n.block.kind == "p" and is_furniture(n.text))]
    nodes = _long_items_as_paragraphs(nodes)
    title = plain(meta.title or "")
    outline = choose_outline(nodes, title, _intro_hint(nodes))
    parts = assemble(nodes, outline, title)
    post = Post(
        title=title or "Untitled",
        source=src.name,
        sections=parts.sections,
        intro=parts.intro,
        conclusion=parts.conclusion,
        conclusion_heading=parts.conclusion_heading,
        references=tuple(
            dataclasses.replace(r, text=plain(r.text)) for r in (tuple(refs) or parts.references)
        ),
        author=plain(meta.author or "") or None,
        url=meta.url or src.url,
        date=plain(meta.date or "") or None,
        tags=tuple(t for t in (plain(t) for t in meta.tags) if t),
        summary=plain(meta.summary or "") or None,
        series=plain(meta.series or "") or None,
    )
    found = tuple(warnings) + tuple(text_warnings(post, scraped=src.fmt == "text"))
    return dataclasses.replace(post, warnings=tuple(sorted(found, key=lambda w: w.line)))


# Control characters no text should carry (C0 and C1 but tab and newline, DEL): pasted web text
# brings them, and in a subject line they would break the header.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f\ufeff\ufffe\uffff]")


def _safe_source(text: str) -> str:
    """The source's text as every reader gets it: Unicode line and paragraph separators and NEL
    are spaces (pasted web text puts them inside headings), control characters are gone."""
    return _CONTROL.sub("", re.sub("[\u2028\u2029\u0085]", " ", text))


def _tidy_spans(spans: tuple[Span, ...]) -> tuple[Span, ...]:
    """Whitespace as a reader sees it: runs of spaces (and no-break spaces, line separators) are
    one space; code keeps its own lines; control characters go."""
    out: list[Span] = []
    for sp in spans:
        text = _CONTROL.sub("", sp.text)
        text = text if sp.code else re.sub(r"\s+", " ", text)
        if out and not sp.code and out[-1].text.endswith(" ") and text.startswith(" "):
            text = text[1:]
        out.append(dataclasses.replace(sp, text=text))
    if out:
        out[0] = dataclasses.replace(out[0], text=out[0].text.lstrip())
        out[-1] = dataclasses.replace(out[-1], text=out[-1].text.rstrip())
    return tuple(sp for sp in out if sp.text)


def _tidy(node: Node) -> Node:
    b = node.block
    if b.kind == "code":
        b = dataclasses.replace(b, code=_CONTROL.sub("", b.code.replace("\u2028", "\n")))
    elif b.kind in ("p", "h", "quote", "img"):
        b = dataclasses.replace(b, spans=_tidy_spans(b.spans))
    elif b.kind in ("ul", "ol"):
        b = dataclasses.replace(b, items=tuple(_tidy_spans(it) for it in b.items))
    return dataclasses.replace(node, block=b, lead=plain(node.lead))


# A numbered list whose every item runs this long is a list of sections, not a list in one.
LONG_ITEM_WORDS = 25
MIN_LONG_ITEMS = 3


def _long_items_as_paragraphs(nodes: list[Node]) -> list[Node]:
    """A numbered list of long items ("1. Pay yourself first. Set up a standing order…") as
    numbered paragraphs, so the outline can take each item as a run-in section."""
    out: list[Node] = []
    for node in nodes:
        b = node.block
        long_items = b.kind == "ol" and len(b.items) >= MIN_LONG_ITEMS
        if not long_items or any(words(Block("p", it).text) < LONG_ITEM_WORDS for it in b.items):
            out.append(node)
            continue
        for n, item in enumerate(b.items, start=1):
            block = Block("p", (Span(f"{n}. "), *item), line=b.line)
            out.append(Node(block, indent=node.indent, line=node.line))
    return out


def _intro_hint(nodes: list[Node]) -> str:
    """Lead-in sentences near the top, where a post says how many items follow ("Here are 15
    tips to…:", "Voici sept raisons :"): those ending in a colon or announcing the list."""
    out: list[str] = []
    for n in nodes[:40]:
        if n.block.kind == "h" or numbering(n.text) is not None:
            break  # the list has begun: numbers from here on count other things
        if n.block.kind != "p" or words(n.text) < 4:
            continue
        for sentence in (part for s in sentences(n.text) for part in re.split(r"(?<=:)\s+", s)):
            s = sentence.strip()
            if s.endswith(":") or re.match(r"(?i)(?:here|hier|voici|voilà|ecco|aquí|aqui)\b", s):
                out.append(s)
    return " ".join(out)


__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "Node",
    "Outline",
    "PageMeta",
    "Source",
    "open_source",
    "parse_source",
    "read_post",
    "starts_with_phrase",
]
