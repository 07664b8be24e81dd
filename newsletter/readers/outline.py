"""Choose a post's outline from its nodes: which headings are the series' sections, and where the
intro, the conclusion and the back matter are. One scorer for every input kind.

Every block that could be a heading is a *candidate*, and candidates that look alike (the same
markup level, all bold, all short lines at one indent with the same numbering) form a *group*.
Each group is scored as a whole, on named features: numbering that runs in order, a count the
title states, a body under every heading, parallel form, how much of the article it covers. The
best group wins; the first strategy that happens to fire does not.
"""

from __future__ import annotations

import difflib
import re
import statistics
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..model import Block, Reference, Section, Span
from ..text import sentences
from .nodes import Node

# --- what a heading may look like -------------------------------------------------------------

# A heading says what comes; past this many words it is a sentence (run-in leads excepted).
MAX_HEADING_WORDS = 22
# A section needs a body: below this many words under a heading, it is a menu entry or a label.
MIN_BODY_WORDS = 6
# A line ending in a full stop is a sentence, unless numbered or at most this long ("To sum up.").
SHORT_SENTENCE_WORDS = 12
# A run-in title: the first sentence when it has at most this many words, else this many words.
RUNIN_SENTENCE_WORDS, RUNIN_WORDS = 12, 6
# German capitalises every noun: a fifth of its words or more start with a capital.
NOUN_CAPITALS_SHARE = 0.2
# Fewer words than this between two headings of one form make them a menu's entries.
MENU_BODY_WORDS = 3
# When most headings come in pairs with nothing between them, they are heading + subtitle.
PAIRED_SHARE = 0.6
# A byline is short: a name, a date, a reading time.
BYLINE_WORDS = 15
# A heading in the intro this close to the title (ratio) is the headline printed again.
TITLE_ECHO = 0.7
# "Most" of a group, for numbering and citation marks: three in five.
MOSTLY = 0.6
# A marker line ("Comments", "Share this", "Fazit") is a few words at most.
MARKER_WORDS = 6
# "Small Nursery Idea #3": the words before a number that several headings share.
PREFIX_WORDS = 6
# An intro's list decides which headings are the series only when it names this many of them ...
MIN_LISTED = 3
# ... and a list in the intro is that list when half its entries name a section.
LISTED_SHARE = 0.5
# A table of contents may word its entries a little differently ("Spaces And Tabs").
TOC_LABEL_RATIO = 0.6
# A closing heading is among the last few of the group (back matter may still follow it).
CLOSING_WINDOW = 2
# Marks that open headings in Japanese and Chinese blogs ("■ まとめ"): a form of their own.
HEADING_MARKS = frozenset("■□◆◇●○▼▽▶►★☆【◎")
# A heading has at least two letters or digits (a lone glyph is an icon).
MIN_HEADING_CHARS = 2
# A series has at least two issues; past this many "sections" a group is a list, not a series.
MIN_SECTIONS, MAX_SECTIONS = 2, 40

# --- weights of the group score (each feature is 0..1) ----------------------------------------

# Sections each carry text of their own: the strongest sign that a group is the series.
W_BODY = 3.0
# The headings cover the article: a related-posts box or a sub-list covers little of it.
W_COVERAGE = 2.0
# "1, 2, 3…" in order is deliberate structure.
W_NUMBERED = 2.0
# The title (or the intro) says how many: "7 tips", "sieben Gründe".
W_COUNT = 2.5
# Parallel form: the same opening word, case pattern, length and closing punctuation.
W_PARALLEL = 1.0
# Markup the author chose (a heading level) beats layout we infer (bold, a short line).
# A heading we cut out of a numbered paragraph ("runin") is the last resort.
STYLE_PRIOR = {"h": 0.6, "bold": 0.35, "lead": 0.3, "line": 0.0, "runin": -0.5}
# Styles whose heading is the opening of its own paragraph: the paragraph stays in the section.
INLINE_STYLES = frozenset({"lead", "runin"})
# Among heading levels, the top one is the outline's first level (a small push, not a rule).
W_LEVEL = 0.15
# Series of 3-15 are the common case; 2 is possible but weak.
W_SIZE = 0.5


@dataclass(frozen=True)
class Phrases:
    """The phrase lists of every language file, lowercased: see phrases/en.toml."""

    intro: tuple[str, ...]
    conclusion: tuple[str, ...]
    back_matter: tuple[str, ...]
    references: tuple[str, ...]
    series_preview: tuple[str, ...]
    chrome: tuple[str, ...]
    credits: tuple[str, ...]
    signup: tuple[str, ...]
    credit_labels: tuple[str, ...]
    sponsor_labels: tuple[str, ...]
    link_boxes: tuple[str, ...]
    numbers: dict[str, int]


@cache
def phrases() -> Phrases:
    """All languages at once: a post in German with an English "FAQ" is still read right."""
    lists: dict[str, list[str]] = {}
    numbers: dict[str, int] = {}
    folder = resources.files("newsletter.readers").joinpath("phrases")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        for key, values in data.items():
            if key == "numbers":
                for n, word in enumerate(values, start=1):
                    numbers.setdefault(str(word).lower(), n)
            else:
                lists.setdefault(key, []).extend(str(v).lower() for v in values)

    def get(key: str) -> tuple[str, ...]:
        return tuple(sorted(set(lists.get(key, [])), key=len, reverse=True))

    return Phrases(
        get("intro"),
        get("conclusion"),
        get("back_matter"),
        get("references"),
        get("series_preview"),
        get("chrome"),
        get("credits"),
        get("signup"),
        get("credit_labels"),
        get("sponsor_labels"),
        get("link_boxes"),
        numbers,
    )


