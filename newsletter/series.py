"""Split a `Post` into a weekly `Series`: one section per issue, with the references each cites."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from .citations import cited_markers, strip_citations
from .errors import PostError
from .model import Block, Issue, Post, Series, blocks_text
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


def split_post(post: Post) -> Series:
    """One issue per section; issue 1 carries the intro, the last the conclusion."""
    if not post.sections:
        raise PostError(
            f"found no section headings in {post.source}: add '## ' headings or a list of "
            "items in the intro"
        )
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
