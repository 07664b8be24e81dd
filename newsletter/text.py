"""Sentences, and the words that lean on the sentence before: one set of rules for the split
(preheaders), the captions and the readers.

A sentence ends at ".", "!", "?" or "…" (a closing quote or bracket may follow) before a word
that does not start in lower case, or at "。！？" in Chinese and Japanese; "Dr. Helou", "e.g. this"
and an initial ("J. Smith") do not end one.
"""

from __future__ import annotations

import unicodedata

import regex

ABBREVIATIONS = (
    "Dr", "Mr", "Mrs", "Ms", "Prof", "St", "Jr", "Sr", "No", "Fig", "vs", "etc", "e.g", "i.e",
    "cf", "approx",
)  # fmt: skip

# Sentences opening with one of these lean on one the reader of a preheader or a caption has not
# seen ("This is why…", "But it helps…").
_LEANING = "this that these those it its they their them we our he she both there such so but and"
LEANING_WORDS = frozenset(_LEANING.split())

_BREAK = regex.compile(
    r"(?<=[.!?…][\"”’»)\]]*)\s+(?=[^\p{Ll}\s])|(?<=[。！？][」』”’）]*)\s*(?=\S)"
)
_ABBREVIATION = regex.compile(
    r"(?:\b(?:" + "|".join(regex.escape(a) for a in ABBREVIATIONS) + r")\.|\b\p{Lu}\.)$"
)
_WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
# Characters nobody means to paste: controls, BOM, noncharacters, bidi embeddings/overrides.
_UNWANTED = regex.compile(r"[\p{Cc}\ufeff\ufffe\uffff\u202a-\u202e]")


# What no mail header may carry: a line break of any kind (CR, LF, NEL, U+2028/9) or a control.
_HEADER_UNSAFE = regex.compile(r"[\p{Cc}\p{Zl}\p{Zp}]")


def header_trouble(value: str) -> str | None:
    """Why `value` cannot be a header (a subject), or None: one line, no control characters."""
    found = _HEADER_UNSAFE.search(value)
    if found is None:
        return None
    return f"holds U+{ord(found.group()):04X}, a line break or control no mail header can carry"


def plain(text: str) -> str:
    """NFC, white space collapsed, nothing that should not be pasted (controls, bidi overrides)."""
    text = str(regex.sub(r"\s+", " ", unicodedata.normalize("NFC", text)))
    return str(_UNWANTED.sub("", text)).strip()


def sentences(text: str) -> list[str]:
    """The sentences of a paragraph, white space collapsed."""
    pieces = [p for p in _BREAK.split(" ".join(text.split())) if p.strip()]
    merged: list[str] = []
    for piece in pieces:
        if merged and _ABBREVIATION.search(merged[-1]):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return [m.strip() for m in merged]


def first_word(text: str) -> str:
    """The first word, case-folded ("" when there is none)."""
    m = _WORD.search(text)
    return m.group().casefold() if m else ""


def leans_back(sentence: str) -> bool:
    """True when the sentence opens by pointing at the one before it ("This…", "But…")."""
    return first_word(sentence) in LEANING_WORDS
