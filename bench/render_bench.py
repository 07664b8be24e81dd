"""Render benchmark: render once per issue and substitute per recipient, against rendering per
recipient (what a template-per-message mail merge does), on the same list, in the same run.

For the sample post, times: rendering all five issues (Jinja2 -> MJML -> premailer), the
per-recipient substitution alone (`personalize`), and whole MIME messages (`build_message`)
for N recipients of one issue both ways. Prints each figure and the ratio.

    .venv/bin/python bench/render_bench.py [-n 200]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from newsletter.config import Settings
from newsletter.message import build_message
from newsletter.model import Email
from newsletter.personalize import personalize
from newsletter.readers import read_post
from newsletter.render import render_issue, render_series
from newsletter.series import split_post

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "posts" / "massage-for-the-mental-health-of-it.txt"
DATE = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)


def clock(fn: Callable[[], object], repeat: int) -> float:
    """Best-of-3 seconds per call of `fn`, over `repeat` calls."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - start) / repeat)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="recipients (default 200)")
    n = parser.parse_args().n
    settings = Settings()
    series = split_post(read_post(str(SAMPLE)))
    issue = series.issues[2]
    emails = render_series(series, settings)
    email = emails[2]
    people = [(f"reader{i}@example.com", f"Reader {i}") for i in range(n)]

    series_s = clock(lambda: render_series(series, settings), 3)
    issue_s = series_s / len(series.issues)
    subst_s = clock(lambda: personalize(email, name="Reader", unsubscribe_url="https://x/u"), 500)

    def message(rendered: Email, addr: str, name: str) -> None:
        build_message(
            rendered, settings, to_addr=addr, to_name=name,
            unsubscribe_url=f"https://example.com/u?t={addr}", unsubscribe_mailto=None, date=DATE,
        )  # fmt: skip

    def once() -> None:
        for addr, name in people:
            message(email, addr, name)

    def per_recipient() -> None:
        for addr, name in people:
            message(render_issue(series, issue, settings), addr, name)

    once_s = clock(once, 1)
    naive_s = clock(per_recipient, 1)
    print(f"sample post, {len(series.issues)} issues; HTML {len(email.html) / 1024:.1f} KB")
    print(f"render (Jinja2 -> MJML -> premailer): {issue_s * 1000:7.1f} ms per issue")
    print(f"personalize (substitution only):      {subst_s * 1e6:7.1f} µs per recipient")
    print(f"{n} messages, rendered once:          {once_s:7.2f} s  ({n / once_s:7.0f} msg/s)")
    print(f"{n} messages, rendered per recipient: {naive_s:7.2f} s  ({n / naive_s:7.0f} msg/s)")
    print(f"render once + substitute is {naive_s / once_s:.1f}x faster than rendering per message")


if __name__ == "__main__":
    main()
