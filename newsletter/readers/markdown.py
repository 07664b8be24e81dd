"""Markdown posts: front matter (YAML `---`, TOML `+++` or Pelican `Key: value` lines) and a body
parsed by markdown-it-py into nodes. Raw HTML blocks are walked with lxml, so a `<h3>` inside an
`<ol><li>` stays a heading."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

import lxml.html  # type: ignore[import-untyped]
import yaml
from lxml import etree
from markdown_it import MarkdownIt
from markdown_it.token import Token

from ..errors import PostError
from ..model import Block, BlockKind, Span
from .nodes import Node, PageMeta

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_LIQUID = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
_HEADING_TAGS = {f"h{n}": n for n in range(1, 7)}
# HTML that carries no text for a reader: dropped with everything inside. Figures go too: the
# email does not carry the post's images, and a caption without its picture reads as noise.
_SKIP_TAGS = {
    "script", "style", "noscript", "template", "iframe", "svg", "img", "picture", "video",
    "audio", "figure", "form", "button", "input", "select", "textarea", "nav", "head",
}  # fmt: skip
_BLOCK_TAGS = {
    "p", "div", "section", "article", "aside", "header", "footer", "main", "ul", "ol", "li",
    "blockquote", "pre", "table", "tr", "td", "th", "dl", "dt", "dd", "hr", "details",
    "summary", *_HEADING_TAGS, *_SKIP_TAGS,
}  # fmt: skip


@dataclass
class _Heading:
    level: int
    text: str
    line: int
    blocks: list[Block] = field(default_factory=list)


def _front_matter(text: str, source: str) -> tuple[dict[str, Any], str, int]:
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text, 0
    try:
        data = yaml.safe_load(m.group(1) or "") or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 2}" if mark is not None else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise PostError(f"{source}{line}: front matter is not valid YAML ({problem})") from None
    except (ValueError, TypeError) as e:  # a date YAML cannot build: "2025-13-45"
        raise PostError(f"{source}:2: front matter has a value that is not valid ({e})") from None
    if not isinstance(data, dict):
        raise PostError(f"{source}:2: front matter must be a mapping of keys to values")
    offset = text[: m.end()].count("\n")
    return data, text[m.end() :], offset


def _str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    return " ".join(str(value).split()) or None


def _spans(token: Token | None) -> tuple[Span, ...]:
    """Inline tokens to spans: links keep their target, images become their alt text."""
    if token is None or not token.children:
        return ()
    out: list[Span] = []
    href: str | None = None
    strong = em = False
    for t in token.children:
        if t.type == "text":
            out.append(Span(t.content, href, strong, em))
        elif t.type == "code_inline":
            out.append(Span(t.content, href, strong, em, code=True))
        elif t.type in ("softbreak", "hardbreak"):
            out.append(Span(" ", href))
        elif t.type == "link_open":
            href = str(t.attrs.get("href", "")) or None
        elif t.type == "link_close":
            href = None
        elif t.type == "strong_open":
            strong = True
        elif t.type == "strong_close":
            strong = False
        elif t.type == "em_open":
            em = True
        elif t.type == "em_close":
            em = False
        elif t.type == "image":
            alt = t.content or ""
            if alt:
                out.append(Span(alt, href))
        elif t.type == "html_inline" and t.content.lower().startswith("<br"):
            out.append(Span(" ", href))
    merged: list[Span] = []
    for s in out:
        if merged and (merged[-1].href, merged[-1].strong, merged[-1].em, merged[-1].code) == (
            s.href,
            s.strong,
            s.em,
            s.code,
        ):
            merged[-1] = Span(merged[-1].text + s.text, s.href, s.strong, s.em, s.code)
        else:
            merged.append(s)
    if merged:
        merged[0] = Span(merged[0].text.lstrip(), *_attrs(merged[0]))
        merged[-1] = Span(merged[-1].text.rstrip(), *_attrs(merged[-1]))
    return tuple(s for s in merged if s.text)


def _only_images(token: Token) -> bool:
    """A paragraph that is just a picture: the email does not carry it, nor its alt text."""
    children = token.children or []
    return any(c.type == "image" for c in children) and all(
        c.type in ("image", "softbreak", "hardbreak")
        or (c.type == "text" and not c.content.strip())
        for c in children
    )


def _images(token: Token, line: int) -> list[Block]:
    """A paragraph of pictures as image blocks (alt text and address)."""
    return [
        Block(
            "img",
            (Span(c.content or ""),),
            line=line,
            src=str(c.attrs.get("src", "")),
            caption=(Span(str(c.attrs["title"])),) if c.attrs.get("title") else (),
        )
        for c in token.children or []
        if c.type == "image" and c.attrs.get("src")
    ]


def _attrs(s: Span) -> tuple[str | None, bool, bool, bool]:
    return s.href, s.strong, s.em, s.code


def _html_inline(el: Any, href: str | None = None) -> list[Span]:
    """An element's inline content as spans: links keep their target, images and other media
    drop out, line breaks become spaces."""
    out: list[Span] = []
    if el.text:
        out.append(Span(el.text, href))
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _SKIP_TAGS:
            pass
        elif tag == "br":
            out.append(Span(" ", href))
        elif tag == "a":
            out.extend(_html_inline(child, child.get("href") or href))
        else:
            inner = _html_inline(child, href)
            flags = {"strong": tag in ("strong", "b"), "em": tag in ("em", "i")}
            if tag == "code":
                inner = [Span(x.text, x.href, x.strong, x.em, code=True) for x in inner]
            elif flags["strong"] or flags["em"]:
                inner = [
                    Span(x.text, x.href, x.strong or flags["strong"], x.em or flags["em"], x.code)
                    for x in inner
                ]
            out.extend(inner)
        if child.tail:
            out.append(Span(child.tail, href))
    return out


def _tidy(spans: list[Span]) -> tuple[Span, ...]:
    """Whitespace collapsed as a browser would, the ends trimmed, empty spans gone."""
    tidy: list[Span] = []
    for x in spans:
        text = re.sub(r"\s+", " ", x.text)
        if tidy and not tidy[-1].text.strip() and not text.strip():
            continue
        tidy.append(Span(text, x.href, x.strong, x.em, x.code))
    if tidy:
        tidy[0] = Span(tidy[0].text.lstrip(), *_attrs(tidy[0]))
        tidy[-1] = Span(tidy[-1].text.rstrip(), *_attrs(tidy[-1]))
    return tuple(x for x in tidy if x.text)


def _html_events(raw: str, line: int) -> list[Block | _Heading]:
    """A raw HTML block, in document order, as headings and the blocks under them.

    Walked with lxml rather than matched with regexes, so the paragraph after each `<h3>` stays
    under that heading and nested markup (a list item holding a heading and its text) reads right.
    """
    try:
        parts = lxml.html.fragments_fromstring(raw)
    except (etree.ParserError, ValueError):
        return []
    events: list[Block | _Heading] = []
    loose: list[Span] = []

    def flush() -> None:
        spans = _tidy(loose)
        loose.clear()
        if spans:
            events.append(Block("p", spans, line=line))

    def walk(el: Any) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if not tag or tag in _SKIP_TAGS:
            return
        if tag in _HEADING_TAGS:
            flush()
            text = " ".join(el.text_content().split())
            if text:
                events.append(_Heading(_HEADING_TAGS[tag], text, line))
        elif tag in ("ul", "ol") and not any(_has_blocks(li) for li in el):
            flush()
            items = tuple(_tidy(_html_inline(li)) for li in el if li.tag == "li")
            if any(items):
                kind: BlockKind = "ol" if tag == "ol" else "ul"
                events.append(Block(kind, items=tuple(i for i in items if i), line=line))
        elif tag == "blockquote" and not _has_blocks(el):
            flush()
            spans = _tidy(_html_inline(el))
            if spans:
                events.append(Block("quote", spans, line=line))
        elif tag == "pre":
            flush()
            code = el.text_content().strip("\n")
            if code.strip():
                events.append(Block("code", code=code, line=line))
        elif tag in _BLOCK_TAGS and _has_blocks(el):
            flush()
            if el.text:
                loose.append(Span(el.text))
            for child in el:
                walk(child)
                if child.tail:
                    loose.append(Span(child.tail))
            flush()
        elif tag in _BLOCK_TAGS:
            flush()
            loose.extend(_html_inline(el))
            flush()
        else:  # inline markup at the top of the block: part of a loose paragraph
            loose.extend(_html_inline(el))
        return

    for part in parts:
        if isinstance(part, str):
            loose.append(Span(part))
            continue
        walk(part)
        if part.tail:
            loose.append(Span(part.tail))
    flush()
    return events


def _has_blocks(el: Any) -> bool:
    return any(isinstance(c.tag, str) and c.tag in _BLOCK_TAGS for c in el)


_TOML_FRONT_MATTER = re.compile(r"\A\+\+\+[ \t]*\n(.*?\n)?\+\+\+[ \t]*(?:\n|\Z)", re.DOTALL)
# Pelican and MultiMarkdown: "Title: …" lines at the very top, ended by a blank line.
_METADATA_LINE = re.compile(r"^(?P<key>[A-Za-z][\w -]{0,30}):[ \t]*(?P<value>.*)$")
# Front-matter keys in the languages the readers know, as the standard key they mean.
_KEYS = {
    "title": "title", "titel": "title", "titre": "title", "título": "title", "titolo": "title",
    "タイトル": "title", "标题": "title", "標題": "title",
    "author": "author", "authors": "author", "autor": "author", "auteur": "author",
    "autore": "author", "verfasser": "author", "作者": "author", "著者": "author",
    "date": "date", "datum": "date", "fecha": "date", "data": "date", "published": "date",
    "日付": "date", "日期": "date",
    "url": "url", "canonical_url": "url", "canonical": "url", "link": "url",
    "tags": "tags", "tag": "tags", "categories": "tags", "category": "tags",
    "schlagwörter": "tags", "étiquettes": "tags", "etiquetas": "tags", "keywords": "tags",
    "summary": "summary", "description": "summary", "excerpt": "summary",
    "zusammenfassung": "summary", "résumé": "summary", "resumen": "summary",
    "lang": "language", "language": "language", "sprache": "language", "langue": "language",
    "series": "series", "serie": "series", "série": "series", "reihe": "series",
}  # fmt: skip


def _toml_front_matter(text: str, source: str) -> tuple[dict[str, Any], str, int] | None:
    m = _TOML_FRONT_MATTER.match(text)
    if not m:
        return None
    try:
        data = tomllib.loads(m.group(1) or "")
    except tomllib.TOMLDecodeError as e:
        raise PostError(f"{source}: front matter is not valid TOML ({e})") from None
    return data, text[m.end() :], text[: m.end()].count("\n")


def _metadata_lines(text: str, source: str) -> tuple[dict[str, Any], str, int] | None:
    """Pelican-style "Key: value" lines opening the file; at least a title or two keys."""
    lines = text.split("\n")
    data: dict[str, Any] = {}
    k = 0
    while k < len(lines) and lines[k].strip():
        m = _METADATA_LINE.match(lines[k])
        if not m:
            return None
        data[m.group("key").strip().lower()] = m.group("value").strip()
        k += 1
    if not data or not ("title" in data or len(data) >= 2):
        return None
    return data, "\n".join(lines[k:]), k


def front_matter(text: str, source: str) -> tuple[dict[str, Any], str, int]:
    """The metadata block opening the post, whichever of the three forms it takes."""
    for parse in (_toml_front_matter, _metadata_lines):
        found = parse(text, source)
        if found is not None:
            return found
    return _front_matter(text, source)


def _meta(data: dict[str, Any], source: str) -> PageMeta:
    std: dict[str, Any] = {}
    for key, value in data.items():
        name = _KEYS.get(str(key).lower())
        if name and name not in std and value not in (None, "", []):
            std[name] = value
    series = std.get("series")
    if isinstance(series, list):  # a Hugo taxonomy: the post's first series names it
        std["series"] = next((str(x) for x in series if isinstance(x, str | int)), None)
    for key in ("title", "date", "url", "summary", "language", "series"):
        if isinstance(std.get(key), list | dict):
            raise PostError(f"{source}: front matter {key} must be text, not a list or a mapping")
    tags = std.get("tags") or ()
    if isinstance(tags, str | int | float):
        tags = [t for t in re.split(r"[,;]\s*|\s+", str(tags)) if t]
    elif not isinstance(tags, list | tuple):
        raise PostError(f"{source}: front matter tags must be a list of words")
    author = std.get("author")
    if isinstance(author, list):
        author = ", ".join(str(a) for a in author)
    if isinstance(author, dict):
        author = author.get("name")
    return PageMeta(
        title=_str(std, "title"),
        author=" ".join(str(author).split()) if author else None,
        date=_str(std, "date"),
        url=_str(std, "url"),
        tags=tuple(str(t) for t in tags if isinstance(t, str | int)),
        summary=_str(std, "summary"),
        language=_str(std, "language"),
        series=_str(std, "series"),
    )


def _emphasis(token: Token) -> tuple[bool, str]:
    """Whether a paragraph is all bold, and the bold run-in lead that opens it if any."""
    children = [
        c for c in (token.children or []) if not (c.type == "text" and not c.content.strip())
    ]
    if not children or children[0].type != "strong_open":
        return False, ""
    depth = 0
    lead: list[str] = []
    for k, c in enumerate(children):
        if c.type == "strong_open":
            depth += 1
        elif c.type == "strong_close":
            depth -= 1
            if depth == 0:
                rest = children[k + 1 :]
                text = "".join(x.content for x in rest if x.type in ("text", "code_inline"))
                if not rest or not text.strip(" \t.:;,!?-–—"):
                    return True, ""
                return False, "".join(lead).strip()
        elif c.type in ("text", "code_inline"):
            lead.append(c.content)
        elif c.type in ("softbreak", "hardbreak"):
            lead.append(" ")
    return False, ""


def _list_items(tokens: list[Token], i: int) -> tuple[list[tuple[Span, ...]], int]:
    t = tokens[i]
    close = t.type.replace("_open", "_close")
    depth, j, items = 0, i, []
    while j < len(tokens):
        tj = tokens[j]
        if tj.type == t.type:
            depth += 1
        elif tj.type == close:
            depth -= 1
            if depth == 0:
                break
        elif tj.type == "inline" and depth == 1:
            items.append(_spans(tj))
        elif tj.type == "inline":
            items.append((Span("  "), *_spans(tj)))
        j += 1
    return [it for it in items if it], j


def _quote(tokens: list[Token], i: int) -> tuple[tuple[Span, ...], int]:
    depth, j = 0, i
    parts: list[Span] = []
    while j < len(tokens):
        if tokens[j].type == "blockquote_open":
            depth += 1
        elif tokens[j].type == "blockquote_close":
            depth -= 1
            if depth == 0:
                break
        elif tokens[j].type == "inline":
            if parts:
                parts.append(Span(" "))
            parts.extend(_spans(tokens[j]))
        j += 1
    return tuple(parts), j


def markdown_nodes(body: str, offset: int = 0) -> list[Node]:
    """The body as nodes, in order; Liquid/Hugo template tags and HTML comments carry no text."""
    body = _LIQUID.sub("", body)
    tokens = MarkdownIt("commonmark").parse(body)
    nodes: list[Node] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        line = (t.map[0] + 1 + offset) if t.map else 0
        if t.type == "heading_open":
            spans = _spans(tokens[i + 1])
            if spans:
                nodes.append(Node(Block("h", spans, line=line), level=int(t.tag[1]), line=line))
            i += 3
            continue
        if t.type == "paragraph_open":
            inline = tokens[i + 1]
            if _only_images(inline):
                nodes.extend(Node(b, line=line) for b in _images(inline, line))
                i += 3
                continue
            spans = _spans(inline)
            if spans:
                bold, lead = _emphasis(inline)
                nodes.append(Node(Block("p", spans, line=line), bold=bold, lead=lead, line=line))
            i += 3
            continue
        if t.type in ("bullet_list_open", "ordered_list_open"):
            items, j = _list_items(tokens, i)
            if items:
                kind: BlockKind = "ol" if t.type.startswith("ordered") else "ul"
                nodes.append(Node(Block(kind, items=tuple(items), line=line), line=line))
            i = j + 1
            continue
        if t.type == "blockquote_open":
            spans, j = _quote(tokens, i)
            if spans:
                nodes.append(Node(Block("quote", spans, line=line), line=line))
            i = j + 1
            continue
        if t.type in ("fence", "code_block"):
            nodes.append(Node(Block("code", code=t.content.rstrip("\n"), line=line), line=line))
        elif t.type == "html_block":
            for event in _html_events(t.content, line):
                if isinstance(event, _Heading):
                    block = Block("h", (Span(event.text),), line=line)
                    nodes.append(Node(block, level=event.level, line=line))
                else:
                    nodes.append(Node(event, bold=_all_strong(event), line=line))
        i += 1
    return nodes


def _all_strong(block: Block) -> bool:
    return (
        block.kind == "p"
        and bool(block.spans)
        and all(s.strong or not s.text.strip() for s in block.spans)
    )


def read_markdown(text: str, source: str) -> tuple[PageMeta, list[Node]]:
    data, body, offset = front_matter(text, source)
    return _meta(data, source), markdown_nodes(body, offset)
