"""Rendering: Jinja2 -> MJML -> HTML -> inlined CSS, and the plain-text twin.

The built-file checks run `newsletter build` on the sample post (with a logo, so there is an
image to check) and read the files it wrote, as a writer would.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path
from typing import Any

import cssutils
import mjml
import premailer
import pytest
from lxml import html as lxml_html  # type: ignore[import-untyped]

from newsletter.citations import CITATION_RE, renumber_citations
from newsletter.cli import main
from newsletter.config import (
    NewsletterSettings,
    ScheduleSettings,
    Settings,
    load_settings,
    settings_from_dict,
)
from newsletter.errors import ConfigError, NewsletterError, TemplateError
from newsletter.links import add_utm, safe_href
from newsletter.model import (
    Block,
    Email,
    Issue,
    Post,
    Reference,
    Section,
    Series,
    Span,
    paragraph,
)
from newsletter.palette import contrast, palettes
from newsletter.personalize import FIRST_NAME_TOKEN, NAME_TOKEN, UNSUBSCRIBE_TOKEN, personalize
from newsletter.plaintext import blocks_plain
from newsletter.readers import read_post
from newsletter.render import (
    SIZE_LIMIT,
    STYLE_LIMIT,
    TEMPLATE_NAMES,
    breakable,
    builtin_templates,
    compile_mjml,
    inline_css,
    render_issue,
    render_series,
    style_bytes,
)
from newsletter.series import split_post
from tests.helpers import POSTS, ROOT, SAMPLE, check_golden_text

SLUG = "massage-for-the-mental-health-of-it"
CAMPAIGN = f"utm_source=newsletter&utm_medium=email&utm_campaign={SLUG}"
LOGO = "https://example.com/logo.png"
BUILTIN = ROOT / "templates"
# What the law asks every email's text part for, in a writer's own template, and as it renders.
LAW = "{{ newsletter.postal_address }} {{ unsubscribe_url }}\n"
LAW_TEXT = f"12 Example Street, Springfield {UNSUBSCRIBE_TOKEN}\n"


def settings(**newsletter: Any) -> Settings:
    """Default settings with the built-in templates (no templates/ folder in tests/)."""
    return Settings(
        newsletter=dataclasses.replace(NewsletterSettings(), **newsletter),
        base_dir=Path(__file__).parent,
    )


@pytest.fixture(scope="module")
def sample() -> Series:
    return split_post(read_post(str(SAMPLE)))


@pytest.fixture(scope="module")
def calm() -> Series:
    """A Markdown post with links, a list, a quote and a linked citation."""
    return split_post(read_post(str(POSTS / "front-matter.md")))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`newsletter build` of the sample post, with a logo so that there is an image."""
    tmp = tmp_path_factory.mktemp("build")
    config = tmp / "newsletter.toml"
    config.write_text(
        f'[newsletter]\nlogo_url = "{LOGO}"\nlogo_alt = "Body & Mind Notes logo"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "build", str(SAMPLE), "-o", str(tmp / "out")]) == 0
    return tmp / "out" / SLUG


def issue_folder(built: Path, issue: Issue) -> Path:
    return built / f"{issue.number:02d}-{issue.slug}"


def parse(html: str) -> Any:
    return lxml_html.document_fromstring(html)


def norm(text: str) -> str:
    """Whitespace collapsed and citation markers removed: for comparing content across forms."""
    return " ".join(CITATION_RE.sub(" ", text).split())


def content_blocks(issue: Issue) -> tuple[Block, ...]:
    return issue.intro + issue.blocks + issue.conclusion


def styles(doc: Any) -> str:
    return "\n".join(s.text or "" for s in doc.iter("style"))


def comments(html: str) -> list[str]:
    return re.findall(r"<!--.*?-->", html, re.S)


def ref_items(html: str) -> list[str]:
    return [li.text_content() for ol in parse(html).find_class("nl-refs-list") for li in ol]


def img_widths(html: str) -> list[tuple[str, str | None]]:
    return [(i.get("src"), i.get("width")) for i in parse(html).iter("img")]


# --- the built files of the five sample issues ----------------------------------------------


def test_build_writes_four_files_per_issue(built: Path, sample: Series) -> None:
    for issue in sample.issues:
        folder = issue_folder(built, issue)
        for name in ("email.mjml", "email.html", "email.txt", "message.eml"):
            assert (folder / name).stat().st_size > 0, folder / name


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_built_html_is_an_accessible_email(built: Path, sample: Series, number: int) -> None:
    issue = sample.issues[number - 1]
    html = (issue_folder(built, issue) / "email.html").read_text(encoding="utf-8")
    doc = parse(html)

    assert html.startswith("<!DOCTYPE html>")
    assert [h.text_content() for h in doc.iter("h1")] == [issue.title]
    assert doc.get("lang") == "en"
    assert doc.get("dir") == "ltr"
    assert doc.find(".//title").text == issue.subject

    # The inbox list shows the first text of the body: the preheader, hidden in the open email
    # by display:none, never by a colour (spam filters score text coloured like its background).
    body = doc.find("body")
    assert body.text_content().strip().startswith(issue.preheader)
    [pre] = body.find_class("nl-preheader")
    style = pre.get("style").replace(" ", "")
    assert "display:none" in style and "color" not in style
    assert pre.text_content().startswith(issue.preheader)

    images = list(doc.iter("img"))
    assert images, "the logo should be there to check"
    assert all(img.get("alt") for img in images)
    assert all(t.get("role") == "presentation" for t in doc.iter("table"))

    css = styles(doc)
    dark = css.split("@media (prefers-color-scheme: dark)")[1].split("[data-ogsc]")[0]
    assert dark.count("!important") >= 10
    assert re.search(r"@media only screen and \(max-width: ?479px\)[^}]*!important", css)
    metas = {m.get("name"): m.get("content") for m in doc.iter("meta") if m.get("name")}
    assert metas["color-scheme"] == "light dark"
    assert metas["supported-color-schemes"] == "light dark"

    assert len(html.encode("utf-8")) < SIZE_LIMIT
    assert style_bytes(html) < STYLE_LIMIT
    assert "<link" not in html and "@import" not in html  # no web fonts fetched on open


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_built_html_keeps_mjml_image_widths_and_mso_comments(
    built: Path, sample: Series, number: int
) -> None:
    folder = issue_folder(built, sample.issues[number - 1])
    compiled = mjml.mjml2html((folder / "email.mjml").read_text(encoding="utf-8"), fonts={})
    html = (folder / "email.html").read_text(encoding="utf-8")
    assert img_widths(html) == img_widths(compiled) == [(LOGO, "120")]
    assert comments(html) == comments(compiled)
    assert any("[if mso" in c for c in comments(html))


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_built_email_has_all_the_content(built: Path, sample: Series, number: int) -> None:
    issue = sample.issues[number - 1]
    folder = issue_folder(built, issue)
    html = (folder / "email.html").read_text(encoding="utf-8")
    text = (folder / "email.txt").read_text(encoding="utf-8")
    page = norm(parse(html).find("body").text_content())
    flat = norm(text)
    for block in content_blocks(issue):
        assert norm(block.text) in page, block.text[:60]
        assert norm(block.text) in flat, block.text[:60]
    for ref in issue.references:
        assert norm(ref.text) in page
        assert norm(ref.text) in flat
    url = f"https://example.com/?{CAMPAIGN}"
    assert url in text
    links = {a.text_content().strip(): a.get("href") for a in parse(html).iter("a")}
    assert links["Read the whole post"] == url
    assert links["Unsubscribe"] == "https://example.com/unsubscribe"
    assert "Unsubscribe: https://example.com/unsubscribe" in text
    assert f"Part {number} of 5" in page
    assert f"Part {number} of 5" in text
    assert "12 Example Street, Springfield" in page and "12 Example Street, Springfield" in text
    if issue.next_title:
        assert f"Next week: {issue.next_title}" in page
        assert f"Next week: {issue.next_title}" in flat
    else:
        assert "Next week" not in page and "Next week" not in text
    assert NAME_TOKEN not in html + text and UNSUBSCRIBE_TOKEN not in html + text
    assert "Hi there," in page and "Hi there," in text


def test_citations_are_renumbered_per_issue(sample: Series) -> None:
    emails = render_series(sample, settings())
    third = emails[2]
    assert 'around massage therapy (1) "Massage has' in third.text.replace("\n", " ")
    assert "(3)" not in third.text and "(3)" not in parse(third.html).text_content()
    items = ref_items(third.html)
    assert items == [sample.post.references[2].text]
    assert "\n1. Field T. Massage therapy research review." in third.text
    first = emails[0]
    assert ref_items(first.html) == [r.text for r in sample.post.references[:2]]
    assert "research (1) published" in first.text.replace("\n", " ")
    assert 'this field" (2)' in first.text.replace("\n", " ")
    for other in (emails[1], emails[3], emails[4]):
        assert parse(other.html).find_class("nl-refs-list") == []
        assert "References" not in other.text


def test_renumber_citations() -> None:
    mapping = {"3": 1, "10": 2, "4": 3, "5": 4}
    assert renumber_citations("as shown (3) and [10]", mapping) == "as shown (1) and [2]"
    assert renumber_citations("(3, 10)", mapping) == "(1, 2)"
    assert renumber_citations("(3-5)", mapping) == "(1, 3, 4)"
    assert renumber_citations("(3, 10, 4, 5)", mapping) == "(1\u20134)"
    assert renumber_citations("unknown (7) stays", mapping) == "unknown (7) stays"


def test_citations_only_the_intro_makes_join_the_issue_references() -> None:
    post = Post(
        title="T",
        source="t.md",
        intro=(paragraph("The intro cites (2)."),),
        sections=(Section("One", (paragraph("One cites (1)."),)), Section("Two", ())),
        references=(Reference("1", "First ref"), Reference("2", "Second ref")),
    )
    series = split_post(post)
    email = render_issue(series, series.issues[0], settings())
    assert "The intro cites (2)." in email.text and "One cites (1)." in email.text
    assert ref_items(email.html) == ["First ref", "Second ref"]


# --- links ----------------------------------------------------------------------------------


def test_utm_tags_every_web_link_but_not_mailto_or_unsubscribe(calm: Series) -> None:
    email = render_issue(calm, calm.issues[2], settings())
    html, _ = personalize(email, name=None, unsubscribe_url="https://example.com/u?t=1")
    hrefs = [a.get("href") for a in parse(email.html).iter("a")]
    assert f"https://example.com/light?{CAMPAIGN.replace(SLUG, calm.slug)}" in hrefs
    assert f"https://example.com/blog/calm-mornings?{CAMPAIGN.replace(SLUG, calm.slug)}" in hrefs
    assert UNSUBSCRIBE_TOKEN in hrefs
    final = [a.get("href") for a in parse(html).iter("a")]
    assert "https://example.com/u?t=1" in final
    web = [h for h in final if h.startswith("http") and h != "https://example.com/u?t=1"]
    assert web and all("utm_source=newsletter" in h for h in web)
    assert "this guide to light (https://example.com/light?utm_source=newsletter" in (
        email.text.replace("\n", " ")
    )


def test_utm_can_be_switched_off_and_configured(calm: Series) -> None:
    off = render_issue(calm, calm.issues[2], settings(utm=False))
    assert "utm_" not in off.html and "utm_" not in off.text
    custom = render_issue(
        calm, calm.issues[2], settings(utm_source="nl", utm_medium="mail", utm_campaign="spring")
    )
    assert (
        "https://example.com/light?utm_source=nl&amp;utm_medium=mail&amp;utm_campaign=spring"
        in (custom.html)
    )


def test_add_utm_rules() -> None:
    s = settings()
    assert add_utm("mailto:a@example.com", s, "c") == "mailto:a@example.com"
    assert add_utm(UNSUBSCRIBE_TOKEN, s, "c") == UNSUBSCRIBE_TOKEN
    assert (
        add_utm("https://a.example/x?utm_source=me", s, "c") == "https://a.example/x?utm_source=me"
    )
    assert add_utm("https://a.example/x?q=1#top", s, "c") == (
        "https://a.example/x?q=1&utm_source=newsletter&utm_medium=email&utm_campaign=c#top"
    )
    assert add_utm("https://a.example", s, "c").startswith("https://a.example/?utm_source=")


def test_unsafe_links_are_dropped_and_relative_ones_made_absolute() -> None:
    assert safe_href("javascript:alert(1)", "https://b.example/post") is None
    assert safe_href(" JaVa\nScript:alert(1)", "https://b.example/post") is None
    assert safe_href("data:text/html,x", "https://b.example/post") is None
    assert safe_href("/about", "https://b.example/post") == "https://b.example/about"
    assert safe_href("mailto:x@example.com", "") == "mailto:x@example.com"


def test_read_the_whole_post_goes_to_the_post_url_or_the_site(calm: Series) -> None:
    email = render_issue(calm, calm.issues[0], settings(utm=False))
    links = {a.text_content().strip(): a.get("href") for a in parse(email.html).iter("a")}
    assert links["Read the whole post"] == "https://example.com/blog/calm-mornings"
    odd = dataclasses.replace(calm, post=dataclasses.replace(calm.post, url="javascript:x()"))
    email = render_issue(odd, odd.issues[0], settings(utm=False, site_url="https://b.example"))
    links = {a.text_content().strip(): a.get("href") for a in parse(email.html).iter("a")}
    assert links["Read the whole post"] == "https://b.example"


def test_post_text_is_escaped_everywhere() -> None:
    evil = "<script>alert(1)</script> & <b>bold</b>"
    post = Post(
        title=f"Title {evil}",
        source="evil.md",
        author="<img src=x onerror=alert(1)>",
        sections=(
            Section(
                f"Heading {evil}",
                (
                    Block("p", (Span(f"Text {evil} "), Span("link", href="javascript:alert(1)"))),
                    Block("quote", (Span(evil),)),
                    Block("ul", items=((Span(evil),),)),
                    Block("code", code=evil),
                ),
            ),
        ),
    )
    series = split_post(post)
    email = render_issue(series, series.issues[0], settings())
    doc = parse(email.html)
    assert not list(doc.iter("script"))
    assert not [b for b in doc.iter("b")]
    assert [i.get("src") for i in doc.iter("img")] == []
    assert "javascript:" not in email.html
    assert evil in doc.find(".//h1").text_content()
    assert email.html.count("&lt;script&gt;") >= 5
    assert "link" in email.text and "javascript" not in email.text


# --- plain text ------------------------------------------------------------------------------


def test_plain_text_wraps_and_marks_structure(calm: Series) -> None:
    emails = render_series(calm, settings())
    for email in emails:
        for line in email.text.splitlines():
            assert len(line) <= 72 or re.search(r"https?://\S{40,}", line), line
    water = emails[1].text
    assert "  * Fill it the night before.\n  * Use a glass you like." in water
    light = emails[2].text
    assert "> Morning light is the strongest signal the body clock gets." in light
    first = emails[0].text
    assert "within a week (1) (https://example.com/sleep-study?utm_source=newsletter" in (
        first.replace("\n", " ")
    )
    assert "References\n\n1. Sleep regularity and wellbeing" in first
    assert emails[-1].text.count("Final thoughts") == 1
    assert "-- \n" in first


def test_blocks_plain_numbered_list_and_code() -> None:
    blocks = (
        Block("ol", items=((Span("first " * 20),), (Span("second"),))),
        Block("code", code="x = 1\n  y = 2"),
        Block("h", (Span("A sub-heading"),)),
    )
    text = blocks_plain(blocks)
    lines = text.splitlines()
    assert lines[0].startswith("1. first") and lines[1].startswith("   first")
    assert "2. second" in lines
    assert "    x = 1\n      y = 2" in text
    assert "A sub-heading\n-------------" in text


# --- premailer, pinned ----------------------------------------------------------------------

MJML_DOC = """<mjml lang="en"><mj-head>
<mj-style inline="inline">.note { color: #123456; -webkit-text-size-adjust: 100%; }</mj-style>
<mj-style>@media (prefers-color-scheme: dark) { .note { color: #eeeeee !important; } }</mj-style>
</mj-head><mj-body><mj-section><mj-column>
<mj-image src="https://example.com/a.png" alt="A" width="120px" />
<mj-text css-class="note"><p class="note">Hello</p></mj-text>
</mj-column></mj-section></mj-body></mjml>"""


@pytest.fixture(scope="module")
def compiled() -> str:
    return compile_mjml(MJML_DOC, "test.mjml")


def test_premailer_keeps_the_lowercase_mjml_doctype(compiled: str) -> None:
    assert compiled.startswith("<!doctype html>")
    assert inline_css(compiled).startswith("<!DOCTYPE html>")


def test_premailer_keeps_important_in_media_rules(compiled: str) -> None:
    out = inline_css(compiled)
    assert "@media (prefers-color-scheme: dark) { .note { color: #eeeeee !important; } }" in out


def test_premailer_keeps_image_width_attributes(compiled: str) -> None:
    assert img_widths(compiled) == [("https://example.com/a.png", "120")]
    assert img_widths(inline_css(compiled)) == img_widths(compiled)


def test_premailer_inlines_the_css_mjml_python_leaves_in_a_style_tag(compiled: str) -> None:
    assert 'class="note">Hello' in compiled  # mjml-python did not inline it
    p = next(e for e in parse(inline_css(compiled)).iter("p") if e.text == "Hello")
    assert "color:#123456" in p.get("style").replace(" ", "")


def test_premailer_keeps_mso_conditional_comments(compiled: str) -> None:
    out = inline_css(compiled)
    assert comments(out) == comments(compiled)
    assert "<!--[if mso | IE]>" in out


def test_premailer_does_not_fetch_stylesheets() -> None:
    page = (
        '<!doctype html><html><head><link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
        "</head><body><p>x</p></body></html>"
    )
    assert "<p" in inline_css(page)


def test_cssutils_warnings_are_silenced(compiled: str) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log = logging.getLogger("CSSUTILS")
    handler = Keep()
    log.addHandler(handler)
    old = log.level
    try:
        log.setLevel(logging.INFO)
        premailer.Premailer(compiled, cssutils_logging_handler=None).transform()
        assert any(r.levelno >= logging.WARNING for r in records), "control: cssutils warns"
        records.clear()
        cssutils.log.setLevel(logging.INFO)
        inline_css(compiled)
        assert [r.getMessage() for r in records if r.levelno >= logging.WARNING] == []
    finally:
        log.removeHandler(handler)
        log.setLevel(old)


# --- templates ------------------------------------------------------------------------------


def test_the_built_in_templates_are_the_repository_folder() -> None:
    """One copy: what the package loads is templates/ at the top of the repository."""
    assert Path(str(builtin_templates())).resolve() == BUILTIN.resolve()
    assert sorted(p.name for p in BUILTIN.glob("*.j2")) == sorted(TEMPLATE_NAMES)


def test_a_templates_folder_in_the_current_folder_alone_is_not_used(
    tmp_path: Path, sample: Series, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "email.txt.j2").write_text("Stray\n" + LAW, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    no_file = load_settings()  # no newsletter.toml here: the defaults
    assert not no_file.from_file
    assert render_issue(sample, sample.issues[0], no_file).text.startswith("Body & Mind Notes")
    (tmp_path / "newsletter.toml").write_text("", encoding="utf-8")
    beside = load_settings()  # now the folder sits next to the settings file: it is theirs
    assert render_issue(sample, sample.issues[0], beside).text == "Stray\n" + LAW_TEXT


def test_an_override_can_extend_the_built_in_template(tmp_path: Path, sample: Series) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "email.mjml.j2").write_text(
        '{% extends "builtin/email.mjml.j2" %}\n'
        '{% block greeting %}<p class="nl-p">Dear {{ subscriber_name }},</p>{% endblock %}\n',
        encoding="utf-8",
    )
    (folder / "email.txt.j2").write_text(
        '{% extends "builtin/email.txt.j2" %}\n'
        "{% block footer %}-- \nSent with care.\n" + LAW + "{% endblock %}\n",
        encoding="utf-8",
    )
    s = settings_from_dict({}, base_dir=tmp_path)
    email = render_issue(sample, sample.issues[0], s)
    builtin = render_issue(sample, sample.issues[0], settings_from_dict({}))
    assert f"Dear {NAME_TOKEN}," in email.html and f"Hi {NAME_TOKEN}," not in email.html
    assert email.html.count("Improved Sleep") == builtin.html.count("Improved Sleep")
    assert email.text.endswith("-- \nSent with care.\n" + LAW_TEXT)
    assert email.text.split("-- \n")[0] == builtin.text.split("-- \n")[0]


def test_export_writes_the_built_in_templates_and_never_over_a_file(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    assert main(["templates", "--export", str(out)]) == 0
    for name in TEMPLATE_NAMES:
        assert (out / name).read_bytes() == (BUILTIN / name).read_bytes()
    (out / "email.txt.j2").write_text("my edits\n", encoding="utf-8")
    assert main(["templates", "--export", str(out)]) == 2
    assert (out / "email.txt.j2").read_text(encoding="utf-8") == "my edits\n"


def test_a_writer_template_overrides_by_file_name(tmp_path: Path, sample: Series) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "email.txt.j2").write_text(
        "Custom {{ issue.title }} for {{ subscriber_name }}\n" + LAW, encoding="utf-8"
    )
    s = settings_from_dict({}, base_dir=tmp_path)
    email = render_issue(sample, sample.issues[0], s)
    assert email.text == f"Custom Improved Sleep for {NAME_TOKEN}\n" + LAW_TEXT
    assert "<h1" in email.html  # the HTML template still comes from the package
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "email.txt.j2").write_text("Elsewhere\n" + LAW, encoding="utf-8")
    elsewhere = "Elsewhere\n" + LAW_TEXT
    assert render_issue(sample, sample.issues[0], s, template_dir=other).text == elsewhere
    named = settings_from_dict({"newsletter": {"templates": "elsewhere"}}, base_dir=tmp_path)
    assert render_issue(sample, sample.issues[0], named).text == elsewhere
    missing = settings_from_dict({"newsletter": {"templates": "nope"}}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"\[newsletter\] templates = 'nope'"):
        render_issue(sample, sample.issues[0], missing)


