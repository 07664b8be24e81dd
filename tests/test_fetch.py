"""fetch_page against real HTTP(S) servers on 127.0.0.1: each route below is one way a web
server can answer (or fail to), and each test checks the one-line error the user would see."""

from __future__ import annotations

import codecs
import gzip
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest

from newsletter import __version__
from newsletter.errors import PostError
from newsletter.readers.fetch import FetchedPage, fetch_page, is_url
from tests.web import PAGE, Handler, Web, page, redirect, send, serve


def fetch_error(url: str, **kwargs: Any) -> str:
    """The one-line message fetch_page raises, checked to be one line without chained noise."""
    with pytest.raises(PostError) as caught:
        fetch_page(url, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    return message


# -- success, charsets ------------------------------------------------------------------------


def test_page_with_charset_in_header(web: Web) -> None:
    body = "<html><body><p>Café crème</p></body></html>".encode("iso-8859-1")
    url = web.route("/post", page(body, content_type="text/html; charset=ISO-8859-1"))
    got = fetch_page(url)
    assert got == FetchedPage(url=url, text=body.decode("iso-8859-1"), content_type="text/html")
    _, headers = web.server.requests[0]
    assert headers["User-Agent"].startswith(f"newsletter/{__version__} ")
    assert headers["Accept-Encoding"] == "gzip"


def test_xhtml_is_html(web: Web) -> None:
    url = web.route("/x", page(content_type="Application/XHTML+XML"))
    assert fetch_page(url).content_type == "application/xhtml+xml"


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        pytest.param(
            b'<html><head><meta charset="windows-1252"></head><p>caf\xe9 \x80 \x93ok\x94</p>',
            "text/html",
            "café € “ok”",
            id="meta-charset",
        ),
        pytest.param(
            b'<html><head><meta http-equiv="Content-Type" content="text/html; '
            b'charset=iso-8859-1"></head><p>caf\xe9</p>',
            "text/html",
            "café",
            id="meta-http-equiv",
        ),
        pytest.param(
            "<html><p>café</p>".encode(),
            "text/html; charset=x-no-such-charset",
            "café",
            id="unknown",
        ),
        pytest.param(
            b'<html><meta charset="base64"><p>caf\xc3\xa9</p>', "text/html", "café", id="not-text"
        ),
        pytest.param(b"<html><p>caf\xc3\xa9</p>", "text/html", "café", id="utf8-default"),
        pytest.param(b"<html><p>caf\xe9 \x93</p>", "text/html", "café “", id="cp1252-fallback"),
        pytest.param(
            b"\xef\xbb\xbf<html><p>caf\xc3\xa9</p>",
            "text/html; charset=iso-8859-1",
            "café",
            id="utf8-bom-beats-header",
        ),
        pytest.param(
            codecs.BOM_UTF16_LE + "<html><p>café</p>".encode("utf-16-le"),
            "text/html",
            "café",
            id="utf16-bom",
        ),
    ],
)
def test_charset(web: Web, body: bytes, content_type: str, expected: str) -> None:
    url = web.route("/c", page(body, content_type=content_type))
    text = fetch_page(url).text
    assert expected in text
    assert not text.startswith("\ufeff")


def test_gzip_body(web: Web) -> None:
    body = "<html><p>zipped café</p></html>".encode()
    url = web.route("/z", page(gzip.compress(body), headers={"Content-Encoding": "gzip"}))
    assert fetch_page(url).text == body.decode()


def test_missing_content_type_is_sniffed(web: Web) -> None:
    html = web.route("/html", page(b"\n  <!DOCTYPE html><title>x</title>", content_type=None))
    pdf = web.route("/pdf", page(b"%PDF-1.4 binary stuff", content_type=None))
    assert fetch_page(html).content_type == "text/html"
    assert (
        fetch_error(pdf)
        == f"{pdf}: not HTML (no Content-Type, and the body does not look like HTML)"
    )


# -- redirects --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_relative_location(web: Web, status: int) -> None:
    final = web.route("/posts/new", page())
    start = web.route("/posts/old/", redirect(status, "../new"))
    got = fetch_page(start)
    assert got.url == final
    assert "<p>Hello</p>" in got.text


def test_redirect_absolute_chain(web: Web) -> None:
    final = web.route("/c", page())
    web.route("/b", redirect(302, final))
    start = web.route("/a", redirect(301, web.url("/b")))
    assert fetch_page(start, max_redirects=2).url == final
    assert fetch_error(start, max_redirects=1) == (
        f"{start} (redirected to {web.url('/b')}): too many redirects (more than 1)"
    )


def test_redirect_loop(web: Web) -> None:
    loop = web.route("/loop", redirect(302, "/loop"))
    assert fetch_error(loop) == f"{loop}: too many redirects (more than 5)"
    assert len(web.server.requests) == 6  # the first request and five redirects followed


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "ftp://127.0.0.1/post.html", "javascript:alert(1)"]
)
def test_redirect_to_other_scheme_is_refused(web: Web, target: str) -> None:
    url = web.route("/r", redirect(302, target))
    assert fetch_error(url) == (
        f"{url}: redirects to {target}; only http and https addresses are followed"
    )


def test_error_after_redirect_names_both_urls(web: Web) -> None:
    start = web.route("/moved", redirect(301, "/gone"))
    assert fetch_error(start) == f"{start} (redirected to {web.url('/gone')}): 404 Not Found"


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "reason"), [(404, "Not Found"), (500, "Internal Server Error")])
def test_http_error_status(web: Web, status: int, reason: str) -> None:
    url = web.route("/e", page(status=status))
    assert fetch_error(url) == f"{url}: {status} {reason}"


