"""Fetch a post's page by URL, for `newsletter split https://…`.

Standard library only (http.client), so reading a post from the web adds no dependency. The
fetch is deliberately defensive: it follows a few redirects but only to http/https, verifies TLS
certificates, keeps the whole fetch inside one deadline (a server trickling bytes cannot hold us),
stops reading past a size cap, and accepts only HTML. Every failure is one `PostError` line that
names the URL, since the user can only fix the address or try another one.

Proxies (HTTP_PROXY, HTTPS_PROXY) are not used: the page is fetched directly.
"""

from __future__ import annotations

import codecs
import contextlib
import http.client
import re
import socket
import ssl
import threading
import time
import zlib
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import SplitResult, quote, urljoin, urlsplit

from .. import __version__
from ..errors import PostError

# Names the tool and version so a site owner can tell it from a browser or a crawler.
USER_AGENT = (
    f"newsletter/{__version__} (turns a blog post into an email series; Python http.client)"
)
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_HEADERS = {
    "User-Agent": USER_AGENT,
    "Accept": "text/html, application/xhtml+xml;q=0.9, */*;q=0.1",
    "Accept-Encoding": "gzip",
    "Connection": "close",
}
_CHUNK = 64 * 1024
_META_WINDOW = 4096  # a <meta charset> further into the page than this is not looked for
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([a-z0-9][\w.:+-]*)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
# WHATWG: pages labelled latin-1 or ASCII are really windows-1252 (curly quotes in 0x80-0x9F),
# and gb2312 pages use the gbk superset.
_LABEL_UPGRADES = {"iso8859-1": "cp1252", "ascii": "cp1252", "gb2312": "gbk"}
_HTML_MARKERS = ("<!doctype html", "<html", "<head", "<body", "<title")


@dataclass(frozen=True)
class FetchedPage:
    """A fetched HTML page, decoded, as the readers take it."""

    url: str  # the final URL after redirects
    text: str  # the decoded HTML
    content_type: str  # e.g. "text/html"


def is_url(source: str) -> bool:
    """True for an http(s) address, so the CLI can tell a URL from a file path."""
    return source[:8].lower().startswith(("http://", "https://"))


class _Problem(Exception):
    """What went wrong with one request; `fetch_page` adds which URL it was."""


def fetch_page(
    url: str, *, timeout: float = 15.0, max_bytes: int = 5_000_000, max_redirects: int = 5
) -> FetchedPage:
    """Fetch `url` and decode it. `timeout` (seconds) bounds each connect and read *and* the
    whole fetch including redirects; `max_bytes` caps the body, before and after gzip.

    Raises PostError with one line naming the URL for anything that is not an HTML page.
    """
    deadline = time.monotonic() + timeout
    current = url
    try:
        _check_scheme(url, redirected=False)
        for redirects in range(max_redirects + 1):
            result = _request(current, deadline=deadline, timeout=timeout, max_bytes=max_bytes)
            if isinstance(result, FetchedPage):
                return result
            if redirects == max_redirects:
                break
            try:
                target = urljoin(current, result)
            except ValueError as e:
                raise _Problem(f"redirects to a broken address ({e})") from None
            _check_scheme(target, redirected=True)
            current = target
        raise _Problem(f"too many redirects (more than {max_redirects})")
    except _Problem as problem:
        where = _show(url) if current == url else f"{_show(url)} (redirected to {_show(current)})"
        raise PostError(f"{where}: {problem}") from None