def broken(tmp_path: Path, name: str, source: str) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(source, encoding="utf-8")
    return folder


def mjml_with(line: str) -> str:
    template = (BUILTIN / "email.mjml.j2").read_text(encoding="utf-8")
    return template.replace(
        '<mj-section padding="32px 0 16px">', line + '\n<mj-section padding="32px 0 16px">', 1
    )


def line_of(source: str, needle: str) -> int:
    return next(n for n, line in enumerate(source.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("addition", "message"),
    [
        ("{% if %}", r"Expected an expression"),
        ("{{ no_such_thing }}", r"'no_such_thing' is undefined"),
        ("{{ issue.no_such_field }}", r"has no attribute 'no_such_field'"),
        ("<mj-sectionx></mj-sectionx>", r"unknown MJML tag <mj-sectionx>"),
    ],
)
def test_template_errors_name_the_file_and_line(
    tmp_path: Path, sample: Series, addition: str, message: str
) -> None:
    source = mjml_with(addition)
    folder = broken(tmp_path, "email.mjml.j2", source)
    with pytest.raises(TemplateError, match=message) as info:
        render_issue(sample, sample.issues[0], settings(), template_dir=folder)
    text = str(info.value)
    assert text.startswith(f"{folder / 'email.mjml.j2'}:{line_of(source, addition)}: ")
    assert "\n" not in text


def test_malformed_mjml_names_the_template(tmp_path: Path, sample: Series) -> None:
    source = mjml_with("<mj-section><mj-column><mj-text>unclosed</mj-column></mj-section>")
    folder = broken(tmp_path, "email.mjml.j2", source)
    with pytest.raises(TemplateError, match=r"does not compile") as info:
        render_issue(sample, sample.issues[0], settings(), template_dir=folder)
    assert str(info.value).startswith(str(folder / "email.mjml.j2") + ": ")


def test_error_in_the_blocks_template_names_that_file(tmp_path: Path, sample: Series) -> None:
    source = (BUILTIN / "blocks.html.j2").read_text(encoding="utf-8")
    source = source.replace('<p class="nl-p">', '<p class="nl-p">{{ b.nope }}', 1)
    folder = broken(tmp_path, "blocks.html.j2", source)
    with pytest.raises(TemplateError) as info:
        render_issue(sample, sample.issues[0], settings(), template_dir=folder)
    assert str(info.value).startswith(f"{folder / 'blocks.html.j2'}:{line_of(source, 'b.nope')}: ")


def test_image_without_alt_is_refused(tmp_path: Path, sample: Series) -> None:
    source = mjml_with(
        '<mj-section><mj-column><mj-image src="https://example.com/x.png" />'
        "</mj-column></mj-section>"
    )
    folder = broken(tmp_path, "email.mjml.j2", source)
    with pytest.raises(TemplateError, match="has no alt text"):
        render_issue(sample, sample.issues[0], settings(), template_dir=folder)


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("line one\n{{ oops }}\n", ":2: 'oops' is undefined"),
        (
            '{% include "email.txt.j2" %}\n',
            ": the template includes, extends or calls itself without end; break the loop",
        ),
    ],
)
def test_cli_prints_a_template_error_as_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], template: str, says: str
) -> None:
    broken(tmp_path, "email.txt.j2", template)
    (tmp_path / "newsletter.toml").write_text("[newsletter]\n", encoding="utf-8")
    code = main(
        ["--config", str(tmp_path / "newsletter.toml"), "build", str(SAMPLE), "-o", str(tmp_path)]
    )
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1
    assert err == f"newsletter: error: {tmp_path / 'templates' / 'email.txt.j2'}{says}"


