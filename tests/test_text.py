"""The shared text rules: one sentence splitter, one list of leaning words, one way to strip and
renumber citations, one UTM rule for the emails and the captions."""

from __future__ import annotations

import pytest

from newsletter.citations import cited_markers, renumber_citations, strip_citations
from newsletter.config import settings_from_dict
from newsletter.links import add_utm, is_placeholder, social_link, tag
from newsletter.model import Post, Section, paragraph
from newsletter.series import preheader_for, split_post
from newsletter.text import leans_back, plain, sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two!  Three?", ["One.", "Two!", "Three?"]),
        ("Dr. Helou agrees. So does Prof. Field.", ["Dr. Helou agrees.", "So does Prof. Field."]),
        ("Use oils, e.g. almond. Then rest.", ["Use oils, e.g. almond.", "Then rest."]),
        ("J. Smith wrote it. We read it.", ["J. Smith wrote it.", "We read it."]),
        ("It said “Rest.” Then it slept.", ["It said “Rest.”", "Then it slept."]),
        ("Wait… and see. Élan follows.", ["Wait… and see.", "Élan follows."]),
        ("按摩有帮助。睡眠更好。", ["按摩有帮助。", "睡眠更好。"]),
        ("I said no. Then I left.", ["I said no.", "Then I left."]),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_leaning_words_are_the_same_for_preheaders_and_captions() -> None:
    assert leans_back("This is why it works.") and leans_back("But rest helps.")
    assert leans_back("“They” said so.")  # the word, not the quote mark
    assert not leans_back("Massage lowers cortisol.") and not leans_back("")
    first = "But this one leans back on what came before it, clearly enough."
    blocks = (paragraph(f"{first} Massage lowers cortisol and raises serotonin, so you sleep."),)
    assert preheader_for(blocks).startswith("Massage lowers cortisol")


def test_citations_stripped_and_renumbered() -> None:
    assert strip_citations("Sleep improves (1, 3). Pain drops [2] , too.") == (
        "Sleep improves. Pain drops, too."
    )
    assert cited_markers("(3, 10) and (2-4)") == ["3", "10", "2", "4"]
    assert renumber_citations("(3-5)", {"3": 1, "4": 3, "5": 4}) == "(1, 3, 4)"


def test_plain_drops_what_nobody_means_to_paste() -> None:
    assert plain("a\u202eb\u00a0 c\ufeff\n") == "ab c"


def test_one_utm_rule_for_email_and_social() -> None:
    """A link the writer tagged keeps its tags in both; an untagged one gets ours in both."""
    mine = "https://shop.example/p?utm_source=me"
    settings = settings_from_dict({"social": {"link": mine}})
    series = split_post(Post(title="T", source="t.md", sections=(Section("A", ()),)))
    assert add_utm(mine, settings, "c") == mine
    assert social_link(series, settings, "x") == mine
    assert tag("https://a.example/x?q=1", [("utm_source", "x"), ("utm_medium", "")]) == (
        "https://a.example/x?q=1&utm_source=x"
    )
    assert tag("mailto:a@example.com", [("utm_source", "x")]) == "mailto:a@example.com"


def test_placeholder_hosts() -> None:
    assert is_placeholder("https://example.com/x") and is_placeholder("http://blog.example")
    assert not is_placeholder("https://calm.blog")
