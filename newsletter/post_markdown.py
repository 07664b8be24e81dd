"""A `Post` written out as clean Markdown: what `newsletter import` gives the writer to check.

The Markdown reader reads this file back exactly as written: one `##` heading per section, the
intro above the first, the conclusion under its own heading, the references as a list. So a
writer fixes a wrong split, merges two sections or drops one by editing headings, and reading
the import gives the same series as reading the source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import yaml

from .model import Block, Post, Reference, Span, TextWarning

# Characters that would turn into markup where they stand in running text.
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>])")
# A paragraph opening that Markdown would read as a heading, list, quote or rule.
_BLOCK_START = re.compile(r"^(\s*)(#{1,6}(?=\s|$)|[-+*](?=\s)|>|(\d{1,9})([.)])(?=\s|$)|=+$|-+$)")


def escape(text: str) -> str:
    """Text as Markdown that reads back as the same text."""
    return _INLINE_SPECIAL.sub(r"\\\1", text)


def _escape_start(line: str) -> str:
    m = _BLOCK_START.match(line)
    if not m:
        return line
    if m.group(3):  # "1. Die …" is a paragraph, not a list
        return f"{m.group(1)}{m.group(3)}\\{m.group(4)}{line[m.end() :]}"
    return f"{m.group(1)}\\{line[len(m.group(1)) :]}"


def spans_markdown(spans: Iterable[Span]) -> str:
    out: list[str] = []
    for s in spans:
        if not s.text:
            continue
        if s.code:
            fence = "``" if "`" in s.text else "`"
            text = f"{fence}{s.text}{fence}" if fence == "`" else f"{fence} {s.text} {fence}"
        else:
            text = escape(s.text)
        lead, core, trail = _split_space(text)
        # Emphasis on bare punctuation ("graphite*.*") would not read back as emphasis.
        emphasis = bool(re.search(r"\w", core))
        if emphasis and s.strong:
            core = f"**{core}**"
        if emphasis and s.em:
            core = f"*{core}*"
        if core and s.href:
            core = f"[{core}](<{s.href}>)" if " " in s.href else f"[{core}]({s.href})"
        out.append(lead + core + trail)
    return " ".join("".join(out).split())


def _split_space(text: str) -> tuple[str, str, str]:
    """Emphasis markers must touch the text, so spaces at the ends stay outside them."""
    core = text.strip()
    if not core:
        return text, "", ""
    start = text.index(core)
    return text[:start], core, text[start + len(core) :]


def block_markdown(block: Block) -> str:
    if block.kind == "h":
        return "### " + spans_markdown(block.spans)
    if block.kind == "code":
        fence = "~~~" if "```" in block.code else "```"
        return f"{fence}\n{block.code}\n{fence}"
    if block.kind in ("ul", "ol"):
        lines = []
        for n, item in enumerate(block.items, start=1):
            marker = f"{n}." if block.kind == "ol" else "-"
            lines.append(f"{marker} {spans_markdown(item) or ' '}")
        return "\n".join(lines)
    if block.kind == "quote":
        return "> " + _escape_start(spans_markdown(block.spans))
    if block.kind == "img":
        alt = escape(block.text).replace("\n", " ")
        caption = " ".join("".join(s.text for s in block.caption).split()).replace('"', "'")
        title = f' "{caption}"' if caption else ""
        return f"![{alt}]({block.src}{title})" if block.src else ""
    return _escape_start(spans_markdown(block.spans))


def _heading(text: str) -> str:
    """A section heading on one line, its markup characters escaped."""
    return "## " + escape(" ".join(text.split()))


def _front_matter(post: Post) -> str:
    data: dict[str, object] = {"title": post.title}
    for key in ("author", "date", "url", "series"):
        value = getattr(post, key)
        if value:
            data[key] = value
    if post.tags:
        data["tags"] = list(post.tags)
    if post.summary:
        data["summary"] = post.summary
    dumped = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{dumped}---\n"


def _comment(w: TextWarning) -> str:
    message = w.message.replace("--", "–")  # "--" may not appear inside an HTML comment
    return f"<!-- newsletter: {message} -->"


def _with_warnings(blocks: Sequence[Block], warnings: list[TextWarning]) -> list[str]:
    """Each block as Markdown, with the warnings about it as comments right above it."""
    out: list[str] = []
    for b in blocks:
        text = block_markdown(b)
        if not text.strip():
            continue
        here = [w for w in warnings if b.line and w.line == b.line]
        for w in here:
            out.append(_comment(w))
            warnings.remove(w)
        out.append(text)
    return out


def _reference(ref: Reference) -> str:
    text = escape(ref.text)
    if ref.href and ref.href not in ref.text:
        text = f"{text} <{ref.href}>"
    return f"{ref.marker}. {text}" if ref.marker.isdigit() else f"- {text}"


def post_markdown(post: Post) -> str:
    """The post as Markdown with front matter, `##` sections and warnings in place."""
    warnings = list(post.warnings)
    parts = [_front_matter(post)]
    parts.extend(_with_warnings(post.intro, warnings))
    for section in post.sections:
        parts.append(_heading(section.heading))
        parts.extend(_with_warnings(section.blocks, warnings))
    if post.conclusion:
        parts.append(_heading(post.conclusion_heading or "Conclusion"))
        parts.extend(_with_warnings(post.conclusion, warnings))
    if post.references:
        parts.append("## References")
        parts.append("\n".join(_reference(r) for r in post.references))
    # Warnings whose spot did not survive (a line of chrome): at the top, so none is lost.
    if warnings:
        parts.insert(1, "\n".join(_comment(w) for w in warnings))
    return "\n\n".join(p.strip("\n") for p in parts if p.strip()) + "\n"
