"""Copied text: what a person gets by selecting a web page and copying it (or a w3m/lynx dump).

There is no markup, so the reader recovers two things from layout alone. First the article: the
dense run of prose, found the way jusText finds it (each paragraph scored on length and on how
many of its words are the language's stop words; menus, galleries, cards and footers are thin and
fall away). Then the nodes: paragraphs and lists, each with its indent, so the outline can tell a
heading from the text under it. Page furniture that a dump leaves on lines of its own ("(BUTTON)",
"[image]", "IFRAME: …", share buttons) is dropped first.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import cache

import justext  # type: ignore[import-untyped]

from ..model import Block, Reference, Span
from ..text import sentences
from .nodes import Node, PageMeta
from .outline import (
    HEADING_MARKS,
    MARKER_WORDS,
    dateline,
    is_caption,
    is_furniture,
    menu_like,
    phrases,
    starts_with_phrase,
    words,
)

# jusText's languages for the stop-word lists; the post's language is the one whose list
# covers most of its words.
STOPLIST_LANGUAGES = ("English", "German", "French", "Spanish", "Italian", "Portuguese", "Dutch")
# Function characters of Chinese and Japanese prose, which have no spaces to count words by.
CJK_FUNCTION_CHARS = frozenset("的了是在和有我不这就也都要你他她们之のはがをにでともたしてい")

# A paragraph of prose is this long at least (words) ...
PROSE_MIN_WORDS = 12
# ... and this share of its words are stop words (jusText's "stopwords_low" is 0.30; copied
# text keeps numbers and names, so a little lower).
PROSE_MIN_STOPWORDS = 0.22
# ... and ends like a sentence, unless it is longer than any headline.
PROSE_ANY_ENDING_WORDS = 30
SENTENCE_END = frozenset('.!?…"”’)»。！？」）')
# A short paragraph (a heading, a label) costs this much to keep inside the article: enough that
# a long menu of short lines is never worth it, little enough that headings between paragraphs
# are.
SHORT_COST = 2.0
# A paragraph of text with almost no stop words (a list of links, a tag cloud) costs half its
# length: thin text, but a line of code between paragraphs should not cut the article in two.
BAD_COST = 0.5

# Wrapped text never has lines past this width; copied text with many longer lines is unwrapped.
UNWRAPPED_LINE = 100
UNWRAPPED_SHARE = 0.05  # ... and one line in twenty past it is no accident

# A heading typed straight above its paragraph: this short, and shorter than this share of the
# line under it.
GLUED_HEADING_WORDS, GLUED_SHORTER = 12, 0.6
# A wrapped dump's lines run to its width; a line that left room for the next line's first word
# ended in a hard break. The width is read low (a quartile of the lines that wrap on), so a
# break is only seen where wrapping cannot explain it.
WRAP_WIDTH_QUANTILE, WRAP_SLACK = 0.25, 1
# The lines of a box (its title, a button) are short; a link in a box of links a headline.
BOX_LINE_WORDS, BOX_LINK_WORDS = 8, 15
# A sign-up prompt is a sentence or two; a sponsor's label a word or three.
SIGNUP_MAX_WORDS, SPONSOR_LABEL_WORDS = 40, 3
# A sponsor's box runs at most this many paragraphs, and ends in a button of at most this many
# words ("Shop now", "Zum Angebot").
SPONSOR_MAX_PARAS, SPONSOR_BUTTON_WORDS = 4, 4
# The headline sits at most this many paragraphs above the article's first prose.
TITLE_LOOKBACK = 12
# Headline score: its words count up to this many (past it, long is not more headline-like) ...
TITLE_FULL_WORDS = 14
# ... a line the page prints twice or more gains this ...
TITLE_REPEATED = 6
# ... a headline is about its article: up to this much for sharing its words with the first
# paragraphs (a category label, a site's tagline or a menu shares none) ...
TITLE_ABOUT = 10
# (words compare by their first letters, so "senior" is about "seniority")
STEM = 5
# ... a full stop costs this (the subtitle under a headline is a sentence) ...
TITLE_FULL_STOP = 4
# ... a menu or a dateline loses this (more than any length can win back) ...
TITLE_NOT_A_HEADLINE = 20
# ... and each paragraph between it and the prose costs this.
TITLE_DISTANCE = 0.3

# Artifacts of the page-to-text dump itself, the same for every site: buttons, image
# placeholders, frames, bare addresses, rules.
_DUMP_ARTIFACT = re.compile(
    r"^(?:\(BUTTON\).*|\[[^\]]{0,120}\](?:\S{0,40}(?:\s\S+){0,2})?|IFRAME:.*|https?://\S+|www\.\S+|"
    r"[_\-=*~·•|━─]{3,}|\d+\s*/\s*\d+|\W|"
    # the list of link addresses lynx prints at the end: "12. https://…"
    r"\d{1,4}\.\s+(?:https?|ftp|mailto|file):\S+|"
    # a player's clock: "0:00 / 2:41"
    r"\d{1,2}:\d{2}(?::\d{2})?\s*/\s*\d{1,2}:\d{2}(?::\d{2})?|"
    # a gallery's counter: "Image 3 of 12", "Bild 3 von 12", "Photo 3 sur 12"
    r"[^\W\d]+\s+\d+\s+[^\W\d]{1,4}\s+\d+|"
    # an image's file name left as its caption: "1977223_1020304_n", "IMG_4031.jpg"
    r"(?=\S*\d)(?=\S*[_.])[\w.-]{12,})$"
)
# lynx's mark for a link, numbered as in the list of addresses it prints at the end: "[12]".
_LINK_MARK = re.compile(r"\[\d{1,4}\]")
_BULLET = re.compile(r"^\s*(?:[•*·▪◦‣+]|-(?!-)|\d{1,2}[.)])\s+")
_REFERENCE = re.compile(
    r"^(?:\((?P<a>\d{1,3})\)|\[(?P<b>\d{1,3})\]:?|(?P<c>\d{1,3})\.)\s*(?P<text>\S.*)$"
)
_BYLINE = re.compile(
    r"^(?:[•*·]\s*)?(?:[A-Z][a-z]+\.? \d{1,2}, \d{4} )?"
    r"(?:Writer's picture|Written by|By|by|Von|Par|Por|Di)\s*:?\s*"
    r"(?P<name>[A-Z][\w.'-]+(?:[ ,]+[A-Z][\w.'-]+){0,4}?)"
    r"(?:\s+(?:on|updated|published|am|le|el)\b.*|\s*[|·•/].*|\s+\d+ [Cc]omments?)?$",
)


@dataclass
class Para:
    """A paragraph of the text: its lines (stripped) and where it starts."""

    lines: list[str]
    line: int
    indent: int
    gap_before: bool = True  # a blank line (or page furniture) stands above it
    link_led: bool = False  # it opens with a link (lynx marks one "[12]"): a headline, not prose

    @property
    def text(self) -> str:
        return " ".join(self.lines)


@cache
def _stoplist(language: str) -> frozenset[str]:
    return frozenset(justext.get_stoplist(language))


def _tokens(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)?", text.lower())


def detect_stoplist(text: str) -> frozenset[str]:
    """The stop words of the language that covers most of the text's words."""
    tokens = _tokens(text)
    best: frozenset[str] = frozenset()
    best_hits = -1
    for language in STOPLIST_LANGUAGES:
        stop = _stoplist(language)
        hits = sum(t in stop for t in tokens)
        if hits > best_hits:
            best, best_hits = stop, hits
    return best


