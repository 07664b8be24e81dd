"""Screenshots of one built issue in headless Chromium, for the README: `make screenshots`.

Builds the post with `newsletter build` into a temporary folder, opens the issue's email.html
at desktop (800 px) and phone (375 px) width, and in dark mode on the phone, and writes
docs/email-desktop.png, docs/email-phone.png and docs/email-phone-dark.png.

    python bench/screenshots.py [POST] [--issue N] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Literal

from playwright.sync_api import sync_playwright

from newsletter import service
from newsletter.build import write_build
from newsletter.config import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.browser
from tests.browser import ARGS as BROWSER_ARGS
from tests.browser import CHROMIUM

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "posts" / "massage-for-the-mental-health-of-it.txt"
ARGS = [*BROWSER_ARGS, "--font-render-hinting=none"]  # the tests' flags, steadier glyphs
SHOTS: list[tuple[str, int, Literal["light", "dark"]]] = [  # file, viewport width, scheme
    ("email-desktop.png", 800, "light"),
    ("email-phone.png", 375, "light"),
    ("email-phone-dark.png", 375, "dark"),
]


def shoot(html: Path, out: Path) -> list[Path]:
    """Full-page PNGs of `html`; no network (an email opened offline must look the same)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for name, width, scheme in SHOTS:
                context = browser.new_context(
                    viewport={"width": width, "height": 800}, color_scheme=scheme
                )
                context.route(
                    "**/*",
                    lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort(),
                )
                page = context.new_page()
                page.goto(html.as_uri())
                page.wait_for_load_state("load")
                page.screenshot(path=str(out / name), full_page=True)
                context.close()
                written.append(out / name)
        finally:
            browser.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("post", nargs="?", default=str(SAMPLE), help="the post (default: sample)")
    parser.add_argument("--issue", type=int, default=3, help="which issue (default 3)")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="folder for the PNGs")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"screenshots: no Chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings()
        folder, _ = write_build(service.load_series(Path(args.post), settings), settings, Path(tmp))
        found = sorted(folder.glob(f"{args.issue:02d}-*/email.html"))
        if not found:
            print(f"screenshots: the post has no issue {args.issue}", file=sys.stderr)
            return 1
        for path in shoot(found[0], Path(args.out)):
            print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