def _plain(text: str) -> str:
    """Lowercase, numbering and punctuation gone: the form phrases are matched in."""
    t = re.sub(r"^\d+\s+(?=[^\W\d])", "", strip_numbering(text)).lower()  # "5 Comments"
    t = re.sub(r"[\s\W_]+", " ", t, flags=re.UNICODE).strip()
    return t


def starts_with_phrase(text: str, options: Sequence[str], whole: bool = False) -> bool:
    """Whether `text` opens with one of `options` ("Conclusion: …", "Fazit"); `whole` asks for
    the heading to be nothing but the phrase."""
    t = _plain(text)
    if not t:
        return False
    exact, words_in, cjk = _phrase_index(tuple(options))
    if t in exact:
        return True
    if whole:
        return False
    # A phrase ends at a word boundary; CJK has no spaces, so there a phrase is a prefix.
    tokens = t.split(" ")
    if any(" ".join(tokens[:k]) in exact for k in range(1, min(words_in, len(tokens)) + 1)):
        return True
    return _is_cjk(t[0]) and any(t.startswith(p) for p in cjk)


@cache
def _phrase_index(options: tuple[str, ...]) -> tuple[frozenset[str], int, tuple[str, ...]]:
    """The phrases in plain form, the most words one has, and the CJK ones."""
    plain = frozenset(p for p in (_plain(o) for o in options) if p)
    most = max((len(p.split(" ")) for p in plain), default=0)
    return plain, most, tuple(p for p in plain if _is_cjk(p[-1]))


# --- numbering --------------------------------------------------------------------------------

_CIRCLED = {chr(0x2460 + i): i + 1 for i in range(20)}  # ① … ⑳
_CJK_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBER_AT_START = re.compile(
    r"^\s*(?:(?P<paren>\((?P<n1>\d{1,2})\))|(?P<hash>#(?P<n2>\d{1,2}))|"
    r"(?P<dot>(?P<n3>\d{1,2})\s*[.):．）](?!\d))|(?P<dash>(?P<n4>\d{1,2})\s+[-–—]\s))\s*"
)
# "Tip 3:", "Small Nursery Idea #2:", "Principles: #1 …": a number after a short shared prefix.
_NUMBER_AFTER_PREFIX = re.compile(
    r"^(?P<prefix>[^\d#\n]{1,60}?)\s*(?:#|No\.?\s*|Nr\.?\s*)?(?P<n>\d{1,2})\s*(?:[:.)–—-]|\s)\s*(?=\S)"
)
_CJK_NUMBER = re.compile(
    r"^\s*(?:(?P<n>[一二三四五六七八九十]{1,3})\s*[、．.，,]|[（(](?P<p>[一二三四五六七八九十]{1,3})[）)]|"
    r"第(?P<d>[一二三四五六七八九十]{1,3})[，,、：:\s])"
)


def _cjk_value(s: str) -> int:
    if s == "十":
        return 10
    if s.startswith("十"):
        return 10 + _CJK_DIGITS.get(s[1:], 0)
    if s.endswith("十"):
        return _CJK_DIGITS.get(s[0], 0) * 10
    if "十" in s:
        a, b = s.split("十", 1)
        return _CJK_DIGITS.get(a, 0) * 10 + _CJK_DIGITS.get(b, 0)
    return _CJK_DIGITS.get(s, 0)


@dataclass(frozen=True)
class Numbering:
    kind: str  # "1.", "(1)", "#1", "①", "一、", "prefix" (a number after a shared prefix)
    value: int
    prefix: str = ""


def numbering(text: str) -> Numbering | None:
    """The ordinal a heading carries, and how it is written."""
    t = text.strip()
    if t[:1] in _CIRCLED:
        return Numbering("①", _CIRCLED[t[0]])
    m = _CJK_NUMBER.match(t)
    if m and _cjk_value(m.group("n") or m.group("p") or m.group("d")):
        kind = "一、" if m.group("n") else "（一）" if m.group("p") else "第一"
        return Numbering(kind, _cjk_value(m.group("n") or m.group("p") or m.group("d")))
    m = _NUMBER_AT_START.match(t)
    if m and len(t) > m.end():
        if m.group("paren"):
            return Numbering("(1)", int(m.group("n1")))
        if m.group("hash"):
            return Numbering("#1", int(m.group("n2")))
        return Numbering("1.", int(m.group("n3") or m.group("n4")))
    m = _NUMBER_AFTER_PREFIX.match(t)
    if m and len(m.group("prefix").split()) <= PREFIX_WORDS:
        return Numbering("prefix", int(m.group("n")), m.group("prefix").strip().lower())
    return None


def strip_numbering(text: str) -> str:
    """The heading without its leading ordinal ("1. ", "①", "一、", "(3) ")."""
    t = text.strip()
    if t[:1] in _CIRCLED:
        return t[1:].strip()
    m = _CJK_NUMBER.match(t) or _NUMBER_AT_START.match(t)
    if m and len(t) > m.end():
        return t[m.end() :].strip()
    return t


