"""Social captions: one per platform for every issue, ready to paste without editing.

Each caption is built from the issue's own text (its key sentence first, then a sentence or two of
the point where the platform has room), the series context ("Part 2 of 5"), the link with UTM
parameters and hashtags. Length is counted the way each platform counts it, and parts are added
only while the caption still fits, so nothing is ever cut mid-word, mid-sentence or mid-grapheme.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import regex
from twitter_text import parse_tweet
from twitter_text.extract_urls import extract_urls_with_indices

from .citations import strip_citations
from .config import Settings
from .errors import ConfigError, UsageError
from .links import social_link
from .model import Block, Issue, Series
from .text import leans_back, plain, sentences

PLATFORMS: tuple[str, ...] = (
    "x",
    "bluesky",
    "mastodon",
    "threads",
    "linkedin",
    "instagram",
    "facebook",
)


@dataclass(frozen=True)
class PlatformRule:
    """One platform's rules: how long a caption may be, how that is counted, what else applies."""

    name: str
    label: str
    limit: int
    counting: str
    max_hashtags: int
    max_points: int
    hook_fold: int | None = None
    point_fold: int | None = None
    max_links: int | None = None
    max_bytes: int | None = None
    link_in_bio: bool = False
    read_more: bool = False
    series_name: bool = False


# The one table of limits; `[social] limits` in newsletter.toml overrides `limit` per platform.
RULES: dict[str, PlatformRule] = {
    "x": PlatformRule(
        "x",
        "X",
        280,
        "twitter-text weighted length (emoji and CJK 2, every URL 23, NFC)",
        max_hashtags=2,
        max_points=0,
    ),
    "bluesky": PlatformRule(
        "bluesky",
        "Bluesky",
        300,
        "grapheme clusters; the full URL counts",
        max_hashtags=3,
        max_points=0,
        max_bytes=3000,
    ),
    "mastodon": PlatformRule(
        "mastodon",
        "Mastodon",
        500,
        "grapheme clusters; every URL counts 23",
        max_hashtags=4,
        max_points=1,
        read_more=True,
    ),
    "threads": PlatformRule(
        "threads",
        "Threads",
        500,
        "characters, emoji as their UTF-8 bytes; at most 5 links",
        max_hashtags=1,
        max_points=1,
        max_links=5,
        read_more=True,
    ),
    "linkedin": PlatformRule(
        "linkedin",
        "LinkedIn",
        3000,
        "UTF-16 code units; the hook fits the first 200",
        max_hashtags=3,
        max_points=3,
        hook_fold=200,
        read_more=True,
        series_name=True,
    ),
    "instagram": PlatformRule(
        "instagram",
        "Instagram",
        2200,
        "UTF-16 code units; link in bio, no URL; at most 5 hashtags",
        max_hashtags=5,
        max_points=2,
        link_in_bio=True,
        series_name=True,
    ),
    "facebook": PlatformRule(
        "facebook",
        "Facebook",
        63206,
        "UTF-16 code units; the point fits the first 480",
        max_hashtags=2,
        max_points=2,
        point_fold=480,
        read_more=True,
        series_name=True,
    ),
}

LINK_IN_BIO = "link in bio"
ELLIPSIS = "…"
MAX_TAG_GRAPHEMES = 50  # Threads topics allow 50, Bluesky tags 64: the smaller wins

_GRAPHEME = regex.compile(r"\X")
_EMOJI = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3")
_CLAUSE_BREAK = regex.compile(r"[,;:](?=\s)|\s[–—](?=\s)|[、，；：]")
_WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
_TAG_WORD = regex.compile(r"[\p{L}\p{N}][\p{L}\p{M}\p{N}_]*")
_URL_CHARS = frozenset(".:/")
_URLISH = regex.compile(r"https?://|www\.", regex.I)
_BOILERPLATE = regex.compile(
    r"\b(?:click here|this (?:article|link|post|blog)|check (?:it )?out|read more|"
    r"for more information|subscribe|sign up)\b",
    regex.I,
)
_STOP_WORDS = """
    a an the and or but nor for of to in on at by with from as into onto than then that this
    these those is are was were be been being has have had do does did it its it's they them
    their there here which who whom whose what when where why how all any both each few more
    most other some such no not only own same so too very can will just should now also may
    might must would could our your you we he she his her i me my us about above after again
    against below between during before over under until while through up down out off once
    further well
"""
_STOP = frozenset(_STOP_WORDS.split())
_QUOTES = '"“”„«»'


@dataclass(frozen=True)
class _Sentence:
    text: str
    order: int
    score: float
    clauses: tuple[str, ...]
    standalone: bool  # reads right away from its neighbours ("That is ..." does not)
    has_url: bool


