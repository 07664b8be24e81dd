"""`newsletter preview`: a local web page with every issue, its plain text, captions and calendar.

The page is built by a pure function from values (`PreviewData`); the server only maps URLs to
the built pages. A watcher thread looks at the files the page is made of (the post, the settings,
the templates, the outbox) every tenth of a second; when one changes it rebuilds and tells every
open page through server-sent events (`/events`), and the page swaps in the new content where
the reader was scrolled. A build that fails keeps the last good pages under its one-line error.
It binds to 127.0.0.1 unless told otherwise: the preview shows unsent mail and is nobody else's
business.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import escape

from .errors import NewsletterError
from .localhttp import LocalHandler, LocalServer
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
    post_warnings: tuple[TextWarning, ...] = ()  # the post's warnings in this issue's text


@dataclass(frozen=True)
class CalendarRow:
    number: int
    title: str
    when: str  # local time as the writer reads it
    state: str  # "not scheduled", "scheduled", "sending", "sent", ...


@dataclass(frozen=True)
class ReaderSummary:
    """Which reader read the post, and what it found there."""

    reader: str  # markdown | html | text
    source: str
    title: str
    author: str | None
    url: str | None
    date: str | None
    sections: int
    intro: bool
    conclusion: bool
    references: int
    warnings: int


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
    reader: ReaderSummary | None = None


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


def warnings_by_issue(series: Series) -> dict[int, tuple[TextWarning, ...]]:
    """Each post warning under the issue whose text holds its line: the section starting at or
    before it (the intro's go to issue 1, the conclusion's and references' to the last)."""
    starts = [s.line for s in series.post.sections]
    found: dict[int, list[TextWarning]] = {}
    for w in series.post.warnings:
        index = max((i for i, line in enumerate(starts) if 0 < line <= w.line), default=0)
        number = min(index + 1, len(series.issues))
        found.setdefault(number, []).append(w)
    return {n: tuple(ws) for n, ws in found.items()}


def preview_data(
    series: Series,
    settings: object,
    calendar: tuple[CalendarRow, ...] = (),
    calendar_note: str = "",
    reader: ReaderSummary | None = None,
) -> PreviewData:
    """Render every issue once and gather its captions: what the page shows."""
    from .captions import PLATFORMS, caption_length, captions_for_issue, limit_for
    from .config import Settings
    from .personalize import personalize
    from .render import render_series

    assert isinstance(settings, Settings)
    emails = render_series(series, settings)
    by_issue = warnings_by_issue(series)
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
                post_warnings=by_issue.get(issue.number, ()),
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
        reader=reader,
    )


def _snapshot(paths: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    """(name, mtime_ns, size) of every file at or under `paths`; a missing one counts too."""
    found = []
    for path in paths:
        try:
            files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        except OSError:
            files = [path]
        for f in files:
            try:
                st = f.stat()
                found.append((str(f), st.st_mtime_ns, st.st_size))
            except OSError:
                found.append((str(f), 0, -1))
    return tuple(found)


def changed(paths: Path | Callable[[], Iterable[Path]]) -> Callable[[], bool]:
    """A check that says True once each time a file at or under `paths` (a path, or a function
    giving the paths to watch now) has changed since the last."""
    watched = (lambda: (paths,)) if isinstance(paths, Path) else paths
    seen = [_snapshot(watched())]

    def check() -> bool:
        current = _snapshot(watched())
        if current == seen[0]:
            return False
        seen[0] = current
        return True

    return check


class PreviewServer(LocalServer):
    """Serves the pages that `build` returns; `build` is called again when `stale()` says so,
    checked every `poll` seconds and on every load of the page, and each open page is told.

    Only its own address and localhost (with its port) are answered: DNS rebinding."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        build: Callable[[], dict[str, tuple[str, bytes]]],
        stale: Callable[[], bool] = lambda: False,
        *,
        poll: float = 0.1,
    ) -> None:
        self._build = build
        self._stale = stale
        self._changes = threading.Condition()
        self._pages = build()
        self._closing = threading.Event()
        self.last_error: str | None = None
        self.version = 1
        super().__init__(address, _Handler)
        self._watcher = threading.Thread(
            target=self._watch, args=(poll,), name="preview-watch", daemon=True
        )
        self._watcher.start()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    def _watch(self, poll: float) -> None:
        while not self._closing.wait(poll):
            self.refresh()

    def refresh(self) -> bool:
        """Rebuild if a watched file changed; True when it did (and the open pages were told)."""
        with self._changes:
            if not self._stale():
                return False
            try:
                self._pages = self._build()
                self.last_error = None
            except NewsletterError as e:  # shown in the page; the server stays up
                self.last_error = " ".join(str(e).split())
            self.version += 1
            self._changes.notify_all()
            return True

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """The version after it differs from `seen`, or after `timeout` seconds."""
        with self._changes:
            self._changes.wait_for(lambda: self.version != seen or self.closing, timeout)
            return self.version

    def server_close(self) -> None:
        self._closing.set()
        with self._changes:
            self._changes.notify_all()
        super().server_close()

    def page(self, path: str) -> tuple[str, bytes] | None:
        if path == "/":
            self.refresh()
        with self._changes:
            found = self._pages.get(path)
            if path != "/" or found is None:
                return found
            ctype, body = found
            body = body.replace(b'data-version="0"', f'data-version="{self.version}"'.encode(), 1)
            if self.last_error:
                banner = f'<body><p role="alert" class="build-error">{escape(self.last_error)}</p>'
                body = body.replace(b"<body>", banner.encode(), 1)
            return ctype, body


class _Handler(LocalHandler):
    server: PreviewServer

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/events":
            self._events(query)
            return
        found = self.server.page(path)
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

    def _events(self, query: str) -> None:
        """Server-sent events: the page's version each time it changes (`since` is the one the
        page was built at, so a change during a reconnect is not missed)."""
        since = re.search(r"(?:^|&)since=(\d+)", query)
        seen = int(since.group(1)) if since else self.server.version
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        try:
            self.wfile.write(b"retry: 300\n\n")
            self.wfile.flush()
            while not self.server.closing:
                version = self.server.wait_for_change(seen, 10)
                if version != seen:
                    seen = version
                    self.wfile.write(f"data: {version}\n\n".encode())
                else:
                    self.wfile.write(b": still here\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the terminal shows the URL, not every request."""
