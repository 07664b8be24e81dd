"""The preview in a real headless Chromium: every issue at desktop and phone width, dark mode,
the plain text, captions that copy to the clipboard, the send calendar."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.captions import captions_for_issue
from newsletter.config import Settings, settings_from_dict
from newsletter.preview import CalendarRow, PreviewData, PreviewServer, build_pages, preview_data
from newsletter.readers import read_post
from newsletter.series import split_post
from tests.browser import chromium
from tests.helpers import SAMPLE


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = tmp_path_factory.mktemp("preview")
    return settings_from_dict({"outbox": {"path": str(base / "outbox.sqlite3")}}, base_dir=base)


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[tuple[str, dict[str, str]]]:
    series = split_post(read_post(str(SAMPLE)))
    rows = tuple(
        CalendarRow(i.number, i.title, f"Mon 2026-12-0{i.number} 09:00 GMT", "scheduled")
        for i in series.issues
    )
    pages = build_pages(preview_data(series, settings, rows, "Queued."))
    server = PreviewServer(("127.0.0.1", 0), lambda: pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    expected_x = captions_for_issue(series, series.issues[1], settings)["x"]
    try:
        yield server.url, {"x2": expected_x}
    finally:
        server.shutdown()
        server.server_close()


def test_every_issue_at_desktop_and_phone_width_and_in_dark_mode(
    served: tuple[str, dict[str, str]],
) -> None:
    url, _ = served
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1600, "height": 1000}, color_scheme="light")
        page.goto(url)
        assert page.title() == "Preview: Massage for the (mental) Health of It"
        issues = page.locator("section.issue")
        assert issues.count() == 5
        for n in range(1, 6):
            section = page.locator(f"#issue-{n}")
            section.scroll_into_view_if_needed()
            widths = section.locator("iframe.email").evaluate_all(
                "els => els.map(e => e.getBoundingClientRect().width)"
            )
            assert widths == [800, 375, 375]
        page.locator("#issue-1 iframe.phone").first.scroll_into_view_if_needed()
        phone = page.frame_locator("#issue-1 iframe.phone:not(.dark)")
        dark = page.frame_locator("#issue-1 iframe.dark")
        assert phone.locator("h1").inner_text().strip() == "Improved Sleep"
        # No horizontal scrolling inside the phone-width frame.
        overflow = page.locator("#issue-1 iframe.phone:not(.dark)").evaluate(
            "f => f.contentDocument.documentElement.scrollWidth - f.clientWidth"
        )
        assert overflow <= 0

        # The dark frame shows the email's dark scheme: light text on a dark page.
        def colours(frame_selector: str) -> tuple[float, float]:
            text, background = page.locator(frame_selector).evaluate(
                """f => {
                    const lum = c => { const [r, g, b] = c.match(/\\d+/g).map(Number);
                                       return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; };
                    const doc = f.contentDocument;
                    const h1 = doc.querySelector('h1');
                    let el = h1, bg = 'rgba(0, 0, 0, 0)';
                    while (el && /rgba\\(0, 0, 0, 0\\)|transparent/.test(bg)) {
                        bg = getComputedStyle(el).backgroundColor; el = el.parentElement;
                    }
                    return [lum(getComputedStyle(h1).color), lum(bg)];
                }"""
            )
            return float(text), float(background)

        dark.locator("h1").wait_for()
        dark_text, dark_bg = colours("#issue-1 iframe.dark")
        light_text, light_bg = colours("#issue-1 iframe.phone:not(.dark)")
        assert dark_text > 0.7 and dark_bg < 0.2
        assert light_text < 0.3 and light_bg > 0.8


def test_copy_button_puts_the_exact_caption_on_the_clipboard(
    served: tuple[str, dict[str, str]],
) -> None:
    url, expected = served
    with chromium() as browser:
        context = browser.new_context()
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
        page = context.new_page()
        page.goto(url)
        card = page.locator('#issue-2 .caption[data-platform="x"]')
        card.scroll_into_view_if_needed()
        card.get_by_role("button", name="Copy").click()
        card.locator(".copied").filter(has_text="Copied").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == expected["x2"]
        counts = card.locator(".count").inner_text()
        used, limit = (int(v) for v in counts.split(" / "))
        assert limit == 280 and 0 < used <= 280


def test_plain_text_warnings_and_calendar_are_shown(served: tuple[str, dict[str, str]]) -> None:
    url, _ = served
    with chromium() as browser:
        page = browser.new_page()
        page.goto(url)
        page.locator("#issue-3 details summary").click()
        text = page.locator("#issue-3 pre.text").inner_text()
        assert "Decrease in Pain" in text
        assert "he second mechanism" in page.locator("#warnings").inner_text()
        rows = page.locator("#calendar tbody tr")
        assert rows.count() == 5
        assert "Improved Body Awareness" in rows.nth(4).inner_text()


def test_post_text_is_escaped_in_the_page() -> None:
    hostile = "<script>window.pwned = 1</script>"
    data = PreviewData(title=hostile, author=hostile, source="x.md", issues=())
    server = PreviewServer(("127.0.0.1", 0), lambda: build_pages(data))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with chromium() as browser:
            page = browser.new_page()
            page.goto(server.url)
            assert page.evaluate("typeof window.pwned") == "undefined"
            assert page.locator("header.top h1").inner_text() == hostile
    finally:
        server.shutdown()
        server.server_close()


def test_cli_serves_on_loopback_and_rebuilds_when_the_post_changes(tmp_path: Path) -> None:
    post = tmp_path / "post.txt"
    post.write_bytes(SAMPLE.read_bytes())
    env = {**os.environ, "NEWSLETTER_NOW": "2026-11-25T12:00:00+00:00"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "preview", str(post), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"http://([\d.]+):(\d+)/", line)
        assert m, line
        assert m.group(1) == "127.0.0.1"
        page = urllib.request.urlopen(m.group(0), timeout=30).read().decode()
        assert "Not scheduled yet" in page and "--start 2026-11-30" in page
        post.write_text(
            SAMPLE.read_text(encoding="utf-8").replace(
                "Improved Body Awareness", "Better Body Awareness"
            ),
            encoding="utf-8",
        )
        os.utime(post, (post.stat().st_atime + 5, post.stat().st_mtime + 5))
        page = urllib.request.urlopen(m.group(0), timeout=30).read().decode()
        assert "Better Body Awareness" in page
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("command", ["preview", "unsubscribe-server"])
def test_a_port_out_of_range_is_a_usage_error(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from newsletter.cli import main

    with pytest.raises(SystemExit) as exit_:
        main([command, *([str(SAMPLE)] if command == "preview" else []), "--port", "70000"])
    assert exit_.value.code == 2
    assert "'70000' is not a port number (0-65535)" in capsys.readouterr().err