# --- measuring text ---------------------------------------------------------------------------


def _is_cjk(ch: str) -> bool:
    return "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def words(text: str) -> int:
    """Words, with CJK characters counted two to a word: their scripts have no spaces."""
    cjk = len(_CJK_CHAR.findall(text))
    if not cjk:
        return len(text.split())
    return len(_CJK_CHAR.sub(" ", text).split()) + (cjk + 1) // 2


def loosely_equal(a: str, b: str, ratio: float = 0.85) -> bool:
    """Two headings that say the same thing (case, numbering and punctuation aside)."""
    na, nb = _plain(a), _plain(b)
    if not na or not nb:
        return False
    return na == nb or difflib.SequenceMatcher(None, na, nb).ratio() >= ratio


def is_furniture(text: str) -> bool:
    """Page furniture on a line of its own, in any reader: a rule ("___"), a share button, a
    teaser ("Related: …", "Watch: …", "Tagged: …"), a photo caption. Back-matter markers and
    sponsor labels are not furniture: they say where the article ends or a box begins."""
    t = text.strip()
    if not re.search(r"[^\W_]", t):
        return True
    ph = phrases()
    if words(t) <= MARKER_WORDS and starts_with_phrase(t, ph.back_matter + ph.sponsor_labels, True):
        return False
    if words(t) <= MARKER_WORDS and starts_with_phrase(t, ph.chrome, whole=True):
        return True
    label = re.match(r"^([^:]{1,30}):\s*\S", t)
    if (
        label
        and words(t) <= 25
        and starts_with_phrase(label.group(1), ph.link_boxes + ph.chrome, True)
    ):
        return True
    return is_caption(t)


# A caption is a line or two: past this many words a bracket at the end is the text's own.
CAPTION_MAX_WORDS = 40


def is_caption(text: str) -> bool:
    """A photo caption: it ends with its credit ("A woman reading Shutterstock", "… (AP
    Photo/Ana Lopes)", "… (Foto: dpa)")."""
    low = " ".join(text.lower().split())
    if words(low) > CAPTION_MAX_WORDS:
        return False
    if any(low.endswith(c) for c in phrases().credits):
        return True
    labels = phrases().credits + phrases().credit_labels
    credit = re.search(r"[(\[]([^()\[\]]{2,80})[)\]]$", low)
    if credit is not None and starts_with_phrase(credit.group(1), labels):
        return True
    # ... or with it written out at the end: "A cup of tea. Photo: the author".
    label = re.search(r"(?:^|[\s.])([^\W\d_]+(?: [^\W\d_]+)?):\s+[^.!?:]{1,60}$", low)
    return label is not None and starts_with_phrase(label.group(1), phrases().credit_labels, True)


_SEPARATOR = re.compile(r"\s[|·•/»>]\s|\S\s{2,}(?=\S)|\s\|\s?")


def menu_like(text: str) -> bool:
    """Entries set side by side: two separators or more, or spaced CJK words."""
    if len(_SEPARATOR.findall(text)) >= 2:
        return True
    return bool(re.search(r"[\u3040-\u9fff]", text)) and len(re.findall(r"\s+", text)) >= 2


def dateline(text: str) -> bool:
    """A date (four digits, or day.month.) or a count of comments: a byline, not a headline."""
    return bool(re.search(r"(?<!\d)\d{4}(?!\d)|\b\d{1,2}[./]\d{1,2}[./]", text))


# --- candidates and groups --------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    index: int  # position in the node list
    style: tuple[object, ...]  # the group key: candidates with one style look alike
    text: str  # the heading as it will be shown
    number: Numbering | None


def _case_class(text: str) -> str:
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 3 and not any(c.islower() for c in letters):
        return "upper"
    ws = [w for w in re.findall(r"[^\W\d_]+", text) if len(w) > 3]
    if ws and sum(w[0].isupper() for w in ws) >= 0.75 * len(ws) and len(ws) >= 2:
        return "title"
    return "sentence"


def candidates(nodes: Sequence[Node]) -> list[Candidate]:
    """Every node whose form lets it be a heading, keyed by what it looks like."""
    out: list[Candidate] = []
    nouns_capitalised = capitalises_nouns(nodes)
    for i, node in enumerate(nodes):
        b = node.block
        text = " ".join(node.text.split())
        if len(re.findall(r"[^\W_]", text)) < MIN_HEADING_CHARS and not _CJK_CHAR.search(text):
            continue  # "S", "»": an icon font's glyph, not a heading
        num = numbering(text)
        if b.kind == "h":
            out.append(Candidate(i, ("h", node.level), text, num))
        elif b.kind != "p":
            continue
        elif node.bold and words(text) <= MAX_HEADING_WORDS:
            out.append(Candidate(i, ("bold",), text, num))
        elif node.lead and words(node.lead) <= MAX_HEADING_WORDS:
            lead = " ".join(node.lead.split())
            out.append(Candidate(i, ("lead",), lead, numbering(lead)))
        elif num is not None and num.kind != "prefix" and words(text) > MAX_HEADING_WORDS:
            heading = runin_heading(text, nouns_capitalised)
            out.append(Candidate(i, ("runin", num.kind), heading, num))
        elif _line_heading(text, num):
            ending = text[-1:] if text[-1:] in ".:" else ""
            kind = (num.kind + num.prefix) if num else text[0] if text[0] in HEADING_MARKS else ""
            style = ("line", node.indent, kind, ending, _case_class(text) == "upper")
            out.append(Candidate(i, style, text, num))
    return out