# --- size ----------------------------------------------------------------------------------


def long_post(paragraphs: int) -> Series:
    text = "Calm words for a long read, repeated to make the email heavy. " * 16
    blocks = tuple(paragraph(f"{n}. {text}") for n in range(paragraphs))
    return split_post(Post(title="Long", source="long.md", sections=(Section("Long", blocks),)))


def test_size_warns_near_gmail_clipping_and_fails_past_it() -> None:
    small = long_post(10)
    assert render_issue(small, small.issues[0], settings()).warnings == ()
    near = long_post(75)
    email = render_issue(near, near.issues[0], settings())
    size = len(email.html.encode())
    assert 90 * 1024 - 1024 < size < SIZE_LIMIT
    assert len(email.warnings) == 1 and "close to Gmail's 102 KB" in email.warnings[0]
    big = long_post(100)
    with pytest.raises(TemplateError, match=r"Gmail clips emails over 102 KB"):
        render_issue(big, big.issues[0], settings())


def test_style_over_16_kb_fails(tmp_path: Path, sample: Series) -> None:
    rules = "".join(f".x{n} {{ color: #000000; margin: 0; }}\n" for n in range(600))
    source = mjml_with("").replace("</mj-head>", f"<mj-style>{rules}</mj-style></mj-head>")
    folder = broken(tmp_path, "email.mjml.j2", source)
    with pytest.raises(TemplateError, match=r"Gmail drops style blocks over 16 KB"):
        render_issue(sample, sample.issues[0], settings(), template_dir=folder)


