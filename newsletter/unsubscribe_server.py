"""`newsletter unsubscribe-server`: the endpoint behind every personal unsubscribe link.

GET never unsubscribes: mail scanners and link previewers fetch links nobody clicked, so a GET
only shows a page whose button POSTs back. A POST (that button, or a mail provider's RFC 8058
one-click request) whose token verifies adds the address to the outbox's suppression list.
It binds to 127.0.0.1 by default: a reverse proxy in front terminates HTTPS. It answers only its
own address, localhost and the public host of the unsubscribe links in `Host:` (DNS rebinding).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from markupsafe import Markup

from .config import Settings
from .errors import ConfigError, NewsletterError
from .links import unsubscribe_base_url
from .localhttp import LocalHandler, LocalServer
from .outbox import open_outbox
from .unsubscribe import address_from_url

BODY_MAX = 4096  # a one-click body is 26 bytes; anything past this is not for us
DRAIN_MAX = 64 * 1024  # oversized bodies up to this are read first, so the client sees the 413

_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),  # the URL holds the address and its token
    ("X-Robots-Tag", "noindex"),
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
)


@dataclass(frozen=True)
class Endpoint:
    """What the server answers for: one path, one newsletter, its outbox and signing secret."""

    path: str
    name: str
    outbox: Settings  # the settings that name the outbox (a file or a database)
    secret: bytes = field(repr=False)
    language: str = "en"
    hosts: tuple[tuple[str, int], ...] = ()  # the links' public (host, port): a proxy passes it


@dataclass(frozen=True)
class Suppression:
    """One unsubscribe request carried out, for the caller's log line."""

    address: str
    added: bool  # False: it was already on the list
    cancelled: int  # queued deliveries cancelled
    reason: str


@dataclass(frozen=True)
class Answer:
    status: HTTPStatus
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def endpoint(settings: Settings, secret: bytes) -> Endpoint:
    """The path of the configured unsubscribe URL, checked: the links already sent point there."""
    url = unsubscribe_base_url(settings)
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    if parts.scheme not in ("http", "https") or not parts.hostname or not port:
        raise ConfigError(
            f"{settings.source}: unsubscribe links would point to {url!r}, which is not an "
            "http(s) URL; set [newsletter] site_url or unsubscribe_url"
        )
    return Endpoint(
        path=parts.path or "/",
        name=settings.newsletter.name,
        outbox=settings,
        secret=secret,
        language=settings.newsletter.language,
        hosts=((parts.hostname, port),),
    )


# -- pages (pure) -------------------------------------------------------------------------------

_PAGE = Markup(
    '<!doctype html>\n<html lang="{lang}">\n<meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    '<meta name="robots" content="noindex">\n<title>{title}</title>\n'
    "<style>body{{font:1.1rem/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;"
    "padding:0 1rem}}button{{font:inherit;padding:.5rem 1.5rem;cursor:pointer}}</style>\n"
    "<main>\n{content}\n</main>\n</html>\n"
)


def _html(status: HTTPStatus, site: Endpoint, title: str, content: Markup) -> Answer:
    page = _PAGE.format(lang=site.language, title=title, content=content)
    return Answer(status, "text/html; charset=utf-8", page.encode("utf-8"))


def _text(status: HTTPStatus, text: str, headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    return Answer(status, "text/plain; charset=utf-8", (text + "\n").encode("utf-8"), headers)


def confirm_page(site: Endpoint, address: str, query: str) -> Answer:
    """The GET answer: a question and a button that POSTs the same link back."""
    content = Markup(
        "<h1>Unsubscribe {address} from {name}?</h1>\n"
        "<p>You will get no more emails from this newsletter.</p>\n"
        '<form method="post" action="?{query}">'
        '<button type="submit" name="confirm" value="yes">Unsubscribe</button></form>'
    ).format(address=address, name=site.name, query=query)
    return _html(HTTPStatus.OK, site, f"Unsubscribe from {site.name}", content)


def done_page(site: Endpoint, address: str) -> Answer:
    content = Markup(
        "<h1>You are unsubscribed</h1>\n<p>{address} will get no more emails from {name}.</p>"
    ).format(address=address, name=site.name)
    return _html(HTTPStatus.OK, site, "You are unsubscribed", content)


def invalid_page(site: Endpoint) -> Answer:
    """A forged or damaged link: say so without echoing what was sent."""
    content = Markup(
        "<h1>This unsubscribe link is not valid</h1>\n"
        "<p>It may have been cut short when it was copied. Open the link at the bottom of any "
        "issue of {name} again, or reply to an issue and ask to be unsubscribed.</p>"
    ).format(name=site.name)
    return _html(HTTPStatus.BAD_REQUEST, site, "Link not valid", content)


def busy_page(site: Endpoint) -> Answer:
    content = Markup(
        "<h1>Please try again</h1>\n<p>Your request could not be saved just now; nothing "
        "changed. Please try again in a minute.</p>"
    )
    return _html(HTTPStatus.SERVICE_UNAVAILABLE, site, "Please try again", content)


def is_form(body: bytes) -> bool:
    """The confirmation page's button (answered with a page), not a mail provider's one-click."""
    return parse_qs(body.decode("latin-1")).get("confirm") == ["yes"]


# -- the server ---------------------------------------------------------------------------------


class UnsubscribeServer(LocalServer):
    """Answers one path; each request that unsubscribes opens its own Outbox.

    Why a connection per request rather than one shared behind a lock: an sqlite3 connection
    belongs to the thread that opened it, and the outbox is shared with other processes
    (`newsletter run`) anyway, so SQLite's own locking (WAL, BEGIN IMMEDIATE, a 30 s busy
    timeout) must order the writers in any case. A Python lock would add nothing but a second
    queue. Opening costs far less than the network round trip, and `Outbox.suppress` is one
    transaction, so a crash or Ctrl-C leaves every suppression either whole or not begun.
    """

    daemon_threads = False  # server_close() lets the requests holding a commit finish it
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        site: Endpoint,
        *,
        clock: Callable[[], datetime],
        on_unsubscribe: Callable[[Suppression], None] = lambda s: None,
        on_error: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.site = site
        self._clock = clock
        self._on_unsubscribe = on_unsubscribe
        self._on_error = on_error
        self._report_lock = threading.Lock()  # one caller line at a time, never interleaved
        super().__init__(address, _Handler, public=site.hosts)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}{self.site.path}"

    def suppress(self, address: str, reason: str) -> Suppression:
        """Add `address` to the suppression list (one transaction), cancelling its queued mail."""
        with open_outbox(self.site.outbox, create=False) as outbox:
            added, cancelled = outbox.suppress(address, reason=reason, now=self._clock())
        done = Suppression(address, added, cancelled, reason)
        with self._report_lock:
            self._on_unsubscribe(done)
        return done

    def report_error(self, message: str) -> None:
        with self._report_lock:
            self._on_error(message)


