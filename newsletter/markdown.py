"""Markdown posts: YAML front matter plus a body parsed by markdown-it-py into `Post` blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import lxml.html  # type: ignore[import-untyped]
import yaml
from lxml import etree
from markdown_it import MarkdownIt
from markdown_it.token import Token

from .errors import PostError
from .model import Block, Post, Reference, Section, Span

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
_CONCLUSION = re.compile(
    r"^(?:conclusions?|in conclusion|final thoughts|wrap-?up|wrapping up|summary|in summary|"
    r"the bottom line|bottom line|(?:my |key )?(?:\w+ )?takeaways?|closing thoughts|"
    r"to sum (?:things|it) up|tl;?dr)\b",
    re.IGNORECASE,
)
_REFERENCES = re.compile(
    r"^(?:references|sources|further reading|bibliography|notes|footnotes|citations)\W*$",
    re.IGNORECASE,
)
_INTRO = re.compile(
    r"^(?:introduction|intro|who is this (?:post|article|guide) for|about this (?:article|post)|"
    r"background|overview|before we (?:start|begin))\W*$",
    re.IGNORECASE,
)


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
                kind = "ol" if tag == "ol" else "ul"
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


def parse_markdown(text: str, source: str) -> Post:
    data, body, offset = _front_matter(text, source)
    body = _LIQUID.sub("", body)
    md = MarkdownIt("commonmark")
    tokens = md.parse(body)
    root = _Heading(0, "", 0)
    heads: list[_Heading] = [root]

    def add(block: Block) -> None:
        heads[-1].blocks.append(block)

    i = 0
    while i < len(tokens):
        t = tokens[i]
        line = (t.map[0] + 1 + offset) if t.map else 0
        if t.type == "heading_open":
            level = int(t.tag[1])
            heads.append(_Heading(level, "".join(s.text for s in _spans(tokens[i + 1])), line))
            i += 3
            continue
        if t.type == "paragraph_open":
            spans = () if _only_images(tokens[i + 1]) else _spans(tokens[i + 1])
            if spans:
                add(Block("p", spans, line=line))
            i += 3
            continue
        if t.type in ("bullet_list_open", "ordered_list_open"):
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
            kind = "ol" if t.type.startswith("ordered") else "ul"
            add(Block(kind, items=tuple(it for it in items if it), line=line))
            i = j + 1
            continue
        if t.type == "blockquote_open":
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
            if parts:
                add(Block("quote", tuple(parts), line=line))
            i = j + 1
            continue
        if t.type in ("fence", "code_block"):
            add(Block("code", code=t.content.rstrip("\n"), line=line))
        elif t.type == "html_block":
            for event in _html_events(t.content, line):
                if isinstance(event, _Heading):
                    heads.append(event)
                else:
                    add(event)
        i += 1

    title = _str(data, "title")
    found = heads[1:]
    if title is None:
        h1 = [h for h in found if h.level == 1]
        if len(h1) == 1 and found and found[0] is h1[0]:
            title = h1[0].text
            root.blocks.extend(h1[0].blocks)
            found = found[1:]
    if title is None:
        raise PostError(f"{source}:1: no title: add 'title:' front matter or a '# ' heading")
    return _assemble(title, data, found, root.blocks, source)


def _assemble(
    title: str, data: dict[str, Any], found: list[_Heading], intro: list[Block], source: str
) -> Post:
    """Top-level headings become sections; lower ones stay inside as sub-headings."""
    intro = list(intro)
    level = min((h.level for h in found), default=2)
    sections: list[Section] = []
    conclusion: list[Block] = []
    conclusion_heading: str | None = None
    references: list[Reference] = []
    where = "body"
    for h in found:
        if h.level > level:
            target = intro if where == "body" and not sections else None
            block = Block("h", (Span(h.text),), line=h.line)
            if where == "conclusion":
                conclusion.extend([block, *h.blocks])
            elif where == "references":
                references.extend(_references(h.blocks, len(references)))
            elif target is not None:
                target.extend([block, *h.blocks])
            else:
                last = sections[-1]
                sections[-1] = Section(last.heading, (*last.blocks, block, *h.blocks), last.line)
            continue
        if _REFERENCES.match(h.text):
            where = "references"
            references.extend(_references(h.blocks, len(references)))
        elif _CONCLUSION.match(h.text) and sections:
            where = "conclusion"
            conclusion_heading = conclusion_heading or h.text
            conclusion.extend(h.blocks)
        elif where == "conclusion":
            conclusion.extend([Block("h", (Span(h.text),), line=h.line), *h.blocks])
        elif not sections and _INTRO.match(h.text):
            intro.extend(h.blocks)
        else:
            where = "body"
            sections.append(Section(h.text, tuple(h.blocks), h.line))
    tags = data.get("tags") or data.get("categories") or ()
    if isinstance(tags, str):
        tags = [t for t in re.split(r"[,\s]+", tags) if t]
    return Post(
        title=title,
        source=source,
        sections=tuple(sections),
        intro=tuple(intro),
        conclusion=tuple(conclusion),
        conclusion_heading=conclusion_heading,
        references=tuple(references),
        author=_str(data, "author"),
        url=_str(data, "url") or _str(data, "canonical_url"),
        date=_str(data, "date"),
        tags=tuple(str(t) for t in tags if isinstance(t, str | int)),
        summary=_str(data, "summary") or _str(data, "description"),
    )


def _references(blocks: list[Block], start: int) -> list[Reference]:
    refs: list[Reference] = []
    for b in blocks:
        entries = list(b.items) if b.kind in ("ul", "ol") else [b.spans] if b.kind == "p" else []
        for spans in entries:
            text = "".join(s.text for s in spans).strip()
            if not text:
                continue
            href = next((s.href for s in spans if s.href), None)
            m = re.match(r"^(?:\((\d+)\)|\[(\d+)\])\s*", text)
            marker = (m.group(1) or m.group(2)) if m else str(start + len(refs) + 1)
            refs.append(Reference(marker, text[m.end() :] if m else text, href))
    return refs