# --- brand, language, colours ---------------------------------------------------------------


def test_language_and_direction_come_from_settings(sample: Series) -> None:
    email = render_issue(sample, sample.issues[0], settings(language="ar", direction="rtl"))
    doc = parse(email.html)
    assert (doc.get("lang"), doc.get("dir")) == ("ar", "rtl")
    assert '<mjml lang="ar" dir="rtl">' in email.mjml
    assert "padding-right: 26px" in email.mjml


def test_brand_settings_reach_the_email(sample: Series) -> None:
    email = render_issue(
        sample,
        sample.issues[1],
        settings(
            name="Quiet Hours",
            accent_color="#7a1f5c",
            font_stack="Georgia, 'Times New Roman', serif",
            footer_text="You asked for {name} at our studio.",
            postal_address="1 Calm Road, Stillwater",
            logo_url=LOGO,
            logo_alt="Quiet Hours logo",
        ),
    )
    page = parse(email.html)
    assert "Quiet Hours" in page.find("body").text_content()
    assert "You asked for Quiet Hours at our studio." in email.text
    assert "1 Calm Road, Stillwater" in email.text
    assert [(i.get("alt"), i.get("width")) for i in page.iter("img")] == [
        ("Quiet Hours logo", "120")
    ]
    assert "#7a1f5c" in email.html
    assert "Georgia" in page.find(".//h1/..").get("style")