def capitalises_nouns(nodes: Sequence[Node]) -> bool:
    """Whether the post's language capitalises its nouns (German): a fifth or more of the words
    inside its sentences start with a capital."""
    inner = [
        t
        for n in nodes
        if n.block.kind == "p"
        for sentence in sentences(n.text)
        for t in sentence.split()[1:]
        if t[:1].isalpha()
    ]
    return bool(inner) and sum(t[:1].isupper() for t in inner) >= NOUN_CAPITALS_SHARE * len(inner)


def runin_heading(text: str, nouns_capitalised: bool) -> str:
    """A title for a numbered paragraph that has none of its own: its first sentence when that
    is short, else its first words; where the language capitalises nouns, its opening noun
    phrase ("Die rot-grüne Stadtregierung" setzt…, "Der Boulevard.")."""
    body = strip_numbering(text)
    number = text[: len(text) - len(body)]
    tokens = body.split()
    if nouns_capitalised:
        for k, token in enumerate(tokens[1:RUNIN_WORDS], start=1):
            if token[:1].isupper():
                return number + " ".join(tokens[: k + 1]).rstrip(",;:")
    first = (sentences(body) or [body])[0]
    if words(first) <= RUNIN_SENTENCE_WORDS:
        return number + first
    return number + " ".join(tokens[:RUNIN_WORDS]) + "…"


# Source code on a line of its own: "import x", "x = 1", "print(x)", "{", "a; b".
_CODE_LINE = re.compile(
    r"^(?:import|from|def|class|return|print|if|for|while|with|try|except|raise|lambda|var|let|"
    r"const|function|echo|sudo|\$|>>>|#include)\b|[={};<>]|\w\("
)


def _line_heading(text: str, num: Numbering | None) -> bool:
    """A paragraph short enough to be a heading, and not code. One that ends in a full stop is
    a sentence unless it is numbered or very short ("To sum up.")."""
    n = words(text)
    if n > MAX_HEADING_WORDS or text[-1:] in ",;" or _CODE_LINE.search(text):
        return False
    if text[-1:] == "." and not text.endswith("..."):
        return num is not None or n <= SHORT_SENTENCE_WORDS
    return True


@dataclass(frozen=True)
class Outline:
    """The chosen sections (node indexes of their headings) and what the choice found."""

    heads: tuple[int, ...]
    texts: tuple[str, ...]
    level: int  # the markup level of the section headings (0 for other styles)
    inline: bool = False  # each heading opens its own paragraph, which stays in the section
    toc: tuple[str, ...] = ()  # a list in the intro that names the sections
    score: float = 0.0


def _body_words(nodes: Sequence[Node], start: int, stop: int) -> int:
    return sum(words(n.text) for n in nodes[start:stop] if n.block.kind not in ("h", "img"))


def stated_count(title: str, intro_text: str = "") -> int | None:
    """How many items the post says it has: "7 tips" in the title, "Here are twelve things" in
    the intro. Only small counts, and only a number that is a word of its own."""
    words_to_n = phrases().numbers
    for text in (title, intro_text):
        for token in re.findall(r"(?<![\w.,:/])(\d{1,2}|[^\W\d_]+)(?![\w.,:/%])", text):
            low = token.lower()
            if token.isdecimal() and 2 <= int(token) <= 30:
                return int(token)
            if low in words_to_n and words_to_n[low] >= 3 and len(low) > 2:
                return words_to_n[low]
        m = re.search(
            r"([一二三四五六七八九十]{1,3}|\d{1,2})\s*(?:つ|個|选|選|件|招|条|種|种|个)", text
        )
        if m:
            v = m.group(1)
            return int(v) if v.isdecimal() else _cjk_value(v)
    return None


def _parallel(texts: Sequence[str]) -> float:
    """How alike the headings are in form: 1 when they share an opening, case and length."""
    if len(texts) < 2:
        return 0.0
    bare = [strip_numbering(t) for t in texts]
    firsts = Counter(_plain(t).split(" ")[0] if _plain(t) else "" for t in bare)
    opening = firsts.most_common(1)[0][1] / len(bare) if len(bare) >= 3 else 0.0
    cases = Counter(_case_class(t) for t in bare)
    case = cases.most_common(1)[0][1] / len(bare)
    ends = Counter(t[-1:] if t[-1:] in ".?!:" else "" for t in bare)
    end = ends.most_common(1)[0][1] / len(bare)
    lengths = [words(t) for t in bare]
    spread = statistics.pstdev(lengths) / max(1.0, statistics.mean(lengths))
    similar = max(0.0, 1.0 - spread)
    return (opening + case + end + similar) / 4