def stopword_density(text: str, stop: frozenset[str]) -> float:
    cjk = [ch for ch in text if "\u3040" <= ch <= "\u9fff"]
    if len(cjk) > len(text) / 3:
        return sum(ch in CJK_FUNCTION_CHARS for ch in cjk) / max(1, len(cjk)) * 3
    tokens = _tokens(text)
    return sum(t in stop for t in tokens) / max(1, len(tokens))


def is_prose(text: str, stop: frozenset[str]) -> bool:
    """A real paragraph: long enough, written in the language's sentences, ending like one (a
    long headline has the words but not the full stop)."""
    n = words(text)
    ends = text.rstrip()[-1:] in SENTENCE_END or n >= PROSE_ANY_ENDING_WORDS
    return n >= PROSE_MIN_WORDS and ends and stopword_density(text, stop) >= PROSE_MIN_STOPWORDS


def _is_chrome_line(line: str) -> bool:
    t = line.strip().strip("•*·▪◦").strip()
    return not t or bool(_DUMP_ARTIFACT.match(t)) or is_furniture(t)


def paragraphs(text: str) -> list[Para]:
    """Blank-line separated paragraphs; a bullet starts a new one; a short line glued above a
    long one (a heading with no blank line under it) stands alone."""
    paras: list[Para] = []
    current: Para | None = None
    lines = text.split("\n")
    one_per_line = _unwrapped(lines)
    width = 0 if one_per_line else _wrap_width(lines)
    previous = ""
    for no, raw in enumerate(lines, start=1):
        if _is_chrome_line(raw):
            if current is not None and raw.strip().lower() in phrases().credits:
                current.lines.append(raw.strip())  # a credit under its caption: one caption
            current = None
            continue
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        link_led = bool(_LINK_MARK.match(_BULLET.sub("", stripped)))
        stripped = _LINK_MARK.sub("", stripped).strip()
        if not stripped:
            current = None
            continue
        if (
            current is None
            or one_per_line
            or _BULLET.match(raw)
            or stripped[:1] in HEADING_MARKS  # "■ まとめ" starts a paragraph of its own
            or indent < current.indent - 1
            or _hard_break(previous, stripped, width)
        ):
            current = Para([stripped], no, indent, gap_before=current is None, link_led=link_led)
            paras.append(current)
        else:
            current.lines.append(stripped)
        previous = raw.rstrip()
    out: list[Para] = []
    for p in paras:
        out.extend(_unglue(p))
    return out


