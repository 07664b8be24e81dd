"""Split benchmark: reading and splitting a 300 KB web page, against trafilatura's extraction
alone on the same page, in the same run.

The page is built from our own test page (tests/pages/news-chrome.html): its article, padded
with the chrome real pages carry (menus, related cards, comments, scripts) to the size asked.
Times, as the median of several runs: trafilatura.extract (the extractor the HTML reader builds
on), and our whole `read_post` + `split_post` (extraction, the DOM walk, the outline), and the
copied-text reader on the same page's text. Prints each figure and the ratio.

    .venv/bin/python bench/split_bench.py [--kb 300] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lxml.html  # type: ignore[import-untyped]
import trafilatura

from newsletter.readers import read_post
from newsletter.series import split_post

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "tests" / "pages" / "news-chrome.html"

CHROME = """
<aside class="related"><h3><a href="/story/{n}">Ten things to know about story {n}</a></h3>
<p><a href="/story/{n}">A short teaser for another story, number {n}, with a link.</a></p></aside>
<div class="comment"><p class="author">Reader {n}</p><p>I read this and had a thought about
it, number {n}, which I share here in the comments below the article.</p></div>
<script>window.dataLayer = window.dataLayer || []; dataLayer.push({{"n": {n}}});</script>
<nav><ul><li><a href="/a{n}">Section A{n}</a></li>
<li><a href="/b{n}">Section B{n}</a></li></ul></nav>
"""


def padded_page(kb: int) -> str:
    """Our test page with chrome appended inside <body> until it weighs `kb` kilobytes."""
    html = PAGE.read_text(encoding="utf-8")
    head, tail = html.rsplit("</body>", 1)
    pad: list[str] = []
    n = 0
    size = len(html.encode())
    while size < kb * 1024:
        chunk = CHROME.format(n=n)
        pad.append(chunk)
        size += len(chunk.encode())
        n += 1
    return head + "".join(pad) + "</body>" + tail


def copied_text(html: str) -> str:
    """What selecting the page and copying it gives, roughly: each block's text on its own."""
    root = lxml.html.fromstring(html)
    blocks = root.xpath("//body//*[self::h1 or self::h2 or self::h3 or self::p or self::li]")
    return "\n\n".join(" ".join(b.text_content().split()) for b in blocks) + "\n"


def median_time(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm: imports, caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--kb", type=int, default=300, help="page size in KB (default 300)")
    ap.add_argument("--runs", type=int, default=7, help="timed runs per figure (default 7)")
    args = ap.parse_args()

    html = padded_page(args.kb)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(html, encoding="utf-8")
        text = Path(tmp) / "page.txt"
        text.write_text(copied_text(html), encoding="utf-8")

        series = split_post(read_post(str(page)))
        print(f"page: {len(html.encode()) / 1024:.0f} KB, {len(series.issues)} issues")
        extract = median_time(lambda: trafilatura.extract(html), args.runs)
        ours = median_time(lambda: split_post(read_post(str(page))), args.runs)
        copied = median_time(lambda: split_post(read_post(str(text))), args.runs)
    print(f"trafilatura.extract alone:        {extract * 1000:7.1f} ms")
    print(f"read_post + split_post (html):    {ours * 1000:7.1f} ms  ({ours / extract:.2f}x)")
    print(f"read_post + split_post (copied):  {copied * 1000:7.1f} ms")
    verdict = "well under" if ours < 0.5 else "under" if ours < 1 else "OVER"
    print(f"splitting a {args.kb} KB page: {verdict} a second")


if __name__ == "__main__":
    main()