def _best_run(group: list[Candidate]) -> list[Candidate]:
    """The longest run numbered 1, 2, 3… (or 0, 1, 2…) in document order, one per number."""
    best: list[Candidate] = []
    for k, c in enumerate(group):
        if c.number is None or c.number.value not in (0, 1):
            continue
        run, want = [c], c.number.value + 1
        for d in group[k + 1 :]:
            if d.number is not None and d.number.value == want:
                run.append(d)
                want += 1
        if len(run) > len(best):
            best = run
    return best


def _fill_gaps(group: list[Candidate], others: Sequence[Candidate]) -> list[Candidate]:
    """A numbered heading one level off from its siblings ("### 3." among "## 1." … "## 6.")
    joins them: it carries the missing number, and stands between the numbers around it."""
    numbers = {c.number.value: c.index for c in group if c.number is not None}
    if len(numbers) < 2:
        return group
    added = []
    for c in others:
        if c.number is None or c.number.value in numbers:
            continue
        before, after = numbers.get(c.number.value - 1), numbers.get(c.number.value + 1)
        if before is None and after is None:
            continue
        lo = -1 if before is None else before
        hi = float("inf") if after is None else after
        if lo < c.index < hi:
            added.append(c)
    return sorted(group + added, key=lambda c: c.index) if added else group


def _refine(
    group: list[Candidate], nodes: Sequence[Node], title: str, inline: bool = False
) -> tuple[list[Candidate], list[str]]:
    """The group as a series would use it: title repeats, repeated labels and menus out, the
    numbered run kept. Returns the members left and the texts of any menu (a table of contents)."""
    members = [c for c in group if not (title and loosely_equal(c.text, title))] or group
    # Headings with nothing between them are a menu or a table of contents, not sections.
    toc: list[str] = []
    keep: list[Candidate] = []
    last_of_run: list[tuple[Candidate, int]] = []
    bodies = _bodies(nodes, [c.index for c in members], inline)
    body_of = {c.index: bodies[k] for k, c in enumerate(members)}
    # Markup headings are meant: only nothing at all between two makes them a menu.
    empty = 1 if group and group[0].style[0] == "h" else MENU_BODY_WORDS
    runs: list[list[Candidate]] = []
    for k, c in enumerate(members):
        if k and bodies[k - 1] < empty:
            runs[-1].append(c)
        else:
            runs.append([c])
    # Pairs again and again (a heading, then a line naming what it is about) are headings with
    # a subtitle: the first of each pair is the heading.
    pairs = sum(len(r) == 2 for r in runs)
    subtitled = pairs >= 3 and pairs >= PAIRED_SHARE * len(runs)
    for run in runs:
        if len(run) == 1 or (subtitled and len(run) == 2):
            keep.append(run[0])
        else:
            toc.extend(c.text for c in run[:-1])
            last_of_run.append((run[-1], body_of[run[-1].index]))
    # The last entry of a menu has the text after the menu under it: it is a heading only if
    # that text is as long as a section's, and no heading further on bears its name.
    typical = statistics.median([body_of[c.index] for c in keep]) if keep else 0
    for c, body in last_of_run:
        named_later = any(d.index > c.index and loosely_equal(d.text, c.text) for d in members)
        if not named_later and body >= typical / 2 and body >= MIN_BODY_WORDS:
            keep.append(c)
        else:
            toc.append(c.text)
    keep.sort(key=lambda c: c.index)
    # A text printed more than once is a label ("Summary", the headline over every section), or
    # a table of contents' entry beside its heading: never a section.
    counts = Counter(c.text for c in keep)
    keep = [c for c in keep if counts[c.text] == 1]
    numbered = [c for c in keep if c.number is not None]
    if len(numbered) >= 2 and len(numbered) >= MOSTLY * len(keep):
        run = _best_run(numbered)
        if len(run) >= 2:
            keep = _extend_run(run, keep)
    return keep, toc


def _extend_run(run: list[Candidate], members: list[Candidate]) -> list[Candidate]:
    """A numbered run, plus the unnumbered members after it that close the series (a question
    that wraps up, "Conclusion"): they are kept so the conclusion can be found, marked by having
    no number."""
    last = run[-1].index
    return run + [c for c in members if c.index > last and c.number is None][:1]


def _bodies(nodes: Sequence[Node], heads: Sequence[int], inline: bool) -> list[int]:
    """Words under each heading, up to the next one (a run-in heading's paragraph included)."""
    own = 0 if inline else 1
    return [
        _body_words(nodes, h + own, heads[k + 1] if k + 1 < len(heads) else len(nodes))
        for k, h in enumerate(heads)
    ]


def _coverage(
    nodes: Sequence[Node], heads: Sequence[int], article_words: int, inline: bool
) -> float:
    if not heads or not article_words:
        return 0.0
    bodies = _bodies(nodes, heads, inline)
    # The last section's body may run on into whatever follows the article: count it as a
    # typical section, no more.
    if len(bodies) >= 2:
        bodies[-1] = min(bodies[-1], 2 * max(1, int(statistics.median(bodies[:-1]))))
    return min(1.0, sum(bodies) / article_words)