def _check_scheme(url: str, *, redirected: bool) -> None:
    """Refuse file:, ftp:, data:, javascript: and the like: only the web is fetched."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as e:
        raise _Problem(f"not a valid address ({e})") from None
    if scheme in ("http", "https"):
        return
    if redirected:
        raise _Problem(f"redirects to {_show(url)}; only http and https addresses are followed")
    given = f", not {scheme}:" if scheme else " (the address has no http:// or https://)"
    raise _Problem(f"only http and https addresses can be fetched{given}")


class _Watchdog:
    """Cuts the connection at the deadline: a socket timeout only bounds each read, so a server
    sending one byte per second would otherwise keep us for as long as it likes."""

    def __init__(self, conn: http.client.HTTPConnection, seconds: float) -> None:
        self.fired = threading.Event()
        self._conn = conn
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def hold(self, sock: socket.socket) -> None:
        """Keep the connected socket: http.client drops `conn.sock` once a response that ends
        with the connection takes it over, and that response is exactly what may trickle."""
        self._sock = sock

    def _fire(self) -> None:
        self.fired.set()
        sock = self._sock or self._conn.sock  # conn.sock while connecting (the TLS handshake)
        if sock is not None:
            # the plain socket's shutdown, not SSLSocket's, so no TLS state is touched
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _request(url: str, *, deadline: float, timeout: float, max_bytes: int) -> FetchedPage | str:
    """One GET: the page, or the Location of a redirect (as sent, maybe relative)."""
    timed_out = f"timed out after {timeout:g} s"
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as e:
        raise _Problem(f"not a valid address ({e})") from None
    if not host:
        raise _Problem("the address has no host name")
    https = parts.scheme.lower() == "https"
    port = port or (443 if https else 80)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Problem(timed_out)
    conn = (
        http.client.HTTPSConnection(
            host, port, timeout=remaining, context=ssl.create_default_context()
        )
        if https
        else http.client.HTTPConnection(host, port, timeout=remaining)
    )
    watchdog = _Watchdog(conn, remaining)
    response: http.client.HTTPResponse | None = None
    try:
        conn.connect()
        watchdog.hold(conn.sock)
        # it may have fired while resolving or connecting, when there was no socket to cut
        if watchdog.fired.is_set():
            raise _Problem(timed_out)
        conn.request("GET", _request_target(parts), headers=_HEADERS)
        response = conn.getresponse()
        page = _read_response(response, url, max_bytes)
        if watchdog.fired.is_set():  # a cut connection can look like the end of the body
            raise _Problem(timed_out)
        return page
    except _Problem:
        if watchdog.fired.is_set():  # e.g. a body cut short by the watchdog
            raise _Problem(timed_out) from None
        raise
    except (OSError, http.client.HTTPException, UnicodeError) as e:
        if watchdog.fired.is_set():
            raise _Problem(timed_out) from None
        raise _Problem(_describe(e, host, port, timed_out)) from None
    finally:
        watchdog.cancel()
        if response is not None:  # it owns the socket once the server said it will close
            response.close()
        conn.close()


def _request_target(parts: SplitResult) -> str:
    """Path and query, percent-encoded where the address has spaces or non-ASCII letters."""
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return quote(target, safe="/?&=%:@!$'()*+,;~[]")


def _describe(e: Exception, host: str, port: int, timed_out: str) -> str:
    """One line for a network failure, in the user's terms rather than the socket's."""
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"the TLS certificate of {host} could not be verified ({e.verify_message})"
    if isinstance(e, ssl.SSLError):
        return f"TLS failed with {host} ({e.reason or e})"
    if isinstance(e, TimeoutError):
        return timed_out
    if isinstance(e, socket.gaierror):
        return f"cannot find the host {host} (DNS lookup failed)"
    if isinstance(e, ConnectionRefusedError):
        return f"connection refused by {host}:{port}"
    if isinstance(e, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(e, http.client.IncompleteRead):
        return "the connection closed before the whole page arrived"
    if isinstance(e, ConnectionResetError):
        return f"the connection was reset by {host}:{port}"
    if isinstance(e, UnicodeError):
        return f"the host name {host!r} is not valid"
    if isinstance(e, http.client.HTTPException):
        return f"the server's answer is not valid HTTP ({_one_line(str(e)) or type(e).__name__})"
    assert isinstance(e, OSError)
    return f"cannot connect to {host}:{port} ({e.strerror or _one_line(str(e))})"


def _read_response(
    response: http.client.HTTPResponse, url: str, max_bytes: int
) -> FetchedPage | str:
    """Check status, type and size before reading the body, so a refusal costs no download."""
    status = response.status
    if status in REDIRECT_STATUSES:
        location = (response.getheader("Location") or "").strip()
        if not location:
            raise _Problem(f"{_status(status, response.reason)} without a Location header")
        return _undo_latin1(location)
    if not 200 <= status < 300:
        raise _Problem(_status(status, response.reason))
    content_type = response.getheader("Content-Type") or ""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if content_type and media_type not in HTML_TYPES:
        raise _Problem(f"not HTML (the server sent {_one_line(media_type or content_type)})")
    if response.length is not None and response.length > max_bytes:
        raise _Problem(
            f"the page is too large ({_megabytes(response.length)}; "
            f"the limit is {_megabytes(max_bytes)})"
        )
    coding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    body = _read_body(response, coding, max_bytes)
    charset = _HEADER_CHARSET.search(content_type)
    text = _decode(body, charset.group(1) if charset else None)
    if not content_type and not _looks_like_html(text):
        raise _Problem("not HTML (no Content-Type, and the body does not look like HTML)")
    return FetchedPage(url=url, text=text, content_type=media_type or "text/html")


def _read_body(response: http.client.HTTPResponse, coding: str, max_bytes: int) -> bytes:
    """Read in chunks and stop past `max_bytes` (raw or unzipped), never holding much more."""
    too_large = _Problem(f"the page is larger than the {_megabytes(max_bytes)} limit")
    if coding in ("gzip", "x-gzip", "deflate"):
        unzip: zlib._Decompress | None = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib
    elif coding == "identity":
        unzip = None
    else:
        raise _Problem(f"the page is compressed as {_one_line(coding)!r}, which is not supported")
    body = bytearray()
    received = 0
    while chunk := response.read(_CHUNK):
        received += len(chunk)
        if received > max_bytes:
            raise too_large
        if unzip is None:
            body += chunk
            continue
        try:  # max_length: a small gzip bomb must not unzip into memory past the cap
            body += unzip.decompress(chunk, max_bytes + 1 - len(body))
        except zlib.error:
            raise _Problem(f"the {coding} body is corrupt") from None
        if len(body) > max_bytes:
            raise too_large
    if response.length:  # http.client's read(n) does not raise when the body stops early
        raise _Problem("the connection closed before the whole page arrived")
    if unzip is not None and not unzip.eof:
        raise _Problem(f"the {coding} body is cut short")
    return bytes(body)


def _decode(body: bytes, header_label: str | None) -> str:
    """BOM, then the Content-Type charset, then <meta>, then UTF-8, then windows-1252."""
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(bom_codec, "replace")
    codec = _codec(header_label) if header_label else None
    if codec is None and (meta := _META_CHARSET.search(body[:_META_WINDOW])):
        codec = _codec(meta.group(1).decode("ascii"))
        if codec is not None and codec.startswith(("utf-16", "utf-32")):
            codec = "utf-8"  # a <meta> readable as ASCII means the page cannot be UTF-16
    if codec is not None:
        return body.decode(codec, "replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", "replace")


def _codec(label: str) -> str | None:
    """Python's codec for a charset label, or None when unknown (or not a text encoding)."""
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
        b"a".decode(name, "replace")  # refuses base64, rot13 and other bytes-to-bytes codecs
    except (LookupError, UnicodeError, ValueError):
        return None
    return _LABEL_UPGRADES.get(name, name)