class _Handler(LocalHandler):
    server: UnsubscribeServer
    server_version = "newsletter"
    sys_version = ""

    def do_GET(self) -> None:
        self._send(self._get(), body=True)

    def do_HEAD(self) -> None:
        """As GET without the body: link checkers use it, and it changes nothing either."""
        self._send(self._get(), body=False)

    def do_POST(self) -> None:
        body = self._read_body()
        if isinstance(body, Answer):
            self._send(body)
            return
        site = self.server.site
        if urlsplit(self.path).path != site.path:
            self._send(_text(HTTPStatus.NOT_FOUND, "not found"))
            return
        form = is_form(body)
        address = address_from_url(self.path, site.secret)
        if address is None:
            if form:
                self._send(invalid_page(site))
            else:
                self._send(_text(HTTPStatus.BAD_REQUEST, "this unsubscribe link is not valid"))
            return
        if not self.server.hold(self.connection):  # stopping: nothing begun, nothing lost
            self.close_connection = True
            self._send(_text(HTTPStatus.SERVICE_UNAVAILABLE, "try again later"))
            return
        try:
            self.server.suppress(address, "page" if form else "one-click")
        except NewsletterError as e:
            self.server.report_error(str(e))
            if form:
                self._send(busy_page(site))
            else:
                retry = (("Retry-After", "60"),)
                self._send(_text(HTTPStatus.SERVICE_UNAVAILABLE, "try again later", retry))
            return
        if form:
            self._send(done_page(site, address))
        else:
            self._send(_text(HTTPStatus.OK, f"unsubscribed from {site.name}"))

    def _not_allowed(self) -> None:
        if urlsplit(self.path).path != self.server.site.path:
            self._send(_text(HTTPStatus.NOT_FOUND, "not found"))
            return
        allow = (("Allow", "GET, HEAD, POST"),)
        self._send(_text(HTTPStatus.METHOD_NOT_ALLOWED, "use GET or POST", allow))

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed

    def _get(self) -> Answer:
        site = self.server.site
        target = urlsplit(self.path)
        if target.path != site.path:
            return _text(HTTPStatus.NOT_FOUND, "not found")
        address = address_from_url(self.path, site.secret)
        if address is None:
            return invalid_page(site)
        return confirm_page(site, address, target.query)

    def _read_body(self) -> bytes | Answer:
        """The request body, at most BODY_MAX bytes; an Answer when it cannot be taken."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return _text(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
        raw = (self.headers.get("Content-Length") or "0").strip()
        if not raw.isdigit():
            self.close_connection = True
            return _text(HTTPStatus.BAD_REQUEST, "bad Content-Length")
        length = int(raw)
        if length > BODY_MAX:
            self.close_connection = True
            if length <= DRAIN_MAX:  # unread bytes would make the close a reset, losing the 413
                self.rfile.read(length)
            return _text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"at most {BODY_MAX} bytes")
        body = self.rfile.read(length)
        if len(body) < length:  # the client hung up, or was cut off at a stop
            self.close_connection = True
            return _text(HTTPStatus.BAD_REQUEST, "the body was cut short")
        return body

    def _send(self, answer: Answer, *, body: bool = True) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in (*_HEADERS, *answer.headers):
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the terminal shows one line per unsubscribe, not every request."""
