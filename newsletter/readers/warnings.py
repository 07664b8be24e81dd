"""Spots in a post where reading probably lost something: a drop cap, a link target, a space.
Reported as warnings with their line, never silently "fixed"."""

from __future__ import annotations

import re

from ..model import Post, TextWarning

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
