"""The web-page reader: the article's blocks in order with their layout cues, chrome left out,
metadata from the page's own tags. Pages are written for these tests under tests/pages/."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.errors import PostError
from newsletter.readers.html import decode_html, read_html
from newsletter.readers.nodes import Node, PageMeta

PAGES = Path(__file__).parent / "pages"


def read(name: str, base_url: str | None = None) -> tuple[PageMeta, list[Node]]:
    path = PAGES / name
    return read_html(decode_html(path.read_bytes()), str(path), base_url)


def headings(nodes: list[Node]) -> list[tuple[int, str]]:
    return [(n.level, n.text) for n in nodes if n.block.kind == "h"]


def all_text(nodes: list[Node]) -> str:
    return "\n".join(n.text for n in nodes)


def images(nodes: list[Node]) -> list[tuple[str, str]]:
    return [(n.block.src, n.text) for n in nodes if n.block.kind == "img"]


# --- chrome ------------------------------------------------------------------------------------


def test_news_page_keeps_the_article_and_its_h2_sections() -> None:
    meta, nodes = read("news-chrome.html")
    assert headings(nodes) == [
        (1, "Five ways the harbour town is changing"),
        (2, "1. The ferry runs every hour"),
        (2, "2. The net lofts have new tenants"),
        (2, "3. Rents are rising fast"),
        (2, "4. The fish market opens to visitors"),
        (2, "5. The sea wall finally gets fixed"),
    ]
    assert nodes[-1].text.startswith("Whether the changes last")
    assert meta.title == "Five ways the harbour town is changing"


@pytest.mark.parametrize(
    "chrome",
    [
        "1. News",  # numbered navigation menu
        "2. Business",
        "Harbour news",  # a mega-menu of link headings
        "Town",  # breadcrumbs
        "Share",  # share bar
        "1/12",  # gallery captions and counter
        "1 / 12",
        "Next photo",
        "Bluewake",  # sponsor box
        "Related",  # related-article cards (no class name gives them away)
        "A short history of the island ferry",
        "3 comments",  # comment list and form
        "Old Salt",
        "Most popular",  # numbered popular list beside the article
        "Storm warning",
        "© 2025",  # footer
        "cookies",  # cookie banner
    ],
)
def test_news_page_drops_chrome(chrome: str) -> None:
    _, nodes = read("news-chrome.html")
    lines = all_text(nodes).splitlines()
    assert not [line for line in lines if chrome in line]


def test_section_ids_made_from_headings_are_not_chrome() -> None:
    prose = "is worth a try, and here is a long enough paragraph of ordinary text about it."
    sections = "".join(
        f'<section id="{slug}"><h2>{title}</h2><p>{title} {prose}</p><p>{prose}</p></section>'
        for slug, title in [
            ("share-your-media", "Share Your Media"),
            ("popular", "Popular"),
            ("related-work", "Related work"),
            ("social-skills", "Social skills"),
            ("tune-up", "Tune up"),
        ]
    )
    html = (
        f"<html><body><article><h1>Five tips</h1><p>Intro: {prose}</p>{sections}</article>"
        f'<div id="comments"><h2>Comments</h2><p>A reader says: {prose}</p></div></body></html>'
    )
    _, nodes = read_html(html, "ids.html")
    assert headings(nodes) == [
        (1, "Five tips"),
        (2, "Share Your Media"),
        (2, "Popular"),
        (2, "Related work"),
        (2, "Social skills"),
        (2, "Tune up"),
    ]
    assert "A reader says" not in all_text(nodes)


def test_gallery_keeps_its_pictures_with_absolute_urls() -> None:
    _, nodes = read("news-chrome.html")
    assert images(nodes) == [
        ("https://gazette.example/photos/quay-1.jpg", "The north quay at dawn"),
        ("https://gazette.example/photos/quay-2.jpg", "Nets drying on the slipway"),
    ]


# --- heading shapes ----------------------------------------------------------------------------


def test_bold_paragraphs_are_marked_bold() -> None:
    _, nodes = read("bold-paragraphs.html")
    bold = [n.text for n in nodes if n.bold]
    assert bold == [
        "Drink a glass of water first",
        "Open a window",
        "Write down one task",
        "Leave the phone in another room",
    ]
    assert all(n.block.kind == "p" and n.lead == "" for n in nodes if n.bold)
    assert not any(n.bold for n in nodes if n.text.startswith("Before coffee"))


def test_bold_run_in_leads_keep_the_whole_paragraph() -> None:
    _, nodes = read("run-in-leads-de.html")
    leads = [n for n in nodes if n.lead]
    assert [n.lead for n in leads] == [
        "1. Der Stadtrat",
        "2. Die Verwaltung",
        "3. Der Bürgermeister",
        "4. Die Opposition",
    ]
    for n in leads:
        assert not n.bold
        assert n.text.startswith(n.lead + " ")
        assert len(n.text) > 3 * len(n.lead)


def test_language_is_checked_against_the_text() -> None:
    # the theme says lang="en-US"; the post is German
    meta, _ = read("run-in-leads-de.html")
    assert meta.language == "de"
    assert meta.title == "Warum der Radweg am Fluss nie fertig wird"


def test_list_items_holding_headings_become_headings_with_their_images() -> None:
    _, nodes = read("ol-items-images.html")
    assert headings(nodes)[1:] == [
        (3, "Snake plant"),
        (3, "ZZ plant"),
        (3, "Cast-iron plant"),
        (3, "Pothos"),
    ]
    assert not [n for n in nodes if n.block.kind in ("ol", "ul")]
    kinds = [n.block.kind for n in nodes[1:]]
    assert kinds[1:13] == ["h", "img", "p"] * 4


def test_lazy_images_resolve_to_absolute_urls_and_pixels_are_skipped() -> None:
    _, nodes = read("ol-items-images.html")
    assert images(nodes) == [
        ("https://plants.example/blog/images/snake-plant.jpg", "A snake plant in a clay pot"),
        ("https://plants.example/uploads/zz-plant.jpg", "Glossy ZZ plant leaves"),
        ("https://plants.example/uploads/cast-iron-400.jpg", "Dark green cast-iron plant"),
        ("https://cdn.plants.example/pothos.jpg", "Pothos trailing from a shelf"),
    ]


# --- blocks ------------------------------------------------------------------------------------


def test_blocks_keep_their_kind_and_inline_formatting() -> None:
    _, nodes = read("blocks.html")
    by_start = {n.text[:20]: n for n in nodes}
    first = by_start["The office kettle bo"]
    assert first.text.startswith("The office kettle boils at full tilt, and most of us pour")
    assert "straight away. That is fine" in first.text  # <br> is a space
    assert [(s.text, s.em, s.strong, s.code) for s in first.block.spans if s.em or s.strong][
        :2
    ] == [("green", True, False, False), ("white", False, True, False)]
    assert any(s.code and s.text == "timer" for s in first.block.spans)
    # two <br> in a row end a paragraph, as they do on screen
    assert "First paragraph afte" in by_start
    assert by_start["First paragraph afte"].text == "First paragraph after a break."
    assert "A second paragraph m" in by_start
    quote = next(n for n in nodes if n.block.kind == "quote")
    assert quote.text == (
        "Water just off the boil is the enemy of green tea. Let it rest for two minutes."
    )
    code = next(n for n in nodes if n.block.kind == "code")
    assert code.block.code.splitlines()[2] == "    time.sleep(60)"
    rows = [n.text for n in nodes if "|" in n.text]
    assert rows == ["Tea | Water | Time", "Green | 75 °C | 2 min", "Black | 95 °C | 4 min"]
    assert images(nodes) == [("https://tea.example/cup.jpg", "A cup of green tea")]
    assert "Photo: the author" not in all_text(nodes)  # figcaption dropped
    loose = by_start["A loose line of text"]
    assert [s.href for s in loose.block.spans if s.href] == ["https://tea.example/shop"]


def test_bold_comes_from_markup_and_style_not_from_a_normal_weight_b() -> None:
    _, nodes = read("blocks.html")
    by_start = {n.text[:20]: n for n in nodes}
    assert not by_start["This paragraph sits "].bold
    assert by_start["A paragraph made bol"].bold


def test_lists_hidden_text_and_javascript_links() -> None:
    _, nodes = read("blocks.html")
    lst = next(n for n in nodes if n.block.kind == "ul")
    assert lst.text.splitlines() == [
        "Use a thermometer, or not",
        "Warm the cup",
        "  with hot tap water",
    ]
    assert all(s.href is None for item in lst.block.items for s in item)
    text = all_text(nodes)
    for hidden in ("hidden paragraph", "hidden by its style", "hidden from readers", "new window"):
        assert hidden not in text
    assert nodes[-1].text == "That is all. Enjoy the next cup, and share the kettle."


def test_lines_point_into_the_source() -> None:
    path = PAGES / "bold-paragraphs.html"
    source = path.read_text(encoding="utf-8").splitlines()
    _, nodes = read("bold-paragraphs.html")
    for n in nodes:
        assert n.block.line == n.line
        assert n.text[:15] in source[n.line - 1]


# --- metadata ----------------------------------------------------------------------------------


def test_metadata_from_og_json_ld_and_canonical() -> None:
    meta, nodes = read("metadata.html")
    assert meta == PageMeta(
        title="Trois marchés du dimanche à ne pas manquer",  # " – Carnet de route" is the site
        author="Léa Fontaine",  # JSON-LD @graph, author as a list
        date="2024-05-19",  # article:published_time before JSON-LD's datePublished
        url="https://carnet.example/marches/trois-marches-du-dimanche",
        tags=("marchés", "week-end"),
        summary="Fromages, fleurs et brocante : nos trois marchés préférés du dimanche matin.",
        language="fr",
    )
    last = nodes[-1].block.spans
    assert [(s.text, s.href) for s in last if s.href] == [
        ("nos carnets", "https://carnet.example/sorties/")
    ]
    assert "ouvrez le plan" in nodes[-1].text  # a javascript: link keeps its text, not its href


def page(head: str, body: str = "") -> str:
    article = "".join(
        f"<p>Paragraph {i} of a small test article, long enough to count as prose for the "
        f"extractor, with a few ordinary words in it.</p>"
        for i in range(6)
    )
    return (
        f"<!DOCTYPE html><html><head>{head}</head><body>{body}<main>{article}</main></body></html>"
    )


@pytest.mark.parametrize(
    ("head", "title"),
    [
        ("<title>Pre-war houses - a history</title>", "Pre-war houses - a history"),
        (
            '<title>Pre-war houses - Brickworks</title><meta property="og:site_name" '
            'content="Brickworks">',
            "Pre-war houses",
        ),
        (
            '<title>Ten knots | Sailing Notes</title><link rel="canonical" '
            'href="https://sailingnotes.example/knots">',
            "Ten knots",
        ),
        ('<meta property="og:title" content="From og"><title>From title</title>', "From og"),
    ],
)
def test_title_loses_the_site_name_only_after_a_clear_separator(head: str, title: str) -> None:
    meta, _ = read_html(page(head), "t.html")
    assert meta.title == title


def test_json_ld_list_and_rel_author_and_base_url() -> None:
    head = (
        '<script type="application/ld+json">[{"@type": "Organization", "name": "Org"}, '
        '{"@type": "NewsArticle", "datePublished": "2023-02-01", "author": "Ben Ory"}]</script>'
    )
    meta, _ = read_html(page(head), "t.html", base_url="https://news.example/a/b")
    assert (meta.author, meta.date, meta.url) == (
        "Ben Ory",
        "2023-02-01",
        "https://news.example/a/b",
    )
    body = '<p class="by"><a rel="author" href="/u/ana">Ana Pérez</a></p>'
    meta, _ = read_html(
        page('<meta property="article:author" content="https://x.example/ana">', body), "t.html"
    )
    assert meta.author == "Ana Pérez"  # article:author is a URL here, so the rel=author link


# --- errors and encodings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Just some copied text.\n\nNo markup at all, two paragraphs of it.\n",
        '{"title": "a JSON file", "body": "not a page"}',
        "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    ],
)
def test_not_html_is_one_clear_error(text: str) -> None:
    with pytest.raises(PostError) as e:
        read_html(text, "posts/thing.html")
    message = str(e.value)
    assert message.startswith("posts/thing.html: this is not an HTML page")
    assert "\n" not in message


def test_page_without_article_text_is_one_clear_error() -> None:
    html = (
        "<html><body><nav><ul><li><a href='/'>Home</a></li><li><a href='/a'>About</a></li>"
        "</ul></nav><main></main><footer><p>© Nobody</p></footer></body></html>"
    )
    with pytest.raises(PostError, match=r"^empty\.html: no article text found"):
        read_html(html, "empty.html")


HTTP_EQUIV = '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("\ufeff<p>Crème brûlée</p>".encode(), "<p>Crème brûlée</p>"),
        ("\ufeff<p>Crème</p>".encode("utf-16-le"), "<p>Crème</p>"),
        (
            '<meta charset="windows-1252"><p>“Café”</p>'.encode("cp1252"),
            '<meta charset="windows-1252"><p>“Café”</p>',
        ),
        (  # a page that says latin-1 is read as windows-1252, as browsers do
            f"{HTTP_EQUIV}<p>Café “x”</p>".encode("cp1252"),
            f"{HTTP_EQUIV}<p>Café “x”</p>",
        ),
        (
            '<meta charset="shift_jis"><p>日本語</p>'.encode("shift_jis"),
            '<meta charset="shift_jis"><p>日本語</p>',
        ),
        ("<p>Grüße ohne Angabe</p>".encode(), "<p>Grüße ohne Angabe</p>"),
        (
            "<p>Grüße in cp1252 – ohne Angabe</p>".encode("cp1252"),
            "<p>Grüße in cp1252 – ohne Angabe</p>",
        ),
    ],
)
def test_decode_html(raw: bytes, text: str) -> None:
    assert decode_html(raw) == text


def test_a_300_kb_page_keeps_its_article_and_drops_its_teasers() -> None:
    """A big page read whole; how fast is bench/split_bench.py's job, not a timed test's."""
    source = (PAGES / "news-chrome.html").read_text(encoding="utf-8")
    head, rest = source.split('<div class="story-body">', 1)
    body, tail = rest.split("</div>\n  <section", 1)
    teasers = "".join(
        f'<div class="more-box"><h3>Teaser {i}</h3><a href="/t/{i}">Read teaser {i}</a> '
        f'<a href="/u/{i}">and another</a> <a href="/v/{i}">and more</a></div>'
        for i in range(1800)
    )
    html = f'{head}<div class="story-body">{body * 20}{teasers}</div>\n  <section{tail}'
    assert len(html) > 300_000
    _, nodes = read_html(html, "big.html")
    assert "5. The sea wall finally gets fixed" in [n.text for n in nodes]
    assert "Teaser 7" not in all_text(nodes)