def test_bad_brand_settings_name_the_setting(sample: Series) -> None:
    with pytest.raises(ConfigError, match=r"\[newsletter\] accent_color"):
        render_issue(sample, sample.issues[0], settings(accent_color="green; x: y"))
    with pytest.raises(ConfigError, match=r"\[newsletter\] font_stack"):
        render_issue(sample, sample.issues[0], settings(font_stack="Arial; } body { x: y"))


@pytest.mark.parametrize("accent", ["#2f6f5e", "#ffcc00", "#000000", "#777777", "#ff0000", "#fff"])
def test_palettes_keep_text_contrast_in_light_and_dark(accent: str) -> None:
    for p in palettes(settings(accent_color=accent)):
        for bg in (p.card, p.page, p.quote):
            for fg in (p.text, p.muted, p.accent):
                assert contrast(fg, bg) >= 4.5, (accent, fg, bg)
        assert contrast(p.button_text, p.button) >= 4.5


# --- personalize ----------------------------------------------------------------------------


def test_personalize_swaps_tokens_and_escapes_for_html() -> None:
    email = Email(
        subject="s",
        preheader="p",
        html=f'<p>Hi {NAME_TOKEN},</p><a href="{UNSUBSCRIBE_TOKEN}">Unsubscribe</a>',
        text=f"Hi {NAME_TOKEN},\nUnsubscribe: {UNSUBSCRIBE_TOKEN}\n",
        mjml="",
    )
    html, text = personalize(
        email, name="Ann <b>&\nCo</b>", unsubscribe_url="https://e.example/u?a=1&b=2"
    )
    assert html == (
        "<p>Hi Ann &lt;b&gt;&amp; Co&lt;/b&gt;,</p>"
        '<a href="https://e.example/u?a=1&amp;b=2">Unsubscribe</a>'
    )
    assert text == "Hi Ann <b>& Co</b>,\nUnsubscribe: https://e.example/u?a=1&b=2\n"
    html, text = personalize(email, name=None, unsubscribe_url="https://e.example/u")
    assert "Hi there," in html and text.startswith("Hi there,")
    html, _ = personalize(email, name=None, unsubscribe_url="#unsubscribe-preview")
    assert 'href="#unsubscribe-preview"' in html
    for bad in ("javascript:alert(1)", "https://e.example/u x", "https://e.example/\r\nX: y", ""):
        with pytest.raises(TemplateError):
            personalize(email, name=None, unsubscribe_url=bad)


def test_extra_csv_columns_fill_the_template_per_recipient(tmp_path: Path, sample: Series) -> None:
    """Rendered once with tokens; each recipient's columns (escaped in the HTML) go in later."""
    folder = broken(
        tmp_path,
        "email.mjml.j2",
        mjml_with(
            "<mj-section><mj-column><mj-text>See you in {{ subscriber.city }}, "
            '{{ subscriber.get("Favourite Tea", "tea lover") }}!</mj-text></mj-column>'
            "</mj-section>"
        ),
    )
    (folder / "email.txt.j2").write_text(
        '{{ subscriber["city"] }}|{{ subscriber.get("favourite-tea", "tea lover") }}|'
        "{{ subscriber.name }}\n" + LAW,
        encoding="utf-8",
    )
    email = render_issue(sample, sample.issues[0], settings(), template_dir=folder)
    html, text = personalize(
        email,
        name="Ann",
        unsubscribe_url="https://e.example/u",
        fields=[("City", "Cork <&> Kerry"), ("favourite tea", "Earl\r\nGrey")],
    )
    assert "See you in Cork &lt;&amp;&gt; Kerry, Earl Grey!" in html
    assert text.splitlines()[0] == "Cork <&> Kerry|Earl Grey|Ann"
    html, text = personalize(email, name=None, unsubscribe_url="https://e.example/u")
    assert "See you in , tea lover!" in html
    assert text.splitlines()[0] == "|tea lover|there"
    assert "__NEWSLETTER_FIELD_" not in html + text