def choose_outline(nodes: Sequence[Node], title: str, intro_hint: str = "") -> Outline:
    """The best-scoring group of headings, as the series' sections."""
    cands = candidates(nodes)
    groups: dict[tuple[object, ...], list[Candidate]] = {}
    for c in cands:
        groups.setdefault(c.style, []).append(c)
    article_words = _body_words(nodes, 0, len(nodes)) or 1
    levels = sorted({int(str(s[1])) for s in groups if s[0] == "h"})
    best = Outline((), (), 0)
    best_score = float("-inf")
    for style, group in groups.items():
        inline = style[0] in INLINE_STYLES
        if style[0] == "h":
            others = [c for c in cands if c.style[0] == "h" and c.style != style]
            group = _fill_gaps(group, others)
        members, toc = _refine(group, nodes, title, inline)
        members = _before_back_matter(members, nodes)
        numbered_members = [m for m in members if m.number is not None]
        core = numbered_members if len(numbered_members) >= 2 else members
        core = [m for m in core if not starts_with_phrase(m.text, phrases().conclusion)]
        core = [m for m in core if not starts_with_phrase(m.text, phrases().back_matter, True)]
        n = len(core)
        # One marked-up heading is a (short) series the writer asked for; inferred ones need two.
        if not (1 if style[0] == "h" else MIN_SECTIONS) <= n <= MAX_SECTIONS:
            continue
        heads = [c.index for c in members]
        bodies = _bodies(nodes, heads, inline)
        body = sum(b >= MIN_BODY_WORDS for b in bodies) / len(bodies)
        values = [c.number.value for c in core if c.number is not None]
        in_order = len(values) == n and values == list(range(values[0], values[0] + n))
        stated = stated_count(title, intro_hint)
        score = (
            W_BODY * body
            + W_COVERAGE * _coverage(nodes, heads, article_words, inline)
            + W_NUMBERED * in_order
            + W_COUNT * (stated is not None and stated == n)
            + W_PARALLEL * _parallel([c.text for c in core])
            + STYLE_PRIOR[str(style[0])]
            + W_SIZE * (3 <= n <= 15)
        )
        if style[0] == "h":
            score -= W_LEVEL * levels.index(int(str(style[1])))
        if score > best_score:
            level = int(str(style[1])) if style[0] == "h" else 0
            best_score = score
            texts = tuple(c.text for c in members)
            best = Outline(tuple(heads), texts, level, inline, tuple(toc), score)
    return best


def _before_back_matter(members: list[Candidate], nodes: Sequence[Node]) -> list[Candidate]:
    """Members up to the first back-matter heading after the series began ("Related",
    "Comments", "Footnotes"), whatever its style: what follows is not the article."""
    if len(members) < 2:
        return members
    stops = [
        i
        for i, node in enumerate(nodes)
        if i > members[1].index
        and node.block.kind in ("h", "p")
        and words(node.text) <= MARKER_WORDS
        and starts_with_phrase(node.text, phrases().back_matter, whole=True)
    ]
    for stop in stops:
        before = [m for m in members if m.index < stop]
        after = [m for m in members if m.index > stop]
        # A box of links inside a numbered list ("Related" between items 3 and 4) ends nothing.
        if (
            before
            and after
            and before[-1].number is not None
            and after[0].number is not None
            and after[0].number.value == before[-1].number.value + 1
            and starts_with_phrase(nodes[stop].text, phrases().link_boxes, whole=True)
        ):
            continue
        return before
    return members


# --- from an outline to the post's parts ------------------------------------------------------


@dataclass(frozen=True)
class Parts:
    intro: tuple[Block, ...]
    sections: tuple[Section, ...]
    conclusion: tuple[Block, ...]
    conclusion_heading: str | None
    references: tuple[Reference, ...]


def _as_blocks(nodes: Sequence[Node], level: int) -> list[Block]:
    """Nodes inside a section: deeper headings stay as sub-headings."""
    out: list[Block] = []
    for node in nodes:
        b = node.block
        if b.kind == "h":
            out.append(Block("h", b.spans, line=node.line))
        else:
            out.append(b)
    return out


def _references_from(blocks: Sequence[Block], start: int) -> list[Reference]:
    refs: list[Reference] = []
    for b in blocks:
        entries = list(b.items) if b.kind in ("ul", "ol") else [b.spans] if b.kind == "p" else []
        for spans in entries:
            text = "".join(s.text for s in spans).strip()
            if not text:
                continue
            href = next((s.href for s in spans if s.href), None)
            m = re.match(r"^(?:\((\d+)\)|\[\^?(\d+)\]:?|(\d+)[.)]|\^(\d+))\s*", text)
            marker = next((g for g in m.groups() if g), "") if m else ""
            refs.append(
                Reference(
                    marker or str(start + len(refs) + 1), text[m.end() :] if m else text, href
                )
            )
    return refs


