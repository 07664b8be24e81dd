"""The copied-text reader's paragraphs: in a dump wrapped at a width, a line that left room for
the next line's first word ended in a hard break (a site name, a headline, a menu), so it is a
paragraph of its own; lines that wrapping explains stay one paragraph."""

from __future__ import annotations

import textwrap

from newsletter.readers.text import paragraphs

PROSE = (
    "My first vegetable garden was a muddy rectangle, a handful of seed packets and a great "
    "deal of optimism. By August most of it had bolted, drowned or been eaten by slugs, and "
    "none of that was bad luck: it was the same mistakes that almost every beginner makes."
)


def _dump(*blocks: str) -> str:
    """Blocks as w3m prints them: a long line wrapped at 80 columns, set lines kept."""
    return "\n\n".join(textwrap.fill(b, 80) if "\n" not in b else b for b in blocks)


def test_short_lines_with_no_blank_between_are_paragraphs_of_their_own() -> None:
    head = "\n".join(
        [
            "© 2021 Example Media. All Rights Reserved",
            "Garden Notes",
            "Four things I wish I had known before my first vegetable garden",
            "HOME GROW EAT TOOLS",
        ]
    )
    paras = paragraphs(_dump(head, *[PROSE] * 6))  # the width is read from the wrapped lines
    assert [p.text for p in paras[:4]] == head.split("\n")
    assert [p.text for p in paras[4:]] == [PROSE] * 6  # wrapped prose stays whole


def test_a_line_cut_short_by_a_long_next_word_is_still_wrapping() -> None:
    long_word = "https://example.com/a/very/long/address/that/does/not/fit/on/the/line"
    text = _dump(PROSE, f"{PROSE[:60]} {long_word} and the sentence goes on after it.")
    paras = paragraphs(text)
    assert len(paras) == 2
    assert paras[1].text.startswith(PROSE[:60]) and paras[1].text.endswith("after it.")


def test_a_credit_on_the_line_under_a_caption_joins_it() -> None:
    text = _dump(PROSE, "A watering can on the edge of a raised bed at dawn\nGetty Images", PROSE)
    assert [p.text for p in paragraphs(text)][1] == (
        "A watering can on the edge of a raised bed at dawn Getty Images"
    )