def _unwrapped(lines: list[str]) -> bool:
    """Text with one line per paragraph (lynx, a browser's copy) rather than wrapped at a width
    (w3m at 80 columns): then every line is a paragraph of its own."""
    filled = [_width(line) for line in lines if line.strip()]
    return bool(filled) and sum(n > UNWRAPPED_LINE for n in filled) >= UNWRAPPED_SHARE * len(filled)


def _wrap_width(lines: list[str]) -> int:
    """How wide a wrapped dump's lines run: a low quartile of the lines another line follows."""
    wrapping = sorted(
        _width(line.rstrip())
        for line, after in itertools.pairwise(lines)
        if line.strip() and after.strip()
    )
    return wrapping[int(len(wrapping) * WRAP_WIDTH_QUANTILE)] if wrapping else 0


def _hard_break(previous: str, line: str, width: int) -> bool:
    """`previous` ended short of `width` by more than `line`'s first word: wrapping would have
    put that word on it, so the line break was the page's own (a title, a label, a menu)."""
    if not width or not previous:
        return False
    first = line.split()[0]
    return _width(previous) + 1 + _width(first) <= width - WRAP_SLACK


def _width(line: str) -> int:
    """Columns on a terminal: Chinese and Japanese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def _unglue(p: Para) -> list[Para]:
    """A heading typed straight above its paragraph: the first line is short, has no closing
    punctuation, and the next line is a long one."""
    if len(p.lines) < 2 or _BULLET.match(p.lines[0]):
        return [p]
    first, second = p.lines[0], p.lines[1]
    if (
        words(first) <= GLUED_HEADING_WORDS
        and first[-1:] not in '.,;:!"”)'
        and len(first) < GLUED_SHORTER * len(second)
        and len(second) >= 40
    ):
        return [
            Para([first], p.line, p.indent, p.gap_before),
            Para(p.lines[1:], p.line + 1, p.indent, gap_before=False),
        ]
    return [p]


def article_span(paras: list[Para], stop: frozenset[str]) -> tuple[int, int]:
    """The run of paragraphs that is the article: the stretch where prose outweighs everything
    else (the largest-sum run, each prose paragraph counting its words and each other one a
    cost)."""
    values: list[float] = []
    for p in paras:
        n = words(p.text)
        if _prose(p, stop):
            values.append(n)
        elif n < PROSE_MIN_WORDS:
            values.append(-SHORT_COST)
        else:
            values.append(-BAD_COST * n)
    best = (0, 0)
    best_sum = float("-inf")
    run_sum, run_start = 0.0, 0
    for k, v in enumerate(values):
        if run_sum <= 0:
            run_sum, run_start = v, k
        else:
            run_sum += v
        if run_sum > best_sum:
            best_sum, best = run_sum, (run_start, k + 1)
    start, end = best
    # Kadane leaves out the short closing lines ("Final thoughts", a one-line sign-off): take
    # them back while they read as sentences or as a heading over one.
    while end < len(paras):
        t = paras[end].text
        sentence = is_sentence(t, stop)
        heading = (
            _headingish(paras[end])
            and end + 1 < len(paras)
            and is_sentence(paras[end + 1].text, stop)
        )
        if not (sentence or heading) or _REFERENCE.match(t):
            break
        end += 1
    return start, end


def is_sentence(text: str, stop: frozenset[str]) -> bool:
    return (
        words(text) >= 3
        and text.rstrip()[-1:] in SENTENCE_END
        and stopword_density(text, stop) >= PROSE_MIN_STOPWORDS
    )


def _headingish(p: Para, full_stop: bool = False) -> bool:
    """One short line, not a list item, without closing punctuation (a headline may end in a
    full stop when `full_stop`)."""
    t = p.text
    closing = ",;:!" if full_stop else ".,;:!"
    return (
        len(p.lines) == 1
        and 0 < words(t) <= 20
        and t[-1:] not in closing
        and not _BULLET.match(t)
        and not _REFERENCE.match(t)
    )


def find_title(paras: list[Para], start: int, stop: frozenset[str]) -> tuple[int | None, str]:
    """The page's headline: the most headline-like line just before the article's first prose.

    Scored, not picked by one rule: a headline is long for a label (category labels are short),
    printed more than once (header, breadcrumb and body repeat it), and near the prose; a menu
    ("Home | News | Sport", "Home   Blog   About") and a dateline or byline ("Posted on 9 May
    2024 by …", "发布时间：2024-03-12") are not headlines, however long.
    """
    first_prose = next(
        (k for k in range(start, len(paras)) if is_prose(paras[k].text, stop)), start
    )
    window = range(max(0, start - TITLE_LOOKBACK), min(len(paras), first_prose + 1))
    cands = [
        k
        for k in window
        if _headingish(paras[k], full_stop=True)
        and not is_prose(paras[k].text, stop)
        and re.search(r"[^\W\d_]", paras[k].text)  # "11" likes is no headline
    ]
    if not cands:
        return None, ""
    counts = Counter(p.text for p in paras if len(p.lines) == 1)
    article = _stems(" ".join(p.text for p in paras[first_prose : first_prose + 12]), stop)

    def score(k: int) -> float:
        text = paras[k].text
        own = _stems(text, stop)
        overlap = len(own & article) / len(own) if own else 0.0
        return (
            min(words(text), TITLE_FULL_WORDS)
            + TITLE_REPEATED * (counts[text] >= 2)
            + TITLE_ABOUT * overlap
            - TITLE_FULL_STOP * text.endswith(".")
            - TITLE_NOT_A_HEADLINE * (menu_like(text) or dateline(text))
            - TITLE_DISTANCE * (first_prose - k)
        )

    k = max(cands, key=lambda i: (score(i), i))
    return k, paras[k].text


def _stems(text: str, stop: frozenset[str]) -> set[str]:
    """Content words cut to their first letters ("senior", "seniority" -> "senio"), or
    character pairs in CJK text: what a headline shares with its article."""
    cjk = "".join(ch for ch in text if "\u3040" <= ch <= "\u9fff")
    if len(cjk) > len(text) / 3:
        return {cjk[i : i + 2] for i in range(len(cjk) - 1)}
    return {t[:STEM] for t in _tokens(text) if len(t) > 3 and t not in stop}


def _reference_number(text: str) -> int:
    m = _REFERENCE.match(text)
    return int(next(g for g in m.group("a", "b", "c") if g)) if m else -1


def trailing_references(paras: list[Para]) -> tuple[list[Reference], int]:
    """A run numbered 1..N of citations at the end ("(1)Title…", "[2] …") is the reference
    list; returns it and where it starts."""
    k = len(paras)
    while k > 0 and _REFERENCE.match(paras[k - 1].text):
        k -= 1
    tail = paras[k:]
    numbers = [_reference_number(p.text) for p in tail]
    if not tail or numbers != list(range(1, len(tail) + 1)):
        return [], len(paras)
    if tail[0].text[:1].isdigit() and len(tail) < 2:
        return [], len(paras)
    refs = []
    for p, n in zip(tail, numbers, strict=True):
        m = _REFERENCE.match(p.text)
        assert m is not None
        ref = m.group("text").strip()
        href = re.search(r"https?://\S+", ref)
        refs.append(Reference(str(n), ref, href.group(0) if href else None))
    return refs, k


def to_nodes(paras: list[Para], stop: frozenset[str]) -> list[Node]:
    """Paragraphs to nodes: bullet runs become one list; a numbered short line stays a line (it
    may be a heading)."""
    nodes: list[Node] = []
    items: list[tuple[Span, ...]] = []
    ordered = False
    first = 0
    indent = 0

    def flush() -> None:
        nonlocal items
        if items:
            block = Block("ol" if ordered else "ul", items=tuple(items), line=first)
            nodes.append(Node(block, indent=indent, line=first))
            items = []

    for k, p in enumerate(paras):
        m = _BULLET.match(p.lines[0])
        # "2. Body Measurements" standing between blank lines is a heading, not a list item;
        # so is one over a paragraph of prose that no list item stands above (a copy from a
        # browser has no blank lines to tell).
        alone = p.gap_before and (k + 1 == len(paras) or paras[k + 1].gap_before)
        alone = alone or (
            len(p.lines) == 1
            and k + 1 < len(paras)
            and _prose(paras[k + 1], stop)
            and not (k and _BULLET.match(paras[k - 1].lines[0]))
        )
        # So is a numbered paragraph between blank lines: a run-in item of a numbered list.
        numbered_line = (
            p.lines[0][:1].isdigit()
            and alone
            and (words(p.text) > 20 or (len(p.lines) == 1 and p.text[-1:] not in ",;:"))
        )
        if m and not numbered_line:
            if not items:
                first, ordered, indent = p.line, p.lines[0][:1].isdigit(), p.indent
            items.append((Span(_BULLET.sub("", p.text, count=1)),))
            continue
        flush()
        nodes.append(Node(Block("p", (Span(p.text),), line=p.line), indent=p.indent, line=p.line))
    flush()
    return nodes


def read_text(text: str, source: str) -> tuple[PageMeta, list[Node], list[Reference]]:
    """The article of a copied page, as nodes after its title, with its reference list."""
    paras = paragraphs(text)
    author = None
    for p in paras[:60]:
        m = _BYLINE.match(p.text)
        if m:
            author = m.group("name").strip(" ,")
            break
    paras = [
        p
        for p in paras
        if not _BYLINE.match(p.text) and not _alt_text(p) and not is_caption(p.text)
    ]
    stop = detect_stoplist(text)
    paras = _without_sponsor_boxes(_without_signup_boxes(_drop_boxes(paras, stop)), stop)
    if not paras:
        return PageMeta(author=author), [], []
    start, end = article_span(paras, stop)
    title_at, title = find_title(paras, start, stop)
    body_start = start if title_at is None else max(start, title_at + 1)
    if not title:
        # No headline stands out: the article's first sentence names it.
        title = (sentences(paras[start].text) or [paras[start].text])[0][:100]
    # The reference list sits after the last paragraph of prose.
    refs, ref_at = trailing_references(paras[body_start : _ref_end(paras, end)])
    body = paras[body_start:end] if not refs else paras[body_start : body_start + ref_at]
    body = [p for p in body if p.text != title]
    return PageMeta(title=title or None, author=author), to_nodes(body, stop), refs


def _alt_text(p: Para) -> bool:
    """An image's alt text left as a line of its own ("tidy desk at the end of the day"): it
    starts lowercase and has neither sentence nor code punctuation. Two words or fewer ("import
    b") are too little to tell it from code, and are kept."""
    t = p.text
    return (
        len(p.lines) == 1
        and not _BULLET.match(p.lines[0])
        and len(t) <= 100
        and t[:1].islower()
        and len(t.split()) >= 3
        and not re.search(r"[.,;:!?\"“”()\[\]{}=<>/\\_`]", t)
    )


def _without_signup_boxes(paras: list[Para]) -> list[Para]:
    """A newsletter sign-up box inside the article: the prompt ("Enter your email to get…") and
    the short lines around it (its title, the button). Dropped before headings are looked for,
    so the box's title cannot become a section."""
    signup = phrases().signup
    short = [
        len(p.lines) <= 3 and words(p.text) <= BOX_LINE_WORDS and not _REFERENCE.match(p.text)
        for p in paras
    ]
    drop: set[int] = set()
    for k, p in enumerate(paras):
        low = " ".join(p.text.lower().split())
        if words(p.text) > SIGNUP_MAX_WORDS or not any(phrase in low for phrase in signup):
            continue
        drop.add(k)
        for step in (-1, 1):
            j = k + step
            # The box's short lines go; a short line over prose is the next heading and stays.
            while 0 <= j < len(paras) and (short[j] or j in drop) and not _over_prose(paras, j):
                drop.add(j)
                j += step
    return [p for k, p in enumerate(paras) if k not in drop]


def _without_sponsor_boxes(paras: list[Para], stop: frozenset[str]) -> list[Para]:
    """A sponsor's box inside the article: its label ("SPONSORED", "Anzeige"), its text, and
    the button that closes it ("Shop now"), up to the article's next heading. Only a box that
    ends in such a short line goes; a label over the article's own prose (an ad that was a
    picture) takes nothing with it but itself."""
    out: list[Para] = []
    k = 0
    while k < len(paras):
        p = paras[k]
        label = words(p.text) <= SPONSOR_LABEL_WORDS
        if not (label and starts_with_phrase(p.text, phrases().sponsor_labels, True)):
            out.append(p)
            k += 1
            continue
        end = next(
            (
                j
                for j in range(k + 1, min(len(paras), k + 2 + SPONSOR_MAX_PARAS))
                if _heading_over_prose(paras, j, stop)
            ),
            None,
        )
        if end is not None and end - 1 > k and words(paras[end - 1].text) <= SPONSOR_BUTTON_WORDS:
            k = end
        else:
            k += 1
    return out


def _heading_over_prose(paras: list[Para], k: int, stop: frozenset[str]) -> bool:
    """A short line (numbered or not) with prose under it: where the article goes on."""
    p = paras[k]
    short = len(p.lines) == 1 and 0 < words(p.text) <= 20 and p.text[-1:] not in ",;:"
    return short and k + 1 < len(paras) and _prose(paras[k + 1], stop)


def _prose(p: Para, stop: frozenset[str]) -> bool:
    return not p.link_led and is_prose(p.text, stop)


def _over_prose(paras: list[Para], k: int) -> bool:
    return (
        k + 1 < len(paras)
        and words(paras[k + 1].text) >= PROSE_MIN_WORDS
        and (paras[k + 1].text.rstrip()[-1:] in SENTENCE_END)
    )


def _drop_boxes(paras: list[Para], stop: frozenset[str]) -> list[Para]:
    """A box of links inside the article ("You may also like" and the headlines under it, up to
    the article's next heading): gone, so its headlines cannot pass for headings."""
    out: list[Para] = []
    k = 0
    while k < len(paras):
        p = paras[k]
        if words(p.text) <= MARKER_WORDS and starts_with_phrase(p.text, phrases().link_boxes, True):
            j = k + 1
            while (
                j < len(paras)
                and len(paras[j].lines) <= 2
                and words(paras[j].text) <= BOX_LINK_WORDS
                and not _heading_over_prose(paras, j, stop)
            ):
                j += 1
            # Only a box the article's next heading follows: at the end, the marker ends it.
            goes_on = j < len(paras) and _heading_over_prose(paras, j, stop)
            if j > k + 1 and goes_on:
                k = j
                continue
        out.append(p)
        k += 1
    return out


def _ref_end(paras: list[Para], end: int) -> int:
    """Past the article, a reference list runs on as long as its entries do."""
    k = end
    while k < len(paras) and _REFERENCE.match(paras[k].text):
        k += 1
    return k