def assemble(nodes: Sequence[Node], outline: Outline, title: str = "") -> Parts:
    """Cut the nodes at the chosen headings. Leading intro headings join the intro; a closing
    heading ("Conclusion", "Fazit", a question after a numbered run) starts the conclusion; back
    matter ends the post, and a reference list there becomes the references."""
    ph = phrases()
    heads = list(outline.heads)
    texts = list(outline.texts)
    numbered = sum(numbering(t) is not None for t in texts) >= max(2, MOSTLY * len(texts))
    # Intro headings at the start of the group open the post instead, and so do a first
    # section that lists the others (a "How to use this guide" over a table of contents), a
    # summary box ("Key takeaways") and a question before statements ("What is a sinking fund?").
    while len(heads) > 1 and (
        starts_with_phrase(texts[0], ph.intro + ph.conclusion)
        or _lists_the_rest(nodes, heads, texts)
        or (len(heads) > MIN_LISTED and _odd_question(texts, 0))
    ):
        heads.pop(0)
        texts.pop(0)
    # The end of the article: the first back-matter heading after the first section.
    end = len(nodes)
    references: list[Reference] = []
    for i in range(heads[0] + 1 if heads else 0, len(nodes)):
        node = nodes[i]
        if node.block.kind not in ("h", "p") or words(node.text) > MARKER_WORDS:
            continue
        if node.block.kind == "p" and not _standalone(node):
            continue
        # A heading, or a line with a count ("14 thoughts on …"), may go on after the phrase.
        whole = node.block.kind == "p" and not node.text[:1].isdigit()
        if starts_with_phrase(node.text, ph.back_matter, whole=whole):
            if i <= (heads[-1] if heads else -1) and i not in heads:
                # A back-matter heading inside the series: only a heading of the series'
                # own style ends it.
                continue
            end = i
            break
    if end < len(nodes):
        tail = [n for n in nodes[end:] if not starts_with_phrase(n.text, ph.back_matter, True)]
        if starts_with_phrase(nodes[end].text, ph.references) or _looks_like_references(tail):
            references = _references_from([n.block for n in tail], 0)
    kept = [(h, t) for h, t in zip(heads, texts, strict=True) if h < end]
    heads = [h for h, _ in kept]
    texts = [t for _, t in kept]
    heads, texts, end = _keep_listed(nodes, heads, texts, end, outline.toc)
    conclusion_at: int | None = None
    # A closing heading among the last ones: "Conclusion", or after a numbered run an
    # unnumbered heading of the same style; what follows it closes the post too.
    for k in range(len(heads) - 1, max(0, len(heads) - 1 - CLOSING_WINDOW), -1):
        t = texts[k]
        if starts_with_phrase(t, ph.conclusion) or (numbered and numbering(t) is None):
            conclusion_at = k
        elif conclusion_at is not None:
            break
    if conclusion_at is None and len(heads) >= MIN_LISTED and _odd_question(texts, -1):
        conclusion_at = len(heads) - 1  # "So which one should you use?" after statements
    if conclusion_at is None and heads:
        # A closing heading in another form than the sections' ("To sum things up." after
        # headings without a full stop, a bold "Fazit"; after numbered headings, a short line
        # over prose).
        for i in range(heads[-1] + 1, end):
            node = nodes[i]
            shaped = node.block.kind == "h" and (not outline.level or node.level <= outline.level)
            shaped = shaped or (node.block.kind == "p" and _standalone(node))
            closing = starts_with_phrase(node.text, ph.conclusion) or (
                numbered and node.block.kind == "p" and _heading_line(nodes, i)
            )
            if shaped and closing:
                heads.append(i)
                texts.append(" ".join(node.text.split()))
                conclusion_at = len(heads) - 1
                break
    sections: list[Section] = []
    stop = len(heads) if conclusion_at is None else conclusion_at
    for k in range(stop):
        h = heads[k]
        nxt = heads[k + 1] if k + 1 < len(heads) else end
        first = h if outline.inline and h in outline.heads else h + 1
        blocks = _as_blocks(nodes[first:nxt], outline.level)
        if first == h and blocks:
            blocks[0] = _without_numbering(blocks[0])
        sections.append(Section(texts[k], tuple(blocks), nodes[h].line))
    intro_nodes = list(nodes[: heads[0]]) if heads else list(nodes[:end])
    conclusion: list[Block] = []
    conclusion_heading = None
    if conclusion_at is not None:
        conclusion_heading = texts[conclusion_at]
        conclusion = _as_blocks(nodes[heads[conclusion_at] + 1 : end], outline.level)
    intro = _trim_intro(intro_nodes, [s.heading for s in sections], outline.toc, title)
    return Parts(
        tuple(intro), tuple(sections), tuple(conclusion), conclusion_heading, tuple(references)
    )


def _lists_the_rest(nodes: Sequence[Node], heads: list[int], texts: list[str]) -> bool:
    """Whether the first section's text holds a list naming most of the sections after it."""
    if len(heads) < MIN_LISTED + 1:
        return False
    body = nodes[heads[0] + 1 : heads[1]]
    items = [
        " ".join(Block("p", it).text.split())
        for n in body
        if n.block.kind in ("ul", "ol")
        for it in n.block.items
    ]
    hits = sum(any(loosely_equal(t, it, TOC_LABEL_RATIO) for it in items) for t in texts[1:])
    return hits >= max(MIN_LISTED, LISTED_SHARE * (len(texts) - 1))


def _odd_question(texts: Sequence[str], k: int) -> bool:
    """Whether heading `k` is the one question among statements: at the start it asks what the
    post is about, at the end what to make of it. A numbered one is an item like the others."""
    asks = [t.rstrip().endswith(("?", "？")) for t in texts]
    return asks[k] and sum(asks) == 1 and numbering(texts[k]) is None


