"""Screenshots of built issues in headless Chromium, for the README and for review by eye.

`make screenshots` builds the sample post with `newsletter build` into a temporary folder and
writes three of issue 1 to docs/: email-desktop.png (800 px), email-phone.png (320 px) and
email-phone-dark.png (375 px, dark mode). `--review DIR` writes every issue at 320, 375, 600
and 800 px, light, dark and inline-only (the <style> blocks removed, as some webmail shows it).
Pictures are answered with a generated PNG; nothing else is fetched.

    python bench/screenshots.py [POST] [--issue N] [--out DIR] [--review DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from playwright.sync_api import sync_playwright

from newsletter import service
from newsletter.build import write_build
from newsletter.config import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.browser
from tests.browser import ARGS as BROWSER_ARGS
from tests.browser import CHROMIUM
from tests.test_render_browser import png

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "posts" / "massage-for-the-mental-health-of-it.txt"
ARGS = [*BROWSER_ARGS, "--font-render-hinting=none"]  # the tests' flags, steadier glyphs
Mode = Literal["light", "dark", "inline"]
SHOTS: list[tuple[str, int, Mode]] = [  # file, viewport width, mode
    ("email-desktop.png", 800, "light"),
    ("email-phone.png", 320, "light"),
    ("email-phone-dark.png", 375, "dark"),
]
REVIEW_WIDTHS = (320, 375, 600, 800)
REVIEW_MODES: tuple[Mode, ...] = ("light", "dark", "inline")
PICTURE = png(800, 500, (170, 120, 80))


def _route(r: Any) -> None:
    if r.request.url.startswith("file:"):
        r.continue_()
    elif r.request.resource_type == "image":
        r.fulfill(status=200, content_type="image/png", body=PICTURE)
    else:
        r.abort()


def shoot(shots: list[tuple[Path, Path, int, Mode]]) -> list[Path]:
    """Full-page PNGs: (email.html, PNG path, width, mode) each; no network."""
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for html, png_path, width, mode in shots:
                scheme: Literal["light", "dark"] = "dark" if mode == "dark" else "light"
                context = browser.new_context(
                    viewport={"width": width, "height": 800}, color_scheme=scheme
                )
                context.route("**/*", _route)
                page = context.new_page()
                page.goto(html.as_uri())
                page.wait_for_load_state("load")
                if mode == "inline":
                    page.evaluate("document.querySelectorAll('style').forEach((s) => s.remove())")
                png_path.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(png_path), full_page=True)
                context.close()
                written.append(png_path)
        finally:
            browser.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("post", nargs="?", default=str(SAMPLE), help="the post (default: sample)")
    parser.add_argument("--issue", type=int, default=1, help="which issue for docs/ (default 1)")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="folder for the three PNGs")
    parser.add_argument("--review", metavar="DIR", help="every issue, width and mode into DIR")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"screenshots: no Chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings()
        folder, _ = write_build(service.load_series(Path(args.post), settings), settings, Path(tmp))
        if args.review:
            out = Path(args.review) / folder.name
            shots = [
                (html, out / f"{html.parent.name[:2]}-{width}-{mode}.png", width, mode)
                for html in sorted(folder.glob("*/email.html"))
                for width in REVIEW_WIDTHS
                for mode in REVIEW_MODES
            ]
        else:
            found = sorted(folder.glob(f"{args.issue:02d}-*/email.html"))
            if not found:
                print(f"screenshots: the post has no issue {args.issue}", file=sys.stderr)
                return 1
            shots = [(found[0], Path(args.out) / name, w, mode) for name, w, mode in SHOTS]
        for path in shoot(shots):
            print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
