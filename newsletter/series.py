"""Split a `Post` into a weekly `Series`: one section per issue, with the references each cites."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Any
from urllib.parse import urljoin, urlsplit

from .citations import cited_markers, strip_citations
from .errors import PostError
from .model import Block, Issue, Post, Series, TextWarning, blocks_text
from .text import leans_back, sentences

SUBJECT_MAX = 70
PREHEADER_MAX = 110

_NUMBER_PREFIX = re.compile(r"^\s*(?:\d{1,2}[.):]|#\d{1,2}:?)\s+")


def issue_title(heading: str) -> str:
    """The heading without a bare leading number: the email already says "Part 2 of 6"."""
    return _NUMBER_PREFIX.sub("", heading).strip() or heading.strip()


def slugify(text: str, max_len: int = 60) -> str:
    """ASCII, lowercase, hyphenated: safe for folder names and URLs."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0]
    return slug or "post"


def _shorten(text: str, limit: int) -> str:
    """Cut at a word boundary and mark the cut; whole text when it fits."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:-–— ")
    return cut + "…"


def preheader_for(blocks: tuple[Block, ...], limit: int = PREHEADER_MAX) -> str:
    """One sentence from the section that stands on its own and fits the inbox preview.

    Skipped: sentences with quotes (they rarely fit whole), ones that lean on the sentence
    before ("This…", "We…"), and ones starting lowercase (often a lost drop cap).
    """
    found: list[str] = []
    for b in blocks:
        if b.kind == "p":
            found.extend(strip_citations(s) for s in sentences(b.text))
    usable = [
        s for s in found if s[:1].isupper() and not re.search('["“”]', s) and not leans_back(s)
    ]
    for low in (60, 30):
        for s in usable:
            if low <= len(s) <= limit:
                return s
    first = usable[0] if usable else (found[0] if found else "")
    return _shorten(first, limit)


def subject_for(series_title: str, number: int, total: int, title: str) -> str:
    """ "<series>, N of M: <title>"; without the series name where that would pass the limit."""
    full = f"{series_title}, {number} of {total}: {title}"
    if series_title and len(full) <= SUBJECT_MAX:
        return full
    return f"{number} of {total}: {title}"  # a long title is never cut: the inbox does that


def _short_series_name(title: str) -> str:
    """A short name for the series in subject lines: the title up to its first colon or dash."""
    name = re.split(r"\s*(?::|\s[-–—|]\s)\s*", title, maxsplit=1)[0]
    return name if len(name) <= 40 else ""


def _image_src(src: str, base: str) -> str | None:
    """The picture's absolute http(s) address: as given, or resolved against the post's own
    URL; None when it is relative and there is no base, or not a web address at all."""
    src = src.strip()
    scheme = urlsplit(src).scheme.lower()
    if not scheme and base:
        src = urljoin(base, src)
        scheme = urlsplit(src).scheme.lower()
    return src if scheme in ("http", "https") and urlsplit(src).hostname else None


def _images(blocks: tuple[Block, ...], post: Post, warn: list[TextWarning]) -> tuple[Block, ...]:
    """Every picture with an absolute address; the ones the email cannot show are left out,
    each with a warning, and so is a picture without alt text kept with one."""
    base = post.url if post.url and urlsplit(post.url).scheme in ("http", "https") else ""
    kept: list[Block] = []
    for b in blocks:
        if b.kind != "img":
            kept.append(b)
            continue
        src = _image_src(b.src, base)
        if src is None:
            why = (
                "has a relative address and the post has no URL of its own: left out (give "
                "the post's address with --url or front matter url)"
                if not urlsplit(b.src).scheme and not b.src.startswith("//")
                else "is not an http(s) address: left out"
            )
            warn.append(TextWarning(post.source, b.line, f"image {b.src[:80]!r} {why}"))
            continue
        if not b.text.strip():
            warn.append(
                TextWarning(
                    post.source,
                    b.line,
                    f"image {b.src[:80]!r} has no alt text: readers with images off or a "
                    "screen reader get nothing; describe it (![what it shows](…) in Markdown, "
                    'alt="…" in HTML)',
                )
            )
        kept.append(dataclasses.replace(b, src=src))
    return tuple(kept)


def resolve_images(post: Post) -> Post:
    """The post with its pictures made absolute against `post.url` (the render stage's job,
    not the readers': `--url` is only known here), and a warning for each one left out."""
    warn: list[TextWarning] = []
    intro = _images(post.intro, post, warn)
    sections = tuple(
        dataclasses.replace(s, blocks=_images(s.blocks, post, warn)) for s in post.sections
    )
    conclusion = _images(post.conclusion, post, warn)
    return dataclasses.replace(
        post,
        intro=intro,
        sections=sections,
        conclusion=conclusion,
        warnings=post.warnings + tuple(warn),
    )


def first_image(series: Series) -> Block | None:
    """The post's first picture (intro first), for a template that shows one at the top."""
    post = series.post
    for block in (*post.intro, *(b for s in post.sections for b in s.blocks), *post.conclusion):
        if block.kind == "img":
            return block
    return None


def split_post(post: Post) -> Series:
    """One issue per section; issue 1 carries the intro, the last the conclusion."""
    if not post.sections:
        raise PostError(
            f"found no section headings in {post.source}: add '## ' headings or a list of "
            "items in the intro"
        )
    post = resolve_images(post)
    refs = {r.marker: r for r in post.references}
    total = len(post.sections)
    name = _short_series_name(post.title)
    slugs: set[str] = set()
    issues = []
    for i, section in enumerate(post.sections, start=1):
        title = issue_title(section.heading)
        slug = slugify(title, 50)
        base, n = slug, 2
        while slug in slugs:
            slug, n = f"{base}-{n}", n + 1
        slugs.add(slug)
        text = blocks_text(section.blocks)
        cited = tuple(refs[m] for m in cited_markers(text) if m in refs)
        nxt = issue_title(post.sections[i].heading) if i < total else None
        issues.append(
            Issue(
                number=i,
                total=total,
                slug=slug,
                title=title,
                subject=subject_for(name, i, total, title),
                preheader=preheader_for(section.blocks),
                blocks=section.blocks,
                references=cited,
                intro=post.intro if i == 1 else (),
                conclusion=post.conclusion if i == total else (),
                conclusion_heading=post.conclusion_heading if i == total else None,
                next_title=nxt,
            )
        )
    return Series(post=post, slug=slugify(post.title), issues=tuple(issues))


def series_json(series: Series) -> dict[str, Any]:
    """The stable JSON shape of `newsletter split --json` and build/<slug>/series.json."""
    issues: list[dict[str, Any]] = []
    for issue in series.issues:
        item: dict[str, Any] = {
            "number": issue.number,
            "slug": issue.slug,
            "title": issue.title,
            "subject": issue.subject,
            "preheader": issue.preheader,
            "text": issue.text,
            "references": [r.text for r in issue.references],
        }
        if issue.intro:
            item["intro"] = blocks_text(issue.intro)
        if issue.conclusion:
            item["conclusion"] = blocks_text(issue.conclusion)
        if issue.next_title:
            item["next"] = issue.next_title
        issues.append(item)
    return {
        "post": {
            "title": series.post.title,
            "author": series.post.author,
            "source": series.post.source,
        },
        "issues": issues,
    }
