"""`newsletter preview`: a local web page with every issue, its plain text, captions and calendar.

The page is built by a pure function from values (`PreviewData`); the server only maps URLs to
the built pages, rebuilding when the post file changes so a writer can edit and reload. It binds
to 127.0.0.1 unless told otherwise: the preview shows unsent mail and is nobody else's business.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import escape

from .errors import NewsletterError
from .model import Series, TextWarning

SAMPLE_NAME = "Sam Reader"
SAMPLE_UNSUBSCRIBE = "#unsubscribe-preview"


@dataclass(frozen=True)
class PreviewIssue:
    number: int
    title: str
    subject: str
    preheader: str
    html: str
    text: str
    captions: dict[str, str]
    caption_counts: dict[str, tuple[int, int]]  # platform -> (counted length, limit)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class CalendarRow:
    number: int
    title: str
    when: str  # local time as the writer reads it
    state: str  # "not scheduled", "scheduled", "sending", "sent", ...


@dataclass(frozen=True)
class PreviewData:
    title: str
    author: str | None
    source: str
    issues: tuple[PreviewIssue, ...]
    calendar: tuple[CalendarRow, ...] = ()
    calendar_note: str = ""
    warnings: tuple[TextWarning, ...] = ()
    platforms: tuple[str, ...] = field(default_factory=tuple)


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: resources.files("newsletter").joinpath("web", name).read_text("utf-8")
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


_DARK_QUERY = re.compile(r"\(\s*prefers-color-scheme\s*:\s*dark\s*\)")


def dark_variant(html: str) -> str:
    """The email as a client in dark mode shows it: its dark-scheme CSS applied unconditionally.

    Chromium does not hand an iframe's `color-scheme` down to `prefers-color-scheme`, so the
    preview cannot ask the browser to pretend; it turns the email's own dark media query on.
    """
    html = _DARK_QUERY.sub("all", html)
    return html.replace("color-scheme: light dark", "color-scheme: dark")


def build_pages(data: PreviewData) -> dict[str, tuple[str, bytes]]:
    """Every URL of the preview mapped to (content type, body)."""
    page = _env().get_template("preview.html.j2").render(data=data)
    pages: dict[str, tuple[str, bytes]] = {"/": ("text/html; charset=utf-8", page.encode())}
    for issue in data.issues:
        pages[f"/issue/{issue.number}.html"] = ("text/html; charset=utf-8", issue.html.encode())
        pages[f"/issue/{issue.number}-dark.html"] = (
            "text/html; charset=utf-8",
            dark_variant(issue.html).encode(),
        )
        pages[f"/issue/{issue.number}.txt"] = ("text/plain; charset=utf-8", issue.text.encode())
    return pages


def preview_data(
    series: Series,
    settings: object,
    calendar: tuple[CalendarRow, ...] = (),
    calendar_note: str = "",
) -> PreviewData:
    """Render every issue once and gather its captions: what the page shows."""
    from .captions import PLATFORMS, caption_length, captions_for_issue, limit_for
    from .config import Settings
    from .personalize import personalize
    from .render import render_series

    assert isinstance(settings, Settings)
    emails = render_series(series, settings)
    issues = []
    for issue, email in zip(series.issues, emails, strict=True):
        html, text = personalize(email, name=SAMPLE_NAME, unsubscribe_url=SAMPLE_UNSUBSCRIBE)
        captions = captions_for_issue(series, issue, settings)
        counts = {p: (caption_length(p, c), limit_for(p, settings)) for p, c in captions.items()}
        issues.append(
            PreviewIssue(
                number=issue.number,
                title=issue.title,
                subject=email.subject,
                preheader=email.preheader,
                html=html,
                text=text,
                captions=captions,
                caption_counts=counts,
                warnings=email.warnings,
            )
        )
    return PreviewData(
        title=series.post.title,
        author=series.post.author,
        source=series.post.source,
        issues=tuple(issues),
        calendar=calendar,
        calendar_note=calendar_note,
        warnings=series.post.warnings,
        platforms=PLATFORMS,
    )


def changed(path: Path) -> Callable[[], bool]:
    """A check that says True once each time the file at `path` has changed since the last."""

    def mtime() -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    seen = [mtime()]

    def check() -> bool:
        current = mtime()
        if current == seen[0]:
            return False
        seen[0] = current
        return True

    return check


class PreviewServer(ThreadingHTTPServer):
    """Serves the pages that `build` returns; `build` is called again when `stale()` says so."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        build: Callable[[], dict[str, tuple[str, bytes]]],
        stale: Callable[[], bool] = lambda: False,
    ) -> None:
        self._build = build
        self._stale = stale
        self._lock = threading.Lock()
        self._pages = build()
        self.last_error: str | None = None
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def page(self, path: str) -> tuple[str, bytes] | None:
        with self._lock:
            if path == "/" and self._stale():
                try:
                    self._pages = self._build()
                    self.last_error = None
                except NewsletterError as e:  # shown in the page; the server stays up
                    self.last_error = str(e)
            if path == "/" and self.last_error:
                body = (
                    "<!doctype html><meta charset=utf-8><title>Preview error</title>"
                    f"<p role=alert>{escape(self.last_error)}</p>"
                )
                return "text/html; charset=utf-8", body.encode()
            return self._pages.get(path)


class _Handler(BaseHTTPRequestHandler):
    server: PreviewServer

    def do_GET(self) -> None:
        found = self.server.page(self.path.split("?", 1)[0])
        if found is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        ctype, body = found
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the terminal shows the URL, not every request."""
