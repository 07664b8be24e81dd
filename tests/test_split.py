"""The split: one issue per section, intro first, conclusion last, references where cited."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from newsletter.cli import main
from newsletter.readers import read_post
from newsletter.series import issue_title, series_json, split_post
from tests.helpers import POSTS, SAMPLE, check_golden_json

SAMPLE_TITLES = [
    "Improved Sleep",
    "Impact on Hormones and Neurotransmitters",
    "Decrease in Pain",
    "Regulation of the Parasympathetic/Sympathetic Nervous System",
    "Improved Body Awareness",
]
CHROME = [
    "top of page",
    "bottom of page",
    "Writer's picture",
    "views0 comments",
    "Recent Posts",
    "See All",
]


def split_json(path: Path) -> dict:  # type: ignore[type-arg]
    return series_json(split_post(read_post(str(path))))


@pytest.fixture(scope="module")
def sample() -> dict:  # type: ignore[type-arg]
    return split_json(SAMPLE)


def test_sample_has_the_five_benefits_in_order(sample: dict) -> None:  # type: ignore[type-arg]
    assert [i["title"] for i in sample["issues"]] == SAMPLE_TITLES
    assert [i["number"] for i in sample["issues"]] == [1, 2, 3, 4, 5]


def test_sample_title_and_author_come_from_the_page(sample: dict) -> None:  # type: ignore[type-arg]
    assert sample["post"]["title"] == "Massage for the (mental) Health of It"
    assert sample["post"]["author"] == "Chelsa Connolly"


def test_sample_issues_carry_only_the_references_they_cite(sample: dict) -> None:  # type: ignore[type-arg]
    refs = [i["references"] for i in sample["issues"]]
    assert refs[0] == [
        "The effects of improving sleep on mental health (OASIS): a randomised controlled trial "
        "with mediation analysis",
        "Neuroscience of Sleep",
    ]
    assert refs[2] == [
        "Field T. Massage therapy research review. Complement Ther Clin Pract. 2014;20(4):224-229. "
        "doi:10.1016/j.ctcp.2014.07.002"
    ]
    assert refs[1] == refs[3] == refs[4] == []


def test_no_page_chrome_anywhere_in_the_output(sample: dict) -> None:  # type: ignore[type-arg]
    out = json.dumps(sample, ensure_ascii=False)
    for chrome in CHROME:
        assert chrome not in out
    # The reference list is not body text either.
    assert "(1)The effects" not in out


def test_intro_opens_issue_one_without_the_list_the_series_replaces(sample: dict) -> None:  # type: ignore[type-arg]
    first = sample["issues"][0]
    assert first["intro"].startswith("Massage therapy is widely acknowledged")
    assert "In this blog" not in first["intro"]
    assert "Improved Sleep" not in first["intro"]
    assert all("intro" not in i for i in sample["issues"][1:])


def test_conclusion_closes_the_last_issue_and_next_week_is_announced(sample: dict) -> None:  # type: ignore[type-arg]
    last = sample["issues"][-1]
    assert last["conclusion"].startswith("Massage therapy has multiple benefits")
    assert "To sum things up" not in last["text"]
    assert all("conclusion" not in i for i in sample["issues"][:-1])
    assert [i.get("next") for i in sample["issues"]] == [*SAMPLE_TITLES[1:], None]


def test_subjects_and_preheaders_fit_the_inbox(sample: dict) -> None:  # type: ignore[type-arg]
    for issue in sample["issues"]:
        assert len(issue["subject"]) <= 70
        assert f"{issue['number']} of 5" in issue["subject"]
        assert issue["title"] in issue["subject"]
        assert 20 <= len(issue["preheader"]) <= 110
        assert issue["preheader"].rstrip("…").rstrip(".") in issue["text"].replace("\n", " ")


def test_sample_split_golden(sample: dict) -> None:  # type: ignore[type-arg]
    portable = {**sample, "post": {**sample["post"], "source": "posts/" + SAMPLE.name}}
    check_golden_json("split-sample.json", portable)


@pytest.mark.parametrize(
    ("post", "title", "sections"),
    [
        (
            "icon-glyph-headings.html",
            "Three Desk Plants for Dark Offices",
            ["Snake plant", "Pothos", "ZZ plant"],
        ),
        (
            "toc-section.md",
            "A Tidy Terminal",
            ["Prompt & colours", "History", "Aliases", "Completion"],
        ),
        (
            "front-matter.md",
            "Five Habits of Calm Mornings",
            [
                "Wake at the same time",
                "Drink water first",
                "Step outside",
                "Move a little",
                "Plan one thing",
            ],
        ),
        ("setext.md", "Three Ways to Store Winter Vegetables", ["Clamps", "Cellars", "Sand boxes"]),
        (
            "questions.md",
            "Answers to the Questions New Runners Ask",
            [
                "How often should I run?",
                "What shoes do I need?",
                "Is it fine to walk during a run?",
            ],
        ),
        (
            "numbered-scraped.txt",
            "Declutter Your Home in 4 Rooms",
            ["Garage", "Kitchen", "Wardrobe", "Living room"],
        ),
        (
            "menus-no-list.txt",
            "How I Learned to Bake Bread at Home",
            ["Start With a Simple Dough", "Give It Time", "Bake It Hotter Than You Think"],
        ),
        (
            "references.txt",
            "Why Stretching Helps Your Back",
            ["Loosens Tight Muscles", "Improves Blood Flow", "Reduces Stress"],
        ),
        (
            "myths.txt",
            "Coffee Myths, Busted",
            [
                "Myth 1: Coffee Dehydrates You",
                "Myth 2: Coffee Stunts Your Growth",
                "Myth 3: Dark Roast Has More Caffeine",
            ],
        ),
    ],
)
def test_split_of_posts_in_other_shapes(post: str, title: str, sections: list[str]) -> None:
    data = split_json(POSTS / post)
    assert data["post"]["title"] == title
    assert [i["title"] for i in data["issues"]] == sections


def test_front_matter_gives_author_url_tags_and_numbered_references() -> None:
    post = read_post(str(POSTS / "front-matter.md"))
    assert post.author == "Ada Example"
    assert post.url == "https://example.com/blog/calm-mornings"
    assert post.tags == ("mental health", "morning routine")
    assert [r.marker for r in post.references] == ["1", "2"]
    series = split_post(post)
    assert [r.marker for r in series.issues[0].references] == ["1"]
    assert [r.marker for r in series.issues[1].references] == ["2"]
    assert series.issues[-1].conclusion_heading == "Final thoughts"
    # Links keep their targets, lists and quotes keep their shape.
    kinds = [b.kind for b in series.issues[1].blocks] + [b.kind for b in series.issues[2].blocks]
    assert "ul" in kinds and "quote" in kinds
    hrefs = [s.href for b in series.issues[2].blocks for s in b.spans if s.href]
    assert hrefs == ["https://example.com/light"]


def test_markdown_code_comments_are_not_headings_and_intro_heading_is_not_a_section() -> None:
    series = split_post(read_post(str(POSTS / "questions.md")))
    assert series.issues[0].intro[0].text.startswith("Anyone who has just started")
    code = [b for b in series.issues[1].blocks if b.kind == "code"]
    assert code and "# Not a heading" in code[0].code
    assert series.issues[-1].conclusion[0].text.startswith("Keep it easy")


def test_lower_headings_stay_inside_their_section() -> None:
    series = split_post(read_post(str(POSTS / "setext.md")))
    last = series.issues[-1]
    assert [b.kind for b in last.blocks][:2] == ["p", "h"]
    assert "A note on sand" in last.blocks[1].text


def test_scraped_chrome_related_boxes_and_comments_are_dropped() -> None:
    out = json.dumps(split_json(POSTS / "numbered-scraped.txt"))
    for chrome in ["Skip to content", "Tweet", "Related:", "Comments", "reader's comment"]:
        assert chrome not in out
    out = json.dumps(split_json(POSTS / "menus-no-list.txt"))
    for chrome in ["You May Also Like", "Sourdough", "Facebook", "views0", "Recent Posts"]:
        assert chrome not in out
    # A short line that ends like a sentence is body text, not a heading.
    assert "Makes sense." in out or "Makes sense." in json.dumps(
        split_json(POSTS / "numbered-scraped.txt")
    )


def test_scraped_conclusion_heading_folds_into_the_last_issue() -> None:
    data = split_json(POSTS / "numbered-scraped.txt")
    assert data["issues"][-1]["conclusion"].startswith("Four rooms in one weekend")
    data = split_json(POSTS / "myths.txt")
    assert (
        data["issues"][-1]["conclusion"] == "Enjoy your coffee, in moderation, and skip the guilt."
    )


def test_citations_of_several_references_at_once() -> None:
    data = split_json(POSTS / "references.txt")
    assert [len(i["references"]) for i in data["issues"]] == [1, 2, 1]
    assert data["issues"][1]["references"][1].startswith("Example C.")
    assert data["issues"][0]["intro"].startswith("Back pain is one")
    assert "Below, we look" not in data["issues"][0]["intro"]


def test_bare_numbers_leave_issue_titles() -> None:
    assert issue_title("1. Skinfold Calipers") == "Skinfold Calipers"
    assert issue_title("#3 Sleep") == "Sleep"
    assert issue_title("Myth 3: Dark Roast") == "Myth 3: Dark Roast"


def test_slugs_are_unique_and_url_safe() -> None:
    for path in [SAMPLE, *(p for p in POSTS.iterdir() if p.is_file())]:
        slugs = [i["slug"] for i in split_json(path)["issues"]]
        assert len(set(slugs)) == len(slugs)
        assert all(re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", s) for s in slugs)


def test_split_json_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["split", str(SAMPLE), "--json"]) == 0
    out, err = capsys.readouterr()
    assert [i["title"] for i in json.loads(out)["issues"]] == SAMPLE_TITLES
    assert "he second mechanism" in err


def test_image_alt_text_and_signup_boxes_are_page_residue_not_text() -> None:
    post = read_post(str(POSTS / "alt-text-and-signup.txt"))
    assert [s.heading for s in post.sections] == [
        "Clear the Surface Daily",
        "Label the Cables",
        "Keep One Drawer for Paper",
    ]
    out = json.dumps(series_json(split_post(post)))
    for residue in [
        "tidy desk at the end",
        "cable labels on a power strip",
        "white desk with a plant",
        "Download the checklist now!",
        "Enter your name and email",
        "Send It Over!",
        "Check your email",
        "Author",
        "Recent Posts",
        '"."',
    ]:
        assert residue not in out, residue
    # The author's own text around the residue stays, code lines included.
    for kept in ["A tray for the things", "Script it if you like", "import labels", "Three habits"]:
        assert kept in out, kept
    # Code that starts lowercase is no lost drop cap.
    assert post.warnings == ()


def test_the_author_box_and_footer_end_the_article() -> None:
    data = split_json(POSTS / "author-box-footer.txt")
    assert data["post"]["author"] == "Lee Example"
    assert [i["title"] for i in data["issues"]] == [
        "Rhythm Calms the Mind",
        "Light Resets the Clock",
    ]
    last = data["issues"][-1]
    assert last["text"].endswith("so go now.")
    out = json.dumps(data)
    for chrome in ["related stories", "Ten Walks", "©", "All rights reserved", "OUR BRANDS"]:
        assert chrome not in out, chrome
    signup = json.dumps(split_json(POSTS / "alt-text-and-signup.txt"))
    assert "Tags" not in signup and "Desks" not in signup


def test_html_blocks_in_markdown_keep_each_heading_with_its_own_text() -> None:
    post = read_post(str(POSTS / "html-blocks.md"))
    assert [s.heading for s in post.sections] == ["1. Basil", "2. Parsley", "3. Mint", "4. Chives"]
    basil, parsley, mint, chives = post.sections
    assert [b.text for b in basil.blocks] == [
        "Basil wants the sunniest spot and water at the roots, never on the leaves."
    ]
    assert any(s.strong and s.text == "sunniest" for s in basil.blocks[0].spans)
    links = [(s.text, s.href) for s in parsley.blocks[0].spans if s.href]
    assert links == [("soak the seeds", "https://example.com/parsley")]
    assert [b.text for b in mint.blocks] == [
        "Mint spreads everywhere, so give it a pot of its own."
    ]
    assert [b.kind for b in chives.blocks] == ["p", "ul"]
    assert [tuple(s.text for s in item) for item in chives.blocks[1].items] == [
        ("Cut them often.",),
        ("Let one clump flower for the bees.",),
    ]
    # Pictures are not carried into the email, and neither are their alt texts or captions.
    out = json.dumps(series_json(split_post(post)))
    for picture in ["windowsill.jpg", "A row of pots", "Basil in a terracotta", "Mint on the"]:
        assert picture not in out, picture