@pytest.mark.parametrize("content_type", ["application/pdf", "image/png"])
def test_not_html(web: Web, content_type: str) -> None:
    url = web.route("/f", page(b"\x89PNG or %PDF", content_type=content_type))
    assert fetch_error(url) == f"{url}: not HTML (the server sent {content_type})"


def test_too_large_by_content_length_is_refused_before_reading(web: Web) -> None:
    def huge(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", "6000000")
        h.end_headers()
        h.wfile.write(b"<html>")
        web.stop.wait(5)  # the rest never comes: reading it would time out instead

    url = web.route("/big", huge)
    assert fetch_error(url, timeout=3) == f"{url}: the page is too large (6 MB; the limit is 5 MB)"


@pytest.mark.parametrize("framing", ["close-delimited", "chunked"])
def test_too_large_without_content_length_stops_reading(web: Web, framing: str) -> None:
    def endless(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        if framing == "chunked":
            h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        block = b"<p>" + b"x" * 8188 + b"</p>"
        for _ in range(250):  # 2 MB: a fetch that reads on gets a page back and fails the test
            if web.stop.is_set():
                break
            h.wfile.write(b"%x\r\n%s\r\n" % (len(block), block) if framing == "chunked" else block)

    url = web.route("/endless", endless)
    assert fetch_error(url, max_bytes=100_000, timeout=3) == (
        f"{url}: the page is larger than the 0.1 MB limit"
    )


def test_exactly_max_bytes_is_accepted(web: Web) -> None:
    body = b"<html>" + b"x" * 994
    url = web.route("/edge", page(body, length=False))
    assert len(fetch_page(url, max_bytes=1000).text) == 1000
    assert "larger than the 0.000999 MB limit" in fetch_error(url, max_bytes=999)


def test_gzip_bomb_stops_at_the_limit(web: Web) -> None:
    bomb = gzip.compress(b"<html>" + b" " * 20_000_000, compresslevel=1)
    assert len(bomb) < 1_000_000
    url = web.route("/bomb", page(bomb, headers={"Content-Encoding": "gzip"}))
    assert fetch_error(url, max_bytes=1_000_000) == f"{url}: the page is larger than the 1 MB limit"


def test_body_shorter_than_content_length(web: Web) -> None:
    def short(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", "1000")
        h.end_headers()
        h.wfile.write(b"<html>only this")

    url = web.route("/short", short)
    assert fetch_error(url) == f"{url}: the connection closed before the whole page arrived"


# -- slow servers -----------------------------------------------------------------------------


def test_server_slow_to_answer_times_out(web: Web) -> None:
    def sleepy(h: Handler) -> None:
        web.stop.wait(3)
        send(h, PAGE)

    url = web.route("/sleepy", sleepy)
    started = time.monotonic()
    assert fetch_error(url, timeout=0.5) == f"{url}: timed out after 0.5 s"
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("where", ["headers", "body"])
def test_trickling_server_hits_the_total_deadline(web: Web, where: str) -> None:
    """One byte every 50 ms never trips a per-read timeout; only the total deadline stops it."""

    def trickle(h: Handler) -> None:
        if where == "body":
            h.send_response(200)
            h.send_header("Content-Type", "text/html")
            h.end_headers()
            h.wfile.write(b"<html>")
        else:
            h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(60):  # 3 s at most, so a fetch without a deadline fails instead of hanging
            if web.stop.wait(0.05):
                break
            h.wfile.write(b"x")

    url = web.route("/trickle", trickle)
    started = time.monotonic()
    assert fetch_error(url, timeout=0.5) == f"{url}: timed out after 0.5 s"
    assert time.monotonic() - started < 1.5


# -- addresses and connections ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("ftp://example.com/post.html", "ftp"),
        ("file:///etc/passwd", "file"),
        ("data:text/html,<p>hi</p>", "data"),
        ("javascript:alert(1)", "javascript"),
    ],
)
def test_other_schemes_are_refused(url: str, scheme: str) -> None:
    assert fetch_error(url) == (
        f"{url}: only http and https addresses can be fetched, not {scheme}:"
    )


def test_address_without_host() -> None:
    assert fetch_error("http:///post") == "http:///post: the address has no host name"


def test_connection_refused() -> None:
    with socket.socket() as reserved:  # bound but not listening: connecting is refused
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        url = f"http://127.0.0.1:{port}/post"
        assert fetch_error(url, timeout=2) == f"{url}: connection refused by 127.0.0.1:{port}"


def test_self_signed_certificate_is_refused(tls_cert: tuple[Path, Path]) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_cert)
    for web in serve(context):
        url = web.route("/post", page())
        assert fetch_error(url, timeout=3) == (
            f"{url}: the TLS certificate of 127.0.0.1 could not be verified "
            "(self-signed certificate)"
        )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("http://example.com/post", True),
        ("https://example.com/post", True),
        ("HTTPS://Example.com/", True),
        ("Http://example.com", True),
        ("posts/post.html", False),
        ("ftp://example.com/post", False),
        ("file:///tmp/post.html", False),
        ("https:post", False),
        ("", False),
    ],
)
def test_is_url(source: str, expected: bool) -> None:
    assert is_url(source) is expected