def _looks_like_html(text: str) -> bool:
    """For a server that sends no Content-Type: HTML starts with a tag and names one early."""
    head = text[:1024].lstrip().lower()
    return head.startswith("<") and any(marker in head for marker in _HTML_MARKERS)


def _status(status: int, reason: str) -> str:
    """ "404 Not Found", with the standard phrase when the server sends none."""
    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            return f"HTTP status {status}"
    return f"{status} {_one_line(reason)}"


def _undo_latin1(header: str) -> str:
    """http.client reads headers as latin-1; a Location with UTF-8 letters gets them back."""
    try:
        return header.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return header


def _megabytes(n: int) -> str:
    """5 MB, 12.3 MB, 0.1 MB: the unit the user thinks in, without float noise."""
    mb = n / 1_000_000
    text = f"{mb:.1f}" if mb >= 1 else f"{mb:.6f}"
    return (text.rstrip("0").rstrip(".") or "0") + " MB"


def _one_line(text: str) -> str:
    """Control characters percent-encoded, so a hostile header cannot break the error line."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: f"%{ord(m.group()):02X}", text)


def _show(url: str) -> str:
    """The URL as the error line shows it: one line, and not a page wide."""
    flat = _one_line(url)
    return flat if len(flat) <= 200 else flat[:199] + "…"
