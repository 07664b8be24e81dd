"""In-text citation markers ("(3)", "[1]", "(2, 5)", "(2-4)"): finding them, taking them out of
text that stands alone (a preheader, a caption), and renumbering them for one issue."""

from __future__ import annotations

import re

# "(1)", "(3, 10)", "(2-4)", "[1]": in-text citation markers.
CITATION_RE = re.compile(r"[(\[](\d{1,3}(?:\s*[,\u2013-]\s*\d{1,3})*)\s*[)\]]")


def cited_markers(text: str) -> list[str]:
    """Reference numbers cited in `text`, in order of first citation ("(3, 10)" gives 3 and 10)."""
    found: list[str] = []
    for m in CITATION_RE.finditer(text):
        for part in re.split(r"\s*,\s*", m.group(1)):
            bounds = re.split(r"\s*[\u2013-]\s*", part)
            if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
                numbers = [str(n) for n in range(int(bounds[0]), int(bounds[1]) + 1)]
            else:
                numbers = [part.strip()]
            for n in numbers:
                if n not in found:
                    found.append(n)
    return found


def strip_citations(text: str) -> str:
    """`text` without its markers, and without the space they leave before punctuation."""
    text = re.sub(r"[ \t]{2,}", " ", CITATION_RE.sub("", text))
    return re.sub(r"[ \t]+([,.;:!?])", r"\1", text).strip()


def _compact(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "1–3, 5": runs of three or more become a range."""
    out: list[str] = []
    i = 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        if j - i >= 2:
            out.append(f"{numbers[i]}\u2013{numbers[j]}")
            i = j + 1
        else:
            out.append(str(numbers[i]))
            i += 1
    return ", ".join(out)


def renumber_citations(text: str, mapping: dict[str, int]) -> str:
    """Rewrite "(3)" to the issue's own numbering; markers it does not know stay as they are."""

    def sub(m: re.Match[str]) -> str:
        markers = cited_markers(m.group(0))
        if not markers or any(n not in mapping for n in markers):
            return m.group(0)
        numbers = sorted({mapping[n] for n in markers})
        return m.group(0)[0] + _compact(numbers) + m.group(0)[-1]

    return CITATION_RE.sub(sub, text)