def test_render_series_renders_each_issue_in_order(sample: Series) -> None:
    emails = render_series(sample, settings())
    assert [e.subject for e in emails] == [i.subject for i in sample.issues]
    assert [e.preheader for e in emails] == [i.preheader for i in sample.issues]
    for email in emails:
        assert FIRST_NAME_TOKEN in email.html and UNSUBSCRIBE_TOKEN in email.html
        assert FIRST_NAME_TOKEN in email.text and UNSUBSCRIBE_TOKEN in email.text
        assert email.mjml.lstrip().startswith("<mjml")


def test_an_issue_with_no_body_still_renders() -> None:
    series = split_post(Post(title="T", source="t.md", sections=(Section("Empty", ()),)))
    email = render_issue(series, series.issues[0], settings())
    assert [h.text_content() for h in parse(email.html).iter("h1")] == ["Empty"]


def test_a_failing_template_is_a_newsletter_error(tmp_path: Path, sample: Series) -> None:
    folder = broken(tmp_path, "email.txt.j2", "{{ 1 / 0 }}\n")
    with pytest.raises(NewsletterError, match=r"email.txt.j2:1: division by zero"):
        render_issue(sample, sample.issues[0], settings(), template_dir=folder)


# --- golden files (make golden rewrites them) -----------------------------------------------


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_golden_render_mjml_and_text(sample: Series, number: int) -> None:
    issue = sample.issues[number - 1]
    email = render_issue(sample, issue, settings())
    check_golden_text(f"render-{number:02d}-{issue.slug}.mjml", email.mjml)
    check_golden_text(f"render-{number:02d}-{issue.slug}.txt", email.text)