@dataclass(frozen=True)
class _Draft:
    """The parts of a caption; `text` lays them out the same way for every platform."""

    hook: str = ""
    points: tuple[str, ...] = ()
    context: str = ""
    link_line: str = ""
    tags: tuple[str, ...] = ()

    @property
    def body(self) -> str:
        return "\n\n".join(p for p in (self.hook, " ".join(self.points)) if p)

    @property
    def text(self) -> str:
        footer = "\n".join(p for p in (self.context, self.link_line) if p)
        tags = " ".join(f"#{t}" for t in self.tags)
        return "\n\n".join(p for p in (self.body, footer, tags) if p)


# --- counting ---------------------------------------------------------------------------------


def _graphemes(text: str) -> int:
    return len(_GRAPHEME.findall(text))


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _count_x(text: str) -> int:
    return int(parse_tweet(text).weightedLength)


def _count_mastodon(text: str) -> int:
    """Mastodon's StatusLengthValidator: URLs with a scheme count 23, the rest grapheme clusters."""
    total, pos = 0, 0
    for url in extract_urls_with_indices(text, False):
        start, end = url["indices"]
        total += _graphemes(text[pos:start]) + 23
        pos = end
    return total + _graphemes(text[pos:])


def _count_threads(text: str) -> int:
    """Threads counts characters, and each emoji as the number of its UTF-8 bytes."""
    return sum(
        len(g.encode("utf-8")) if _EMOJI.search(g) else _utf16(g) for g in _GRAPHEME.findall(text)
    )


def _at_least(text: str) -> int:
    """A cheap lower bound of every platform's count (URL-like words left out), to skip
    sentences that cannot fit before counting them the slow, exact way."""
    return _graphemes(" ".join(w for w in text.split(" ") if not _URL_CHARS.intersection(w)))


_COUNTERS: dict[str, Callable[[str], int]] = {
    "x": _count_x,
    "bluesky": _graphemes,
    "mastodon": _count_mastodon,
    "threads": _count_threads,
    "linkedin": _utf16,
    "instagram": _utf16,
    "facebook": _utf16,
}


def platforms(name: str | None = None) -> tuple[str, ...]:
    """Every platform, or only `name` (any case); a name not in the table is a usage error."""
    if name is None:
        return PLATFORMS
    key = name.strip().lower()
    if key not in RULES:
        raise UsageError(f"unknown platform {name!r}: choose one of {', '.join(PLATFORMS)}")
    return (key,)


def _rule(platform: str) -> PlatformRule:
    return RULES[platforms(platform)[0]]


def caption_length(platform: str, text: str) -> int:
    """`text`'s length the way `platform` counts it (see `RULES[platform].counting`)."""
    _rule(platform)
    return _COUNTERS[platform](text)


def limit_for(platform: str, settings: Settings) -> int:
    """The platform's limit: `[social] limits` in newsletter.toml, else the table."""
    for key in settings.social.limits:
        if key not in RULES:
            raise ConfigError(
                f"{settings.source}: [social] limits.{key} is not a platform "
                f"(valid: {', '.join(PLATFORMS)})"
            )
    return settings.social.limits.get(platform, _rule(platform).limit)


def _fits(rule: PlatformRule, limit: int, draft: _Draft) -> bool:
    text = draft.text
    if _COUNTERS[rule.name](text) > limit:
        return False
    if rule.max_bytes is not None and len(text.encode("utf-8")) > rule.max_bytes:
        return False
    if rule.max_links is not None:
        links = {u["url"] for u in extract_urls_with_indices(text)}
        if len(links) > rule.max_links:
            return False
    if rule.hook_fold is not None and _COUNTERS[rule.name](draft.hook) > rule.hook_fold:
        return False
    return rule.point_fold is None or _COUNTERS[rule.name](draft.body) <= rule.point_fold


# --- text of the issue ------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Body text for a caption: plain, and without citation markers like "(1)"."""
    return strip_citations(plain(text))


def _block_texts(blocks: Iterable[Block]) -> Iterable[str]:
    for block in blocks:
        if block.kind in ("p", "quote"):
            yield block.text
        elif block.kind in ("ul", "ol"):
            yield from block.text.split("\n")


# Longest first: "ations" before "ation" before "s".
_SUFFIXES = ("ations", "ation", "ness", "ments", "ment", "ing", "ies", "ied", "ed", "es", "s")


def _stem(word: str) -> str:
    """A crude stem, enough to match "regulation" with "regulate" and "bodies" with "body"."""
    w = word.casefold()
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    return w[:5]


