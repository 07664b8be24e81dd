"""The built emails in real headless Chromium: phone and desktop widths, light and dark.

Each `email.html` written by `newsletter build` is opened from disk. The logo URL is answered
with a generated PNG; every other network request fails the test (an email must not fetch fonts
or trackers when opened).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsletter.cli import main
from newsletter.config import Settings
from newsletter.palette import palettes
from tests.browser import chromium
from tests.helpers import SAMPLE

pytestmark = pytest.mark.browser

SLUG = "massage-for-the-mental-health-of-it"
LOGO = "https://example.com/logo.png"
ISSUES = [1, 2, 3, 4, 5]

# Every element with its own visible text: its colour against the first opaque background
# behind it, as a WCAG contrast ratio.
CONTRASTS_JS = """
() => {
  const parse = (c) => {
    const p = c.match(/rgba?\\(([^)]+)\\)/)[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = ({r, g, b}) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.getClientRects().length === 0) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || parseFloat(style.opacity) === 0) continue;
    const [hi, lo] = [lum(parse(style.color)), lum(background(el))].sort((x, y) => y - x);
    out.push({text: el.textContent.trim().slice(0, 40), ratio: (hi + 0.05) / (lo + 0.05)});
  }
  return out;
}
"""


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG, made here so that the test needs no image file or library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


LOGO_PNG = png(240, 80, (47, 111, 94))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser-build")
    config = tmp / "newsletter.toml"
    config.write_text(f'[newsletter]\nlogo_url = "{LOGO}"\nlogo_alt = "Logo"\n', encoding="utf-8")
    assert main(["--config", str(config), "build", str(SAMPLE), "-o", str(tmp / "out")]) == 0
    return tmp / "out" / SLUG


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def email_file(built: Path, number: int) -> Path:
    return next(built.glob(f"{number:02d}-*/email.html"))


def open_page(browser: Any, path: Path, width: int, scheme: str) -> tuple[Any, Any, list[str]]:
    """A page showing `path`, the logo served locally; returns (context, page, blocked URLs)."""
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    blocked: list[str] = []

    def route(r: Any) -> None:
        url = r.request.url
        if url == LOGO:
            r.fulfill(status=200, content_type="image/png", body=LOGO_PNG)
        elif url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return context, page, blocked


def rgb(color: str) -> str:
    h = color.lstrip("#")
    return f"rgb({int(h[0:2], 16)}, {int(h[2:4], 16)}, {int(h[4:6], 16)})"


def box(page: Any, selector: str) -> dict[str, float]:
    result: dict[str, float] = page.locator(selector).first.bounding_box()
    return result


@pytest.mark.parametrize("number", ISSUES)
def test_phone_width_is_one_column_without_horizontal_scroll(
    browser: Any, built: Path, number: int
) -> None:
    context, page, blocked = open_page(browser, email_file(built, number), 375, "light")
    try:
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
        card = box(page, ".nl-card")
        assert card["x"] >= 0 and card["x"] + card["width"] <= 375
        h1 = box(page, "h1")
        assert h1["x"] + h1["width"] <= 375 - 16
        assert 16 <= h1["x"] <= 24  # the phone rule narrowed the 40px desktop margins
        logo = box(page, "img")
        assert (logo["width"], logo["height"]) == (120, 40)
        assert blocked == []
    finally:
        context.close()


@pytest.mark.parametrize("number", ISSUES)
def test_desktop_width_shows_the_600px_column(browser: Any, built: Path, number: int) -> None:
    context, page, blocked = open_page(browser, email_file(built, number), 800, "light")
    try:
        card = box(page, ".nl-card")
        assert card["width"] == 600
        assert card["x"] == 100  # centred
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 800
        assert box(page, "img")["width"] == 120
        assert blocked == []
    finally:
        context.close()


@pytest.mark.parametrize("number", ISSUES)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_colours_apply_and_keep_contrast(
    browser: Any, built: Path, number: int, scheme: str
) -> None:
    light, dark = palettes(Settings())
    want = dark if scheme == "dark" else light
    context, page, _ = open_page(browser, email_file(built, number), 375, scheme)
    try:

        def css(selector: str, prop: str) -> str:
            value: str = page.eval_on_selector(
                selector, f"e => getComputedStyle(e).getPropertyValue('{prop}')"
            )
            return value

        assert css("body", "background-color") == rgb(want.page)
        assert css(".nl-card", "background-color") == rgb(want.card)
        assert css("h1", "color") == rgb(want.text)
        assert css(".nl-footer-link", "color") == rgb(want.muted)
        assert css(".nl-button a", "background-color") == rgb(want.button)
        contrasts = page.evaluate(CONTRASTS_JS)
        assert len(contrasts) > 8
        low = [c for c in contrasts if c["ratio"] < 4.5]
        assert low == []
    finally:
        context.close()


@pytest.mark.parametrize("number", ISSUES)
def test_the_preheader_is_hidden_in_the_open_email(browser: Any, built: Path, number: int) -> None:
    context, page, _ = open_page(browser, email_file(built, number), 375, "light")
    try:
        assert page.locator(".nl-preheader").first.bounding_box() is None
        shown = page.evaluate("document.body.innerText").lstrip().lower()
        assert shown.startswith(f"part {number} of 5")  # the logo above it has no text
    finally:
        context.close()


# Each word of the elements `selector` matches, as a range of characters: the line tops it
# covers. A word may wrap only after "/", "-" or "_" (where the template put a <wbr>), so each
# piece between those sits on one line, or the word was broken in the middle.
BROKEN_WORDS_JS = """
(selector) => {
  const broken = [];
  let words = 0;
  for (const el of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const re = /[^\\s\\/_-]+[\\/_-]?/g;
      for (let m = re.exec(node.data); m; m = re.exec(node.data)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0)
          .map((r) => Math.round(r.top)));
        words += 1;
        if (tops.size > 1) broken.push(m[0]);
      }
    }
  }
  return {words, broken};
}
"""
BOXES = "h1, .nl-next-box, .nl-series-box"


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pictures-build")
    post = Path(__file__).parent / "emails" / "pictures.md"
    assert main(["build", str(post), "-o", str(out)]) == 0
    return out / "three-trees-for-a-small-garden"


@pytest.mark.parametrize("width", [320, 375, 600])
@pytest.mark.parametrize("styles", ["with <style>", "inline only"])
def test_no_word_of_a_heading_or_box_breaks_in_the_middle(
    browser: Any, built: Path, width: int, styles: str
) -> None:
    for number in ISSUES:
        context, page, _ = open_page(browser, email_file(built, number), width, "light")
        try:
            if styles == "inline only":  # as webmail that drops <style> shows it
                page.evaluate("document.querySelectorAll('style').forEach((s) => s.remove())")
            found = page.evaluate(BROKEN_WORDS_JS, BOXES)
            assert found["words"] > 5
            assert found["broken"] == [], f"issue {number} at {width}px, {styles}"
            assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        finally:
            context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [320, 800])
def test_pictures_fit_the_column_and_stay_visible(
    browser: Any, pictures: Path, scheme: str, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    picture = png(1600, 1200, (120, 60, 40))
    context.route(
        "**/*",
        lambda r: (
            r.continue_()
            if r.request.url.startswith("file:")
            else r.fulfill(status=200, content_type="image/png", body=picture)
        ),
    )
    try:
        for number in (1, 2):
            page = context.new_page()
            page.goto(email_file(pictures, number).as_uri())
            page.wait_for_load_state("load")
            img = page.locator(".nl-img").first
            shown = img.bounding_box()
            text = page.locator(".nl-content").first.bounding_box()
            assert shown["width"] > 200 and shown["height"] > 150
            assert (
                text["x"] <= shown["x"] and shown["x"] + shown["width"] <= text["x"] + text["width"]
            )
            assert img.evaluate("e => getComputedStyle(e).opacity") == "1"
            assert img.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 255, 255)"
            assert page.evaluate("document.scrollingElement.scrollWidth") <= width
            page.close()
    finally:
        context.close()
