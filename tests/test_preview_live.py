"""The live preview in a real headless Chromium, against a real `newsletter preview` process:
saving the post, the settings or a template updates the open page within a second, without a
reload and where the reader was; a broken post shows its error and recovers; `schedule` shows
up in the calendar; the page fits a 390 px phone; the reader's findings and each issue's
warnings are on the page."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser import chromium
from tests.helpers import ROOT, SAMPLE
from tests.workspace import ACCEPT

if TYPE_CHECKING:
    from playwright.sync_api import Browser

NOW = "2026-12-01T10:00:00+00:00"
RELOAD_BUDGET = 1.0  # seconds from saving a file to the open page showing it


@contextmanager
def running_preview(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`newsletter preview post.txt` running in `tmp_path`; yields its URL and the post."""
    post = tmp_path / "post.txt"
    post.write_bytes(SAMPLE.read_bytes())
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "preview", str(post), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "NEWSLETTER_NOW": NOW, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        found = re.search(r"http://127\.0\.0\.1:\d+/", proc.stdout.readline())
        assert found, "the preview did not start"
        yield found.group(0), post
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def preview(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with running_preview(tmp_path) as running:
        yield running


@pytest.fixture(scope="module")
def unchanged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Browser]]:
    """One preview nobody edits and one browser, for the tests that only look."""
    with running_preview(tmp_path_factory.mktemp("still")) as (url, _), chromium() as browser:
        yield url, browser


def saved(path: Path, text: str) -> float:
    """Write `text` to `path` and return when (time.monotonic)."""
    path.write_text(text, encoding="utf-8")
    return time.monotonic()


def test_saving_updates_the_open_page_within_a_second(
    preview: tuple[str, Path], tmp_path: Path
) -> None:
    url, post = preview
    original = post.read_text(encoding="utf-8")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.evaluate("window.notReloaded = true")
        page.locator("#issue-4").scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, 137)")
        scrolled = page.evaluate("window.scrollY")
        heading = page.locator("#issue-5 h2")

        # The post: a heading edited shows without a reload, where the reader was.
        start = saved(post, original.replace("Improved Body Awareness", "Better Body Awareness"))
        heading.filter(has_text="Better Body Awareness").wait_for(timeout=5000)
        latency = time.monotonic() - start
        print(f"reload latency in Chromium: {latency * 1000:.0f} ms")
        assert latency < RELOAD_BUDGET
        assert page.evaluate("window.notReloaded") is True
        assert abs(page.evaluate("window.scrollY") - scrolled) <= 1

        # A broken post: its one-line error in the page, then back on the next save.
        start = saved(post, "just one line, no sections at all\n")
        error = page.get_by_role("alert")
        error.wait_for(timeout=5000)
        assert time.monotonic() - start < RELOAD_BUDGET
        assert "found no sections in" in error.inner_text()
        assert "\n" not in error.inner_text().strip()
        start = saved(post, original)
        error.wait_for(state="detached", timeout=5000)
        heading.filter(has_text="Improved Body Awareness").wait_for(timeout=5000)
        assert time.monotonic() - start < RELOAD_BUDGET
        assert page.evaluate("window.notReloaded") is True

        # The settings file: a hashtag in every caption.
        start = saved(tmp_path / "newsletter.toml", '[social]\nhashtags = ["QuietMind"]\n')
        page.locator("#caption-1-mastodon").filter(has_text="#QuietMind").wait_for(timeout=5000)
        assert time.monotonic() - start < RELOAD_BUDGET
        saved(tmp_path / "newsletter.toml", "[social\n")  # broken settings: the same
        error.wait_for(timeout=5000)
        assert "newsletter.toml" in error.inner_text()
        saved(tmp_path / "newsletter.toml", '[social]\nhashtags = ["QuietMind"]\n')
        error.wait_for(state="detached", timeout=5000)

        # A template override in ./templates: the email in the frame changes.
        (tmp_path / "templates").mkdir()
        start = saved(
            tmp_path / "templates" / "email.txt.j2",
            "Edited text template\n{{ newsletter.postal_address }} {{ unsubscribe_url }}\n",
        )
        page.locator("#text-1 summary").click()
        page.locator("#issue-1 pre.text").filter(has_text="Edited text template").wait_for(
            timeout=5000
        )
        assert time.monotonic() - start < RELOAD_BUDGET

        # `schedule` in another terminal: the calendar shows the queued times, live and on reload.
        os.utime(post)
        r = subprocess.run(
            [sys.executable, "-m", "newsletter", "schedule", str(post), *ACCEPT],
            cwd=tmp_path,
            env={**os.environ, "NEWSLETTER_NOW": NOW, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        calendar = page.locator("#calendar")
        calendar.filter(has_text="Queued in").wait_for(timeout=5000)
        page.reload()
        assert "Queued in" in calendar.inner_text()
        assert "Mon 2026-12-07 09:00 GMT" in calendar.locator("tbody tr").first.inner_text()
        assert "scheduled" in calendar.locator("tbody tr").first.inner_text()


@pytest.mark.parametrize("width", [390, 768, 1280])
def test_the_page_fits_the_screen_and_anchors_land_below_the_bar(
    unchanged: tuple[str, Browser], width: int
) -> None:
    url, browser = unchanged
    with contextlib.closing(browser.new_page(viewport={"width": width, "height": 800})) as page:
        page.goto(url)
        page.locator("#issue-1 iframe.phone").first.wait_for()
        sizes = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        print(f"scrollWidth at {width} px: {sizes[0]}")
        assert sizes[0] == sizes[1] == width
        page.locator("nav.issues a[href='#issue-3']").click()
        page.wait_for_function("location.hash === '#issue-3'")
        page.wait_for_timeout(100)
        bar = page.locator("nav.issues").bounding_box()
        top = page.locator("#issue-3").bounding_box()
        assert bar is not None and top is not None
        assert top["y"] >= bar["y"] + bar["height"] - 0.5


def test_the_reader_and_each_issues_warnings_are_shown(unchanged: tuple[str, Browser]) -> None:
    url, browser = unchanged
    with contextlib.closing(browser.new_page()) as page:
        page.goto(url)
        reader = page.locator("#reader").inner_text()
        assert "Reader\ntext" in reader.replace("\t", "\n")
        assert "5 sections" in reader and "5 warnings" in reader
        assert "Chelsa Connolly" in reader
        issue3 = page.locator("#issue-3 .warnings").inner_text()
        assert "line 46: paragraph starts lowercase ('he second mechanism" in issue3
        assert "line 62" not in issue3
        assert (
            "line 62: link text with no link: 'check out this article'"
            in page.locator("#issue-4 .warnings").inner_text()
        )
        assert (
            "line 70: link text with no link: 'click here'"
            in page.locator("#issue-5 .warnings").inner_text()
        )
        assert page.locator("#issue-1 .warnings").count() == 0