def _stems(text: str) -> set[str]:
    return {
        _stem(w)
        for w in _WORD.findall(text)
        if w.casefold() not in _STOP and (len(w) > 2 or not w.isascii())
    }


def _balanced(text: str) -> bool:
    straight = text.count('"') % 2 == 0
    return (
        straight
        and text.count("“") == text.count("”")
        and text.count("(") == text.count(")")
        and text.count("[") == text.count("]")
    )


def _eligible(text: str) -> bool:
    """Never a hook: lead-ins to a list, boilerplate links, broken quotes, fragments."""
    first = _WORD.search(text)
    return (
        not (first and first.group()[0].islower())  # a fragment, or a drop cap lost in scraping
        and not text.endswith((":", "：", ","))
        and not _BOILERPLATE.search(text)
        and _balanced(text)
        and not regex.search(r"\p{L}[\"“]\p{L}", text)  # a lost link glued the words together
    )


def _score(text: str, title: set[str], topic: set[str], doc_freq: dict[str, int]) -> float:
    """How well a sentence carries the issue: its title's words, the post's subject, the words
    the section keeps returning to; less for fragments, quotes and sentences leaning on context."""
    stems = _stems(text)
    score = 2.0 * len(stems & title) + 3.0 * len(stems & (topic - title))
    score += sum(min(doc_freq.get(s, 1) - 1, 3) for s in stems)
    length = len(text)
    if length < 30:
        score -= 4
    elif 50 <= length <= 180:
        score += 2
    elif length > 240:
        score -= 2
    if leans_back(text):
        score -= 6  # leans on a sentence the reader has not seen
    if any(q in text for q in _QUOTES):
        score -= 3
    if _URLISH.search(text):
        score -= 6
    if not regex.search(r"[.!?…。！？][\"”’»)\]」』）]*$", text):
        score -= 4
    return score


def _clauses(text: str) -> tuple[str, ...]:
    """Prefixes of a sentence that end on a whole clause, longest first, each marked with "…"."""
    found = []
    for m in _CLAUSE_BREAK.finditer(text):
        prefix = text[: m.start()].rstrip()
        words = len(_WORD.findall(prefix))
        long_enough = words >= 4 or (" " not in prefix and _graphemes(prefix) >= 8)  # CJK
        if long_enough and _balanced(prefix):
            found.append(prefix + ELLIPSIS)
    return tuple(reversed(found))


def _sentences(series: Series, issue: Issue) -> list[_Sentence]:
    """The issue's sentences, best candidates for a hook first."""
    texts = [_clean(t) for t in _block_texts(issue.blocks)]
    raw = [s for t in texts if t for s in sentences(t)]
    doc_freq: dict[str, int] = {}
    for s in raw:
        for stem in _stems(s):
            doc_freq[stem] = doc_freq.get(stem, 0) + 1
    title, topic = _stems(issue.title), _stems(series.post.title)
    seen: set[str] = set()
    out = []
    for i, s in enumerate(raw):
        if s in seen or not _eligible(s):
            continue
        seen.add(s)
        standalone = not leans_back(s)
        score = _score(s, title, topic, doc_freq)
        has_url = bool(_URLISH.search(s))
        out.append(_Sentence(s, i, score, _clauses(s), standalone, has_url))
    return sorted(out, key=lambda s: (-s.score, s.order))


# --- link and hashtags ------------------------------------------------------------------------


def camel_hashtag(tag: str) -> str:
    """'mental health' -> 'MentalHealth' (screen readers read CamelCase tags word by word);
    empty when nothing usable is left (a tag needs at least one letter)."""
    words = _TAG_WORD.findall(unicodedata.normalize("NFC", tag))
    text = "".join(w[0].upper() + w[1:] if w.islower() else w for w in words)
    if not regex.search(r"\p{L}", text) or _graphemes(text) > MAX_TAG_GRAPHEMES:
        return ""
    return text


def hashtags_for(series: Series, settings: Settings) -> tuple[str, ...]:
    """The post's own tags when it has any, else `[social] hashtags`; no duplicates."""
    source = series.post.tags or tuple(settings.social.hashtags)
    seen: set[str] = set()
    tags = []
    for raw in source:
        tag = camel_hashtag(raw)
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tuple(tags)


# --- composing ----------------------------------------------------------------------------------


def _contexts(series: Series, issue: Issue) -> tuple[str, str, str]:
    """Series context, shortest first: "Part 2 of 5", with the issue title, with the series name."""
    title, name = plain(issue.title), plain(series.title)
    if issue.total == 1:
        return "", title, f"From “{name}”: {title}"
    part = f"Part {issue.number} of {issue.total}"
    return part, f"{part}: {title}", f"From “{name}”, part {issue.number} of {issue.total}: {title}"


