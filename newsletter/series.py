"""Split a `Post` into a weekly `Series`: one section per issue, with the references each cites."""

from __future__ import annotations

import dataclasses
import re
import string
import unicodedata
from typing import Any
from urllib.parse import urljoin, urlsplit

from .citations import cited_markers, strip_citations
from .errors import PostError
from .model import Block, Issue, Post, Series, TextWarning, blocks_text
from .text import header_trouble, leans_back, sentences

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


SUBJECT_PATTERN = "{series}, {number} of {total}: {title}"
SUBJECT_FIELDS = frozenset({"series", "number", "total", "title"})

# Words a shortened series name may not end on ("Massage for the" reads as a cut).
_DANGLING = frozenset(
    {"a", "an", "and", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the", "to"}
    | {"with", "und", "der", "die", "das", "le", "la", "les", "de", "et", "y", "el", "il"}
)


def subject_pattern_error(pattern: str) -> str | None:
    """What is wrong with a subject pattern, or None: {title} and {number} must be in it, and
    nothing but {series}, {number}, {total} and {title}."""
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None}
    except ValueError as e:
        return f"is not a pattern ({e}); write placeholders as {{title}}"
    unknown = sorted(fields - SUBJECT_FIELDS)
    if unknown:
        return (
            f"has an unknown placeholder {{{unknown[0]}}}: use {{series}}, {{number}}, "
            "{total} and {title}"
        )
    if not {"title", "number"} <= fields:
        return "must hold {title} and {number}"
    return header_trouble(pattern)


def subject_for(
    series: str, number: int, total: int, title: str, pattern: str = SUBJECT_PATTERN
) -> str:
    """The pattern filled in; with no series name, {series} and the separator after (or
    before) it drop out, so every issue of a series keeps one shape."""
    if not series:
        pattern = re.sub(r"\{series\}[\s,:;·|–—-]*", "", pattern)
        pattern = re.sub(r"[\s,:;·|–—(\[-]*\{series\}[)\]]*", "", pattern)
    return pattern.format(series=series, number=number, total=total, title=title).strip()


def series_name(
    post: Post, titles: list[str], pattern: str = SUBJECT_PATTERN, given: str = ""
) -> str:
    """The series' name in subjects: front matter `series:`, else `given` (the setting), else
    the title up to its first colon or dash, cut at a word boundary until every subject of
    the series fits SUBJECT_MAX; "" (no name in any subject) when not even a word fits.

    A title is never cut: a subject whose title alone is too long keeps it whole, and the
    inbox cuts it.
    """
    if post.series:
        return post.series.strip()
    if given:
        return given.strip()
    total = len(titles)
    words = re.split(r"\s*(?::|\s[-–—|]\s)\s*", post.title, maxsplit=1)[0].split()
    while words:
        name = " ".join(words).rstrip(",;:-–— ")
        balanced = name.count("(") == name.count(")") and name.count("[") == name.count("]")
        if balanced and words[-1].lower() not in _DANGLING:
            longest = max(
                len(subject_for(name, n, total, t, pattern)) for n, t in enumerate(titles, 1)
            )
            if longest <= SUBJECT_MAX:
                return name
        words.pop()
    return ""


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


def split_post(post: Post, *, name: str = "", subject: str = SUBJECT_PATTERN) -> Series:
    """One issue per section; issue 1 carries the intro, the last the conclusion.

    `name` and `subject` are `[newsletter] series_name` and `subject`: every issue's subject
    has the one shape `subject` gives (see `series_name`).
    """
    if not post.sections:
        raise PostError(
            f"found no section headings in {post.source}: add '## ' headings or a list of "
            "items in the intro"
        )
    post = resolve_images(post)
    refs = {r.marker: r for r in post.references}
    total = len(post.sections)
    titles = [issue_title(section.heading) for section in post.sections]
    name = series_name(post, titles, subject, name)
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
                subject=subject_for(name, i, total, title, subject),
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