def test_build_prints_the_size_warning_and_still_writes_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "Calm words for a long read, repeated to make the email heavy. " * 16
    body = "\n\n".join(f"Paragraph {n}. {text}" for n in range(75))
    post = tmp_path / "long.md"
    post.write_text(
        f"---\nurl: https://blog.test/long\n---\n# Long\n\nAn intro.\n\n## Long\n\n{body}\n",
        encoding="utf-8",
    )
    code = main(["build", str(post), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 0
    assert len(err) == 1
    assert err[0].startswith(f"{post}: warning: issue 1 (long): the HTML is ")
    assert err[0].endswith("close to Gmail's 102 KB clipping limit")
    assert (tmp_path / "out" / "long" / "01-long" / "email.html").is_file()


# --- pictures --------------------------------------------------------------------------------

PICTURES = ROOT / "tests" / "emails" / "pictures.md"


def picture_post(*blocks: Block, url: str | None = "https://blog.example/posts/trees/") -> Post:
    return Post(
        title="Trees",
        source="trees.md",
        url=url,
        sections=(
            Section("One", (paragraph("The first tree of the garden is a rowan."), *blocks)),
            Section("Two", (paragraph("The second tree of the garden is a crab apple."),)),
        ),
    )


def img(src: str, alt: str = "A tree", line: int = 7, **more: Any) -> Block:
    return Block("img", (Span(alt),) if alt else (), src=src, line=line, **more)


def test_pictures_reach_the_email_with_their_alt_text_and_absolute_addresses() -> None:
    series = split_post(read_post(str(PICTURES)))
    emails = render_series(series, settings())
    shown = [[(i.get("src"), i.get("alt")) for i in parse(e.html).iter("img")] for e in emails]
    assert shown == [
        [
            (
                "https://garden.example/blog/three-trees/images/rowan.jpg",
                "A rowan tree heavy with red berries",
            )
        ],
        [("https://cdn.garden.example/crab-apple.jpg", "Crab apple blossom, pink and white")],
        [("https://garden.example/media/field-maple.jpg", "")],
    ]
    assert "[Image: A rowan tree heavy with red berries]" in emails[0].text
    assert "[Image]" in emails[2].text
    [warning] = [str(w) for w in series.post.warnings]
    assert warning.startswith(f"{PICTURES}:26: warning: image '/media/field-maple.jpg'")
    assert "no alt text" in warning


def test_a_relative_picture_without_a_base_is_left_out_with_a_warning() -> None:
    series = split_post(
        picture_post(img("images/rowan.jpg"), img("data:image/gif;base64,R0"), url=None)
    )
    assert [b.kind for b in series.issues[0].blocks] == ["p"]
    warnings = [str(w) for w in series.post.warnings]
    assert warnings == [
        "trees.md:7: warning: image 'images/rowan.jpg' has a relative address and the post has "
        "no URL of its own: left out (give the post's address with --url or front matter url)",
        "trees.md:7: warning: image 'data:image/gif;base64,R0' is not an http(s) address: left out",
    ]
    email = render_issue(series, series.issues[0], settings())
    assert list(parse(email.html).iter("img")) == []
    assert "[Image" not in email.text


def test_a_picture_keeps_its_size_within_the_column_and_its_caption() -> None:
    caption = (Span("Rowan in "), Span("October", em=True), Span(" <3"))
    series = split_post(
        picture_post(
            img("https://cdn.example/big.jpg", width=1600, height=1200, caption=caption),
            img("//cdn.example/small.png", "A small icon", width=64, height=48),
        )
    )
    email = render_issue(series, series.issues[0], settings())
    big, small = parse(email.html).iter("img")
    assert (big.get("width"), big.get("height")) == ("520", "390")
    assert "max-width:100%" in big.get("style").replace(" ", "")
    assert (small.get("src"), small.get("width"), small.get("height")) == (
        "https://cdn.example/small.png",
        "64",
        "48",
    )
    [shown] = parse(email.html).find_class("nl-caption")
    assert shown.text_content() == "Rowan in October <3"
    assert shown.getprevious().find("img").get("src") == big.get("src")  # right below it
    assert "<em>October</em> &lt;3" in email.html
    assert "[Image: A tree]\nRowan in October <3" in email.text


def test_a_template_can_place_the_first_picture_at_the_top(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "email.mjml.j2").write_text(
        '{% extends "builtin/email.mjml.j2" %}\n'
        '{% import "blocks.html.j2" as content %}\n'
        "{% block lead_image %}{% if first_image %}\n"
        '<mj-text css-class="nl-text nl-lead" padding="0 40px 24px">'
        "{{ content.image(first_image) }}</mj-text>\n"
        "{% endif %}{% endblock %}\n",
        encoding="utf-8",
    )
    series = split_post(read_post(str(PICTURES)))
    emails = render_series(series, settings(), folder)
    for email in emails:
        [lead] = parse(email.html).find_class("nl-lead")
        [top] = lead.iter("img")
        assert top.get("src") == "https://garden.example/blog/three-trees/images/rowan.jpg"


# --- subjects --------------------------------------------------------------------------------


def titled(title: str, *headings: str, series: str | None = None) -> Post:
    return Post(
        title=title,
        source="post.md",
        series=series,
        sections=tuple(
            Section(h, (paragraph(f"All about {h.lower()} in a sentence."),)) for h in headings
        ),
    )


def test_every_subject_of_a_series_has_one_shape(sample: Series) -> None:
    subjects = [i.subject for i in sample.issues]
    # The longest title leaves no room for even "Massage, ": no issue names the series.
    assert subjects == [f"{i.number} of 5: {i.title}" for i in sample.issues]
    assert all(len(s) <= 70 for s in subjects)
    calm = split_post(
        titled("Five Habits of Calm Mornings: a field guide", "Wake up", "Drink water")
    )
    assert [i.subject for i in calm.issues] == [
        "Five Habits of Calm Mornings, 1 of 2: Wake up",
        "Five Habits of Calm Mornings, 2 of 2: Drink water",
    ]


def test_a_derived_series_name_is_cut_at_a_word_and_never_on_a_small_word() -> None:
    post = titled(
        "Massage for the Health of the Mind and the Body",
        "Sleep",
        "Hormones and what they carry",
    )
    subjects = [i.subject for i in split_post(post).issues]
    assert subjects == [
        "Massage for the Health, 1 of 2: Sleep",
        "Massage for the Health, 2 of 2: Hormones and what they carry",
    ]
    assert all(len(s) <= 70 for s in subjects)


def test_a_title_is_never_cut_and_the_name_comes_from_front_matter_or_settings() -> None:
    long = (
        "A heading far too long for any inbox, which the subject keeps whole anyway, word by word"
    )
    post = titled("Notes", "Short", long, series="Garden Notes")
    assert [i.subject for i in split_post(post).issues] == [
        "Garden Notes, 1 of 2: Short",
        f"Garden Notes, 2 of 2: {long}",
    ]
    plain = titled("A very long post title that will not fit with these titles", "Short", long)
    assert [i.subject for i in split_post(plain).issues] == ["1 of 2: Short", f"2 of 2: {long}"]
    named = split_post(plain, name="Notes", subject="{title} ({series} {number}/{total})")
    assert [i.subject for i in named.issues] == ["Short (Notes 1/2)", f"{long} (Notes 2/2)"]
    dotted = "{title} · {series} {number}/{total}"
    assert split_post(titled("Trees", "Short"), subject=dotted).issues[0].subject == (
        "Short · Trees 1/1"
    )
    assert [i.subject for i in split_post(plain, subject=dotted).issues] == [
        "Short · 1/2",
        f"{long} · 2/2",
    ]


def test_the_subject_pattern_and_greeting_are_checked_settings(tmp_path: Path) -> None:
    config = tmp_path / "newsletter.toml"
    config.write_text(
        '[newsletter]\nseries_name = "Notes"\nsubject = "{series}: {title}"\n', encoding="utf-8"
    )
    with pytest.raises(
        ConfigError, match=r"\[newsletter\] subject .* must hold \{title\} and \{number\}"
    ):
        load_settings(config)
    config.write_text('[newsletter]\nsubject = "{number}: {title} {when}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown placeholder \{when\}"):
        load_settings(config)
    config.write_text('[newsletter]\ngreeting = "Dear {surname},"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"greeting .* may hold only \{first_name\} and \{name\}"):
        load_settings(config)
    config.write_text(
        '[newsletter]\nseries_name = "Massage Notes"\n'
        'subject = "{series} {number}/{total}: {title}"\n',
        encoding="utf-8",
    )
    from newsletter import service

    series = service.load_series(SAMPLE, load_settings(config))
    assert series.issues[1].subject == "Massage Notes 2/5: Impact on Hormones and Neurotransmitters"


# --- the greeting ----------------------------------------------------------------------------


def test_the_greeting_uses_the_first_name_column_else_the_first_word_of_the_name(
    sample: Series,
) -> None:
    email = render_issue(sample, sample.issues[0], settings())
    url = "https://example.com/u?t=1"

    def greeting(name: str | None, fields: tuple[tuple[str, str], ...] = ()) -> tuple[str, str]:
        html, text = personalize(email, name=name, unsubscribe_url=url, fields=fields)
        [p] = [p for p in parse(html).iter("p") if p.text_content().startswith(("Hi", "Dear"))]
        return p.text_content(), text.split("\n\n")[3]

    assert greeting("Ada Lovelace") == ("Hi Ada,", "Hi Ada,")
    assert greeting("Ada Lovelace", (("First Name", "Augusta"),)) == ("Hi Augusta,", "Hi Augusta,")
    assert greeting("Ada Lovelace", (("first_name", " "),)) == ("Hi Ada,", "Hi Ada,")
    assert greeting(None) == ("Hi there,", "Hi there,")
    assert greeting("<b>Bo</b> Tags") == ("Hi <b>Bo</b>,", "Hi <b>Bo</b>,")  # escaped in HTML
    dear = render_issue(sample, sample.issues[0], settings(greeting="Dear {name} & co,"))
    html, text = personalize(dear, name="Ada Lovelace", unsubscribe_url=url)
    assert (
        '<p class="nl-p" style="display:block; margin:0 0 18px">Dear Ada Lovelace &amp; co,</p>'
        in html
    )
    assert "\nDear Ada Lovelace & co,\n" in text


# --- the series, introduced ------------------------------------------------------------------


def test_issue_one_lists_the_series_and_the_others_say_where_they_sit(sample: Series) -> None:
    emails = render_series(sample, settings())
    [box] = parse(emails[0].html).find_class("nl-series-box")
    items = [li.text_content() for li in box.iter("li")]
    assert items == [
        "Improved Sleep (this email)",
        "Impact on Hormones and Neurotransmitters (week 2)",
        "Decrease in Pain (week 3)",
        "Regulation of the Parasympathetic/Sympathetic Nervous System (week 4)",
        "Improved Body Awareness (week 5)",
    ]
    assert (
        "In this series:\n1. Improved Sleep (this email)\n2. Impact on Hormones" in emails[0].text
    )
    assert "\n4. Regulation of the Parasympathetic/Sympathetic Nervous System (week 4)\n" in (
        emails[0].text
    )
    for email in emails[1:]:
        assert parse(email.html).find_class("nl-series-box") == []
        assert "In this series" not in email.text
    assert "Next week: Decrease in Pain (part 3 of 5)" in " ".join(emails[1].text.split())
    [nxt] = parse(emails[1].html).find_class("nl-next-box")
    assert nxt.text_content() == "Next week: Decrease in Pain (part 3 of 5)"
    [done] = parse(emails[4].html).find_class("nl-next-box")
    assert done.text_content().startswith("The series is complete. This was the last of 5 parts")
    [link] = done.iter("a")
    assert link.get("href").startswith("https://example.com/?utm_source=newsletter")
    assert "The series is complete. This was the last of 5 parts" in emails[4].text


def test_the_series_list_gives_dates_once_scheduled_and_weeks_apart(sample: Series) -> None:
    import datetime as dt

    dates = [dt.date(2025, 3, 3) + dt.timedelta(weeks=2 * n) for n in range(5)]
    email = render_issue(sample, sample.issues[0], settings(), dates=dates)
    [box] = parse(email.html).find_class("nl-series-box")
    assert [li.text_content().rsplit("(", 1)[1] for li in box.iter("li")] == [
        "this email)",
        "Mon 17 Mar)",
        "Mon 31 Mar)",
        "Mon 14 Apr)",
        "Mon 28 Apr)",
    ]
    fortnightly = dataclasses.replace(settings(), schedule=ScheduleSettings(every=2))
    plain = render_issue(sample, sample.issues[0], fortnightly)
    assert "2. Impact on Hormones and Neurotransmitters (week 3)" in plain.text
    assert "In 2 weeks: Impact on Hormones and Neurotransmitters (part 2 of 5)" in plain.text


def test_breakable_titles_wrap_only_after_a_slash_dash_or_underscore() -> None:
    assert str(breakable("Parasympathetic/Sympathetic <b>x-y</b> a - b")) == (
        "Parasympathetic/<wbr>Sympathetic &lt;b&gt;x-<wbr>y&lt;/b&gt; a - b"
    )


def test_a_blocked_logo_shows_its_alt_text_styled_as_the_name_instead_of_it(
    sample: Series,
) -> None:
    email = render_issue(sample, sample.issues[0], settings(logo_url=LOGO, logo_alt="Quiet Hours"))
    page = parse(email.html)
    assert page.find_class("nl-brand") == []  # the logo stands for the name, not above it
    [logo] = page.iter("img")
    style = logo.get("style").replace(" ", "")
    assert logo.get("alt") == "Quiet Hours"
    for rule in ("font-size:15px", "font-weight:700", "letter-spacing:0.08em", "color:#2f6f5e"):
        assert rule in style
    assert "font-family:-apple-system" in style
    assert "text-decoration:none" in logo.getparent().get("style").replace(" ", "")
    plain = parse(render_issue(sample, sample.issues[0], settings()).html)
    [brand] = plain.find_class("nl-brand")
    assert brand.text_content() == "Body & Mind Notes"


def test_the_heading_size_steps_down_in_the_inline_style() -> None:
    series = split_post(titled("Trees", "Regulation of the Parasympathetic/Sympathetic"))
    email = render_issue(series, series.issues[0], settings())
    [h1] = parse(email.html).iter("h1")
    style = h1.get("style")
    assert "font:700 26px/1.2 -apple-system" in style  # for clients without clamp()
    assert style.index("font:700") < style.index("font-size:clamp(22px, 7vw, 30px)")
    assert "Parasympathetic/<wbr>" in email.html  # lxml writes it <wbr></wbr>, which is harmless


def test_build_warns_when_read_the_whole_post_would_go_to_the_home_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "newsletter.toml"
    config.write_text('[newsletter]\nsite_url = "https://bodyandmind.net"\n', encoding="utf-8")
    out = str(tmp_path / "out")
    assert main(["--config", str(config), "build", str(SAMPLE), "-o", out]) == 0
    err = capsys.readouterr().err
    assert (
        f'{SAMPLE}: warning: the post has no URL of its own, so "Read the whole post" goes to '
        "the site's home page (https://bodyandmind.net): give the post's address with --url or "
        "front matter url"
    ) in err.splitlines()
    url = "https://bodyandmind.net/massage/"
    assert main(["--config", str(config), "build", str(SAMPLE), "--url", url, "-o", out]) == 0
    assert "no URL of its own" not in capsys.readouterr().err
    assert main(["--config", str(config), "split", str(SAMPLE)]) == 0  # split links nowhere
    assert "no URL of its own" not in capsys.readouterr().err


def test_schedule_renders_the_series_list_with_each_issues_date(
    tmp_path: Path, sample: Series
) -> None:
    import datetime as dt

    from newsletter import service
    from newsletter.config import OutboxSettings
    from newsletter.outbox import Outbox

    queued = dataclasses.replace(
        settings(), outbox=OutboxSettings(path=str(tmp_path / "o.sqlite3")), base_dir=tmp_path
    )
    now = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    when = service.timing(queued, now, start="2025-03-03", at="09:00", tz="America/New_York")
    service.queue_series(sample, queued, when, now=now)
    with Outbox.open(tmp_path / "o.sqlite3") as outbox:
        first = outbox.due_issues(now + dt.timedelta(weeks=10))[0]
    assert first.number == 1
    [box] = parse(first.email.html).find_class("nl-series-box")
    assert [li.text_content().rsplit("(", 1)[1] for li in box.iter("li")][1:] == [
        "Mon 10 Mar)",
        "Mon 17 Mar)",
        "Mon 24 Mar)",
        "Mon 31 Mar)",
    ]
    assert "2. Impact on Hormones and Neurotransmitters (Mon 10 Mar)" in first.email.text