def caption_for(series: Series, issue: Issue, platform: str, settings: Settings) -> str:
    """The caption for one issue on one platform, within that platform's limit."""
    return _caption(series, issue, platform, settings, _sentences(series, issue))


def _caption(
    series: Series, issue: Issue, platform: str, settings: Settings, ranked: list[_Sentence]
) -> str:
    rule = _rule(platform)
    limit = limit_for(platform, settings)
    contexts = _contexts(series, issue)
    if rule.link_in_bio:
        link_line = f"Read more: {LINK_IN_BIO}"
    else:
        link = social_link(series, settings, platform)
        link_line = f"Read more: {link}" if rule.read_more else link
    tags = hashtags_for(series, settings)[: rule.max_hashtags]
    # A URL in the text is no use where links are not clickable.
    sentences = [s for s in ranked if not (rule.link_in_bio and s.has_url)]

    def fits(d: _Draft) -> bool:
        return _fits(rule, limit, d)

    bare = _Draft(context=contexts[0], link_line=link_line)
    if not fits(bare):
        raise ConfigError(
            f"{settings.source}: [social] limits.{platform} = {limit} leaves no room for "
            f"{caption_length(platform, bare.text)} characters of link and series context on "
            f"{rule.label}: raise the limit, or shorten the link ([social] link, utm = false)"
        )
    comfortable = replace(bare, context=contexts[1], tags=tags[:1])
    # The best sentence that leaves room for the rest, else any whole sentence that fits, else
    # the longest whole clause, else the issue's title.
    candidates = itertools.chain(
        ((s.text, comfortable) for s in sentences),
        ((s.text, bare) for s in sentences),
        ((c, bare) for s in sentences for c in s.clauses),
        ((plain(issue.title), bare),),
    )
    hook = next(
        (h for h, base in candidates if _at_least(h) <= limit and fits(replace(base, hook=h))), ""
    )
    draft = replace(bare, hook=hook)
    draft = _grow(draft, fits, [replace(draft, context=contexts[1])])
    points = [s for s in sentences if s.text != draft.hook and s.standalone and s.score > 0]
    chosen: list[_Sentence] = []
    for s in points:
        if len(chosen) == rule.max_points:
            break
        if _at_least(s.text) > limit:
            continue
        picked = sorted([*chosen, s], key=lambda p: p.order)
        if fits(replace(draft, points=tuple(p.text for p in picked))):
            chosen = picked
    draft = replace(draft, points=tuple(p.text for p in chosen))
    for tag in tags:
        draft = _grow(draft, fits, [replace(draft, tags=(*draft.tags, tag))])
    if rule.series_name:
        draft = _grow(draft, fits, [replace(draft, context=contexts[2])])
    return draft.text


def _grow(draft: _Draft, fits: Callable[[_Draft], bool], options: list[_Draft]) -> _Draft:
    """The first richer draft that still fits, else the draft as it was."""
    return next((o for o in options if fits(o)), draft)


def captions_for_issue(
    series: Series, issue: Issue, settings: Settings, only: tuple[str, ...] = PLATFORMS
) -> dict[str, str]:
    """The caption of every platform (or those in `only`) for one issue, in `PLATFORMS` order."""
    ranked = _sentences(series, issue)
    return {p: _caption(series, issue, p, settings, ranked) for p in PLATFORMS if p in only}


def captions_json(series: Series, settings: Settings) -> dict[str, Any]:
    """The stable JSON shape of `newsletter captions --json` and build/<slug>/captions.json."""
    return {
        "issues": [
            {"number": issue.number, "captions": captions_for_issue(series, issue, settings)}
            for issue in series.issues
        ]
    }


def captions_markdown(series: Series, settings: Settings) -> str:
    """captions.md: every caption in a fenced block, with its length as the platform counts it."""
    lines = [f"# Social captions: {series.title}", ""]
    for issue in series.issues:
        lines += [f"## Issue {issue.number} of {issue.total}: {issue.title}", ""]
        for platform, text in captions_for_issue(series, issue, settings).items():
            rule = RULES[platform]
            used, limit = caption_length(platform, text), limit_for(platform, settings)
            fence = "`" * max([3, *(len(r) + 1 for r in regex.findall(r"`+", text))])
            lines += [
                f"### {rule.label}: {used} of {limit}",
                "",
                f"Counted as {rule.counting}.",
                "",
                f"{fence}text",
                text,
                fence,
                "",
            ]
    return "\n".join(lines)