def _heading_line(nodes: Sequence[Node], i: int) -> bool:
    """A short line with no closing punctuation, and prose under it."""
    text = nodes[i].text.strip()
    return (
        0 < words(text) <= MARKER_WORDS
        and not nodes[i].lead
        and not re.search(r"[.,;:!|]", text)  # "Players: 2 | Time: 90 min" is data
        and i + 1 < len(nodes)
        and nodes[i + 1].block.kind == "p"
        and words(nodes[i + 1].text) >= MIN_BODY_WORDS
    )


def _toc_items(nodes: Sequence[Node], toc: Sequence[str]) -> list[str]:
    """The entries of the intro's list of contents: a menu run of headings, or a bulleted list."""
    items = list(toc)
    for node in nodes:
        if node.block.kind in ("ul", "ol"):
            items.extend(" ".join(Block("p", it).text.split()) for it in node.block.items)
    return items


def _keep_listed(
    nodes: Sequence[Node], heads: list[int], texts: list[str], end: int, toc: Sequence[str]
) -> tuple[list[int], list[str], int]:
    """When the intro lists the sections and every entry of that list found its heading, a
    heading the list leaves out at either end is not part of the series: before the first, it
    joins the intro (a sponsor's box); after the last, the article has ended. A list entry with
    no heading (a writer renamed one) changes nothing: no section is ever dropped for it."""
    if len(heads) < MIN_LISTED:
        return heads, texts, end
    items = _toc_items(nodes[: heads[0]], toc)
    if not items:
        return heads, texts, end
    matched = [any(loosely_equal(t, item, 0.8) for item in items) for t in texts]
    hits = sum(matched)
    if hits < MIN_LISTED or hits < len(set(items)):
        return heads, texts, end
    first = matched.index(True)
    last = len(matched) - 1 - matched[::-1].index(True)
    tail = [
        k
        for k in range(last + 1, len(heads))
        if not starts_with_phrase(texts[k], phrases().conclusion)
    ]
    if tail:
        end = heads[tail[0]]
    keep = [k for k in range(first, len(heads)) if heads[k] < end]
    return [heads[k] for k in keep], [texts[k] for k in keep], end


def _without_numbering(block: Block) -> Block:
    """A run-in paragraph without its ordinal: the email numbers its issues itself."""
    if not block.spans:
        return block
    head = block.spans[0]
    bare = strip_numbering(head.text)
    if bare == head.text.strip():
        return block
    spans = (Span(bare, head.href, head.strong, head.em, head.code), *block.spans[1:])
    return Block(block.kind, spans, block.items, block.code, block.line)


def _standalone(node: Node) -> bool:
    return "\n" not in node.block.text and words(node.text) <= MARKER_WORDS


def _looks_like_references(tail: Sequence[Node]) -> bool:
    """A numbered list of citations: "(1) Smith J…", "[2] …", "1. Author. Title…"."""
    texts = [n.text for n in tail if n.text.strip()]
    if not texts:
        return False
    marked = sum(bool(re.match(r"^\s*(?:\(\d+\)|\[\^?\d+\]|\^\d+)", t)) for t in texts)
    return marked >= max(1, MOSTLY * len(texts))


def _trim_intro(
    nodes: Sequence[Node], headings: Sequence[str], toc: Sequence[str], title: str = ""
) -> list[Block]:
    """The intro, less what the series replaces: a list of the sections, the sentence that leads
    into it ("The benefits are:"), and the one that announces it ("In this blog we will…")."""
    ph = phrases()
    out: list[Block] = []
    named = set(toc)
    for node in nodes:
        b = node.block
        text = " ".join(node.text.split())
        listed = text in named
        if b.kind in ("ul", "ol") and headings:
            items = [" ".join(Block("p", it).text.split()) for it in b.items]
            hits = sum(any(loosely_equal(it, h, 0.6) for h in headings) for it in items)
            listed = bool(items) and hits >= max(2, LISTED_SHARE * len(items))
        if listed:
            if out and out[-1].kind == "p" and out[-1].text.rstrip().endswith(":"):
                lead = _drop_last_sentence(out.pop())
                if lead is not None:
                    out.append(lead)
            continue
        if b.kind == "p" and starts_with_phrase(text, ph.series_preview):
            continue
        if b.kind == "p" and words(text) <= BYLINE_WORDS and dateline(text) and menu_like(text):
            continue  # "Von Sabine Krüger · 22.04.2024 · Lesezeit 4 Min.": a byline
        heading_like = b.kind == "h" or (b.kind == "p" and _standalone(node))
        if heading_like and (
            starts_with_phrase(text, ph.intro)  # "Introduction", "Contents": the email says so
            or starts_with_phrase(text, ph.back_matter, whole=True)  # a share bar's label
            or (title and loosely_equal(text, title, TITLE_ECHO))  # the headline again
        ):
            continue
        out.append(Block("h", b.spans, line=node.line) if b.kind == "h" else b)
    return out


def _drop_last_sentence(block: Block) -> Block | None:
    """The paragraph without its last sentence (a lead-in to a list that is gone)."""
    parts = sentences(block.text)
    rest = " ".join(parts[:-1]).strip()
    return Block("p", (Span(rest),), line=block.line) if rest else None


def heading_block(text: str, line: int = 0) -> Block:
    return Block("h", (Span(text),), line=line)


def normalize(text: str) -> str:
    """NFC, so "é" typed two ways matches itself."""
    return unicodedata.normalize("NFC", text)
