"""Load a post into a `Post`: Markdown with front matter, or text scraped from a web page.

Both loaders end in the same shape: a title, an intro, sections (heading + blocks), a conclusion
and a reference list. Scraped text has no markup, so its structure is recovered from layout: short
lines standing alone are headings, a list in the intro names the sections, a trailing numbered list
holds the references. Suspicious spots are reported as warnings, never silently "fixed".
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import PostError
from .markdown import parse_markdown
from .model import Block, Post, Reference, Section, Span, TextWarning

FORMATS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text"}


def load_post(path: Path, fmt: str | None = None, strict: bool = False) -> Post:
    """Read `path` and parse it with the loader its extension (or `fmt`) names."""
    fmt = fmt or FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise PostError(
            f"{path}: unknown post format {path.suffix!r}: use .md, .markdown or .txt, "
            "or say --format markdown|text"
        )
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PostError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise PostError(f"{path}: is a folder, not a post") from None
    except OSError as e:
        raise PostError(f"{path}: cannot read ({e.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise PostError(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
            "save the post as UTF-8"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise PostError(f"{path}: the post is empty")
    post = parse_markdown(text, str(path)) if fmt == "markdown" else parse_scraped(text, str(path))
    scraped = fmt != "markdown"
    post = replace(post, warnings=post.warnings + tuple(text_warnings(post, scraped=scraped)))
    if strict and post.warnings:
        first = post.warnings[0]
        more = f" (and {len(post.warnings) - 1} more)" if len(post.warnings) > 1 else ""
        raise PostError(f"{first.source}:{first.line}: {first.message}{more}")
    if not post.sections:
        raise PostError(
            f"found no section headings in {path}: "
            "add '## ' headings or a list of items in the intro"
        )
    return post


# ---------------------------------------------------------------------------------------------
# Warnings about the text


_DANGLING_LINK = re.compile(
    r"\b(click here|check out this (?:article|post|page|video|link)|read more here|"
    r"(?:can be )?found (?:here|on|at)|see (?:this|the) (?:article|link|post) here)"
    r"(?=\s*(?:$|[.!?,;:]|[\"“]))",
    re.IGNORECASE,
)
_GLUED_QUOTE = re.compile(r"[^\s(\[{/\-–—\"“'‘]([\"“])(?=[A-Za-z])")
# Source code on a page: lowercase by nature, no lost drop cap ("import b", "x = 1").
_CODE_LIKE = re.compile(
    r"^(?:import|from|def|class|return|print|if|for|while|with|try|except|raise|lambda)\b|"
    r"[={};]|\w\(|:$"
)


def text_warnings(post: Post, *, scraped: bool = True) -> list[TextWarning]:
    """Spots where scraping probably lost something: a drop cap, a link target, a space.

    Drop caps are a web page's styling, so only scraped text can have lost one; a Markdown
    paragraph that starts lowercase ("or:" after a code block) was written that way.
    """
    warnings: list[TextWarning] = []
    blocks = list(post.intro)
    for s in post.sections:
        blocks.extend(s.blocks)
    blocks.extend(post.conclusion)
    for b in blocks:
        if b.kind not in ("p", "quote"):
            continue
        plain = "".join(s.text for s in b.spans if s.href is None and not s.code)
        text = b.text.lstrip()
        starts_in_code = bool(b.spans) and b.spans[0].code
        if (
            scraped
            and text[:1].islower()
            and text[:1].isalpha()
            and not starts_in_code
            and not _CODE_LIKE.search(text)
        ):
            first = " ".join(text.split()[:3])
            warnings.append(
                TextWarning(
                    post.source,
                    b.line,
                    f"paragraph starts lowercase ('{first}…'): a drop cap may have been lost",
                )
            )
        for m in _DANGLING_LINK.finditer(plain):
            warnings.append(
                TextWarning(
                    post.source,
                    b.line,
                    f"link text with no link: '{m.group(1)}' points nowhere (the page's link "
                    "was lost): add the URL or rephrase",
                )
            )
        for m in _GLUED_QUOTE.finditer(plain):
            around = plain[max(0, m.start() - 12) : m.end() + 12].replace("\n", " ")
            warnings.append(
                TextWarning(
                    post.source,
                    b.line,
                    f"quote mark with no space before it ('…{around}…'): text may be missing",
                )
            )
    return sorted(warnings, key=lambda w: w.line)


# ---------------------------------------------------------------------------------------------
# Scraped text


@dataclass
class _Para:
    """A paragraph of scraped text: its lines (stripped) and where it starts."""

    lines: list[str]
    line: int
    indent: int

    @property
    def text(self) -> str:
        return " ".join(self.lines)


_CHROME_LINES = re.compile(
    r"^(?:top of page|bottom of page|skip to (?:main )?content|menu|search|log ?in|sign ?up|"
    r"sign in|subscribe|share|tweet|pin|email|print|facebook|twitter|pinterest|linkedin|"
    r"whatsapp|reddit|copy link|share this(?: post| article)?:?|share on \w+|"
    r"see all|recent posts|home|blog|about|contact|previous|next|back to top|"
    r"\d+ views?\s*\d* comments?|\d+ comments?|\d+ likes?|\d+ min(?:ute)? read|"
    r"advertisement|sponsored|loading\.*|\[[\w-]+\](?:share on pinterest)?|\[\s*\])$",
    re.IGNORECASE,
)
_CHROME_SUFFIX = re.compile(
    r"(?:Shutterstock|Getty Images|iStock|Share on Pinterest|pin image)$|^\[[^\]]{1,40}\]$|"
    r"^You are here:|^\d+ minute read$"
)
# Whole paragraphs that are page furniture rather than the author's text.
_CHROME_PARAGRAPH = re.compile(
    r"\bcookies?\b.*\b(?:accept|agree|consent)|\b(?:accept|agree|consent)\b.*\bcookies?\b|"
    r"may contain affiliate links|^read the \w+ version of this article",
    re.IGNORECASE,
)
_END_MARKERS = re.compile(
    r"^(?:recent posts|comments|leave a (?:reply|comment)|\d+ comments?|filed under:?.*|"
    r"author|about the author|tags?(?::.*)?|latest posts by .*|"
    # The author box after the article ("Written by Ann Lee, PhD on April 29, 2018"), the footer.
    r"(?:written by|writer's picture)\b.*|(?:©|copyright\b|\(c\) \d{4}).*)$",
    re.IGNORECASE,
)
# A box of links to other articles: dropped where it stands, the article goes on after it.
_BOX_MARKERS = re.compile(
    r"^(?:related posts|related articles|related stories|related|you may also like|"
    r"you might also like|read this next|recommended|more from .{1,40}|popular posts|"
    r"more stories|read more|see also)\s*:?$",
    re.IGNORECASE,
)
_TEASER = re.compile(r"^(?:related|see also|read more|also read|read next)\s*:\s*\S.*$", re.I)
_BYLINE = re.compile(
    r"^(?:[•*·]\s*)?(?:[A-Z][a-z]+\.? \d{1,2}, \d{4} )?"
    r"(?:Writer's picture|Written by|By|by)\s*:?\s*"
    r"(?P<name>[A-Z][\w.'-]+(?:[ ,]+[A-Z][\w.'-]+){0,4}?)"
    r"(?:\s+(?:on|updated|published)\b.*|\s*[|·•/].*|\s+\d+ [Cc]omments?)?$",
)
# A newsletter sign-up box inside the article ("Enter your name and email to get…").
_SIGNUP = re.compile(
    r"\b(?:enter|type|leave|drop) your (?:first )?(?:name(?: and|,)? )?e-?mail\b|"
    r"^(?:sign up|subscribe)(?: (?:now|today|for free))?[.!]?$|"
    r"\bcheck your (?:e-?mail|inbox)\b",
    re.IGNORECASE,
)
_MENU_BULLET = re.compile(r"^[•*·▪◦□‣]\s*")
_BULLET = re.compile(r"^\s*(?:[•*·▪◦‣-]|\d{1,2}[.)])\s+")
_REFERENCE = re.compile(
    r"^(?:\((?P<a>\d{1,3})\)|\[(?P<b>\d{1,3})\]:?|(?P<c>\d{1,3})\.)\s*(?P<text>\S.*)$"
)
_NUMBERED = re.compile(
    r"^(?:(?P<n1>\d{1,2})[.):]\s+|"
    r"(?:[A-Z][\w'’]*(?:\s+[\w'’]+){0,3})\s+#?(?P<n2>-?\d{1,2})\s*[:.)–-]\s*)(?P<rest>\S.*)$"
)
_CONCLUSION = re.compile(
    r"^(?:to sum (?:things|it) up|in conclusion|conclusions?|final thoughts|in summary|"
    r"wrap-?up|the bottom line|bottom line|takeaways?|key takeaways|"
    r"the takeaway|in closing|closing thoughts|to conclude|to wrap up|wrapping up)\b",
    re.IGNORECASE,
)
_INTRO_HEADING = re.compile(
    r"^(?:introduction|intro|who is this (?:post|article|guide) for|about this (?:article|post)|"
    r"about .{1,30}|background|overview|why this matters)\W*$",
    re.IGNORECASE,
)
_SERIES_PREVIEW = re.compile(
    r"^(?:in this (?:blog|post|article|guide)|below,? (?:we|i)|here(?:'s| is| are) (?:what|the)|"
    r"this (?:post|article) (?:will|covers))",
    re.IGNORECASE,
)


def _paragraphs(text: str) -> list[_Para]:
    paras: list[_Para] = []
    current: _Para | None = None
    for no, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            current = None
            continue
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if current is None or _BULLET.match(raw):
            current = _Para([stripped], no, indent)
            paras.append(current)
        else:
            current.lines.append(stripped)
    return paras


def _headingish(p: _Para) -> bool:
    """A short line standing alone, without closing punctuation (a question mark is fine)."""
    if len(p.lines) != 1:
        return False
    t = p.text
    words = t.split()
    return (
        0 < len(words) <= 18
        and len(t) <= 140
        and t[-1] not in '.,;:!"”)'
        and (t[0].isupper() or t[0].isdigit())
        and not _BULLET.match(t)
        and not _REFERENCE.match(t)
    ) or (bool(_CONCLUSION.match(t)) and len(words) <= 6)


def _is_prose(p: _Para) -> bool:
    """A real paragraph: a dozen words or more, ending like a sentence."""
    t = p.text.rstrip()
    return len(t.split()) >= 12 and t[-1:] in ".!?\"”)'’"


def _norm(t: str) -> str:
    t = t.lower()
    t = re.sub(r"^(?:\d+[.):]|#\d+)\s*", "", t)
    t = re.sub(r"\b(?:the|a|an|of|and|&)\b", " ", t)
    return re.sub(r"[^\w]+", " ", t).strip()


def _loosely(a: str, b: str) -> bool:
    na, nb = _norm(a), _norm(b)
    if not na or not nb:
        return False
    return na == nb or difflib.SequenceMatcher(None, na, nb).ratio() >= 0.8


def _alt_text(p: _Para) -> bool:
    """An image's alt text left behind as a line of its own: "small nursery ideas - diaper
    station". It starts lowercase and has neither sentence nor code punctuation; two words or
    fewer ("import b") are too little to tell it from code and are kept."""
    t = p.text
    return (
        len(p.lines) == 1
        and not _BULLET.match(p.lines[0])
        and len(t) <= 100
        and t[:1].islower()
        and len(t.split()) >= 3
        and not re.search(r"[.,;:!?\"“”()\[\]{}=<>/\\_`]", t)
    )


def _residue(paras: list[_Para]) -> list[_Para]:
    """The paragraphs left once image alt texts and lone punctuation are out."""
    return [p for p in paras if not _alt_text(p) and re.search(r"\w", p.text)]


def _without_signup_boxes(paras: list[_Para]) -> list[_Para]:
    """The paragraphs left once in-article sign-up boxes are out: the prompt ("Enter your email
    to get…") and the short lines around it ("Free Checklist", "Download it now!", the button).
    Done before headings are looked for, so the box's title cannot become a section."""
    short = [
        len(p.lines) <= 3 and len(p.text.split()) <= 8 and not _REFERENCE.match(p.text)
        for p in paras
    ]
    drop: set[int] = set()
    for k, p in enumerate(paras):
        if not _SIGNUP.search(p.text) or len(p.text.split()) > 25:
            continue
        drop.add(k)
        for step in (-1, 1):
            j = k + step
            while 0 <= j < len(paras) and (short[j] or j in drop):
                drop.add(j)
                j += step
    return [p for k, p in enumerate(paras) if k not in drop]


def _strip_chrome(text: str) -> list[str]:
    """Blank out page chrome line by line, and cut the page at the first end-of-article marker.

    Lines are blanked rather than removed so line numbers in warnings stay true to the file.
    """
    lines = text.split("\n")
    long_paras = 0
    in_box = False
    for no, raw in enumerate(lines):
        t = _MENU_BULLET.sub("", raw.strip())
        if not t:
            lines[no] = ""
            in_box = False
            continue
        if long_paras >= 3 and _END_MARKERS.match(t):
            lines = lines[:no]
            break
        if _BOX_MARKERS.match(t):
            in_box = True
        elif in_box and (not t or len(t.split()) >= 15):
            in_box = False
        if in_box or _TEASER.match(t) or _CHROME_LINES.match(t) or _CHROME_SUFFIX.search(t):
            lines[no] = ""
        elif len(t.split()) >= 15:
            long_paras += 1
    return lines


def parse_scraped(text: str, source: str) -> Post:
    lines = _strip_chrome(text)
    paras = _paragraphs("\n".join(lines))
    author = None
    for p in paras[:40]:
        m = _BYLINE.match(p.text)
        if m:
            author = m.group("name").strip(" ,")
            break
    body = [p for p in paras if not _BYLINE.match(p.text) and not _CHROME_PARAGRAPH.search(p.text)]
    if not body:
        raise PostError(f"{source}: found no text once page chrome was removed")
    title_idx = _find_title(body)
    title = body[title_idx].text
    rest = _without_signup_boxes([p for p in body[title_idx + 1 :] if p.text != title])

    refs, rest = _trailing_references(rest)
    heads, list_span, itemised = _find_headings(rest)
    sections: list[Section] = []
    conclusion: tuple[Block, ...] = ()
    conclusion_heading = None
    if not heads:
        return Post(title=title, source=source, sections=(), author=author)
    intro_end = heads[0]
    intro_paras = rest[:intro_end]
    if list_span:
        lead, start, stop = list_span
        keep = [p for k, p in enumerate(intro_paras) if not (start <= k < stop)]
        intro_paras = []
        for p in keep:
            if _SERIES_PREVIEW.match(p.text):
                continue
            if p is lead:
                trimmed = _drop_last_sentence(p.text)
                if trimmed:
                    intro_paras.append(_Para([trimmed], p.line, p.indent))
                continue
            intro_paras.append(p)
    intro_paras = [p for p in intro_paras if not _SERIES_PREVIEW.match(p.text)]
    for n, h in enumerate(heads):
        end = heads[n + 1] if n + 1 < len(heads) else len(rest)
        chunk = rest[h + 1 : end]
        concl_at = next(
            (
                k
                for k, p in enumerate(chunk)
                if _is_conclusion_heading(p)
                # After a numbered or listed run, a question heading wraps up ("Which is best?").
                or (
                    itemised
                    and _headingish(p)
                    and p.text.endswith("?")
                    and p.indent == rest[h].indent
                )
            ),
            None,
        )
        if n + 1 == len(heads) and concl_at is not None:
            conclusion_heading = chunk[concl_at].text
            conclusion = _blocks(chunk[concl_at + 1 :])
            chunk = chunk[:concl_at]
        sections.append(Section(_heading_text(rest[h].text), _blocks(chunk), rest[h].line))
    return Post(
        title=title,
        source=source,
        sections=tuple(sections),
        intro=_blocks(intro_paras),
        conclusion=conclusion,
        conclusion_heading=conclusion_heading,
        references=tuple(refs),
        author=author,
    )


def _heading_text(t: str) -> str:
    return t.strip().rstrip(":")


def _is_conclusion_heading(p: _Para) -> bool:
    return len(p.lines) == 1 and bool(_CONCLUSION.match(p.text)) and len(p.text.split()) <= 6


def _find_title(body: list[_Para]) -> int:
    """The longest heading-like line before the first real paragraph (category labels are short)."""
    first_body = next((i for i, p in enumerate(body) if _is_prose(p)), min(len(body), 1))
    candidates = [i for i in range(first_body) if _headingish(body[i])]
    if not candidates:
        return 0
    return max(candidates, key=lambda i: (len(body[i].text.split()), -i))


def _drop_last_sentence(text: str) -> str:
    parts = re.split(r"(?<=[.!?])\s+", text.strip())
    return " ".join(parts[:-1]).strip()


def _reference_number(text: str) -> int:
    m = _REFERENCE.match(text)
    assert m is not None
    return int(next(g for g in m.group("a", "b", "c") if g))


def _trailing_references(paras: list[_Para]) -> tuple[list[Reference], list[_Para]]:
    """A numbered list at the very end ("(1)Title…", "1. …") is the reference list."""
    refs: list[Reference] = []
    k = len(paras)
    while k > 0:
        m = _REFERENCE.match(paras[k - 1].text)
        if not m:
            break
        k -= 1
    tail = paras[k:]
    numbers = [_reference_number(p.text) for p in tail]
    # Only a run numbered 1..N counts; "(n)" markers are unambiguous, "1." needs a citation style.
    if not tail or numbers != list(range(1, len(tail) + 1)):
        return [], paras
    if tail[0].text.startswith(tuple("0123456789")) and len(tail) < 2:
        return [], paras
    for p, n in zip(tail, numbers, strict=True):
        m = _REFERENCE.match(p.text)
        assert m is not None
        ref_text = m.group("text").strip()
        href_m = re.search(r"https?://\S+", ref_text)
        refs.append(Reference(str(n), ref_text, href_m.group(0) if href_m else None))
    return refs, paras[:k]


def _find_headings(
    rest: list[_Para],
) -> tuple[list[int], tuple[_Para, int, int] | None, bool]:
    """Indexes of the section headings in `rest`, the intro's item list if one named them, and
    whether the items were named or numbered (so a heading after the last one is not an item)."""
    listed = _intro_list(rest)
    if listed:
        lead_idx, start, stop = listed
        found: list[int] = []
        for k in range(start, stop):
            item = rest[k].text
            match = next(
                (
                    j
                    for j in range(stop, len(rest))
                    if _headingish(rest[j]) and _loosely(item, rest[j].text) and j not in found
                ),
                None,
            )
            if match is not None:
                found.append(match)
        if len(found) >= 2 and found == sorted(found):
            return found, (rest[lead_idx], start, stop), True
    numbered = _numbered_run(rest)
    if numbered:
        return numbered, None, True
    first_body = next((i for i, p in enumerate(rest) if _is_prose(p)), 0)
    prose = [p for p in rest if _is_prose(p)]
    if prose and sum(p.indent >= 2 for p in prose) >= 0.8 * len(prose):
        # Indented body text (lynx dumps): the flush-left lines are the headings, long or not.
        flush = [
            i
            for i in range(first_body, len(rest))
            if rest[i].indent == 0
            and len(rest[i].lines) == 1
            and len(rest[i].text.split()) <= 30
            and rest[i].text[-1:] not in ".,;:"
            and not _is_conclusion_heading(rest[i])
        ]
        if len(flush) >= 2:
            return flush, None, False
    heads = [
        i
        for i in range(first_body, len(rest))
        if _headingish(rest[i])
        and not _is_conclusion_heading(rest[i])
        and not _INTRO_HEADING.match(rest[i].text)
        and i + 1 < len(rest)
        and not _headingish(rest[i + 1])
    ]
    concl = next((i for i in range(len(rest)) if _is_conclusion_heading(rest[i])), None)
    if concl is not None:
        heads = [h for h in heads if h < concl]
    return heads, None, False


def _intro_list(rest: list[_Para]) -> tuple[int, int, int] | None:
    """A paragraph ending in ':' followed by two or more short lines: the series' items."""
    for i, p in enumerate(rest[:30]):
        if not p.text.rstrip().endswith(":"):
            continue
        k = i + 1
        while k < len(rest) and _headingish(rest[k]) and len(rest[k].text.split()) <= 12:
            k += 1
        if k - (i + 1) >= 2:
            return i, i + 1, k
    return None


def _numbered_run(rest: list[_Para]) -> list[int]:
    """The first run of headings numbered 1, 2, 3… ("1. Garage", "Myth 3: …")."""
    best: list[int] = []
    for i, p in enumerate(rest):
        m = _NUMBERED.match(p.text) if len(p.lines) == 1 else None
        if not m or int(m.group("n1") or m.group("n2")) != 1 or len(p.text) > 140:
            continue
        run, want = [i], 2
        for j in range(i + 1, len(rest)):
            mj = _NUMBERED.match(rest[j].text) if len(rest[j].lines) == 1 else None
            if mj and int(mj.group("n1") or mj.group("n2")) == want and len(rest[j].text) <= 140:
                run.append(j)
                want += 1
        if len(run) > len(best):
            best = run
    return best if len(best) >= 2 else []


def _blocks(paras: list[_Para]) -> tuple[Block, ...]:
    """Paragraphs to blocks: bullet runs become lists, everything else a paragraph."""
    paras = _residue(paras)
    blocks: list[Block] = []
    items: list[tuple[Span, ...]] = []
    ordered = False
    first_line = 0
    for p in paras:
        m = _BULLET.match(p.lines[0])
        if m and not (len(p.lines) == 1 and p.text[:1].isdigit() and _headingish(p)):
            if not items:
                first_line = p.line
                ordered = p.lines[0][:1].isdigit()
            items.append((Span(_BULLET.sub("", p.text, count=1)),))
            continue
        if items:
            blocks.append(Block("ol" if ordered else "ul", items=tuple(items), line=first_line))
            items = []
        blocks.append(Block("p", (Span(p.text),), line=p.line))
    if items:
        blocks.append(Block("ol" if ordered else "ul", items=tuple(items), line=first_line))
    return tuple(blocks)
