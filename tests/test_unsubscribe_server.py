"""The unsubscribe endpoint over real HTTP: GET asks, POST unsubscribes, forgeries change nothing.

Each test starts the real server on 127.0.0.1 port 0 in a thread, in front of a real outbox with
one issue queued, and talks to it with urllib (no proxy, no mocks).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import pytest

from newsletter.outbox import Outbox
from newsletter.unsubscribe import load_secret, make_token, unsubscribe_url
from newsletter.unsubscribe_server import Endpoint, Suppression, UnsubscribeServer, endpoint
from tests.workspace import T0, Workspace, iso, one_line_error, one_pending

ADA = "ada.lovelace+news@example.com"
BOB = "bob@example.com"
ONE_CLICK = b"List-Unsubscribe=One-Click"


@dataclass
class Reply:
    status: int
    content_type: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def fetch(url: str, *, method: str = "GET", data: bytes | None = None) -> Reply:
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with _opener.open(request, timeout=5) as response:
            return Reply(
                response.status,
                response.headers.get_content_type(),
                response.read().decode("utf-8"),
                dict(response.headers),
            )
    except urllib.error.HTTPError as e:
        with e:
            return Reply(e.code, e.headers.get_content_type(), e.read().decode(), dict(e.headers))


@dataclass
class Served:
    """A running server, the workspace behind it, and the lines it reported."""

    ws: Workspace
    server: UnsubscribeServer
    site: Endpoint
    lines: list[str]

    def link(self, address: str) -> str:
        """The reader's link as sent, pointed at this server (what the reverse proxy does)."""
        sent = unsubscribe_url(self.ws.settings(), address, self.site.secret)
        assert sent.startswith("https://example.com/unsubscribe?")
        parts = urlsplit(sent)
        return urljoin(self.server.url, f"{parts.path}?{parts.query}")

    def suppressed(self, address: str) -> bool:
        with Outbox.open(self.ws.outbox) as ob:
            return ob.is_suppressed(address)

    def states(self) -> dict[str, str]:
        with Outbox.open(self.ws.outbox) as ob:
            return {str(r["email"]): str(r["state"]) for r in ob.deliveries()}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    ws = Workspace(tmp_path, None)
    with Outbox.open(ws.outbox) as ob:
        one_pending(ob, ADA, BOB, "carol@example.com")
        secret = load_secret(ob, {})  # the generated one, as the sender uses it
    site = endpoint(ws.settings(), secret)
    lines: list[str] = []

    def report(done: Suppression) -> None:
        lines.append(f"{done.reason}: {done.address} {done.added} {done.cancelled}")

    server = UnsubscribeServer(("127.0.0.1", 0), site, clock=lambda: T0, on_unsubscribe=report)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Served(ws, server, site, lines)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()


def test_one_click_post_suppresses_and_cancels_the_queued_delivery(served: Served) -> None:
    reply = fetch(served.link(ADA), method="POST", data=ONE_CLICK)
    assert (reply.status, reply.content_type) == (200, "text/plain")
    assert reply.text == "unsubscribed from Body & Mind Notes\n"
    assert reply.headers["Cache-Control"] == "no-store"
    assert served.suppressed(ADA)
    assert served.states() == {ADA: "suppressed", BOB: "pending", "carol@example.com": "pending"}
    assert served.lines == [f"one-click: {ADA} True 1"]
    code, out, err = served.ws.cli("status", "--json", now=iso(T0))
    assert code == 0, err
    [row] = json.loads(out)["issues"]
    assert (row["suppressed"], row["pending"]) == (1, 2)
    # A repeat (providers retry) is fine and changes nothing more.
    assert fetch(served.link(ADA), method="POST", data=ONE_CLICK).status == 200
    assert served.lines[1:] == [f"one-click: {ADA} False 0"]


def test_get_only_asks_and_the_page_button_unsubscribes(served: Served) -> None:
    url = served.link(ADA)
    page = fetch(url)
    assert (page.status, page.content_type) == (200, "text/html")
    assert f"Unsubscribe {ADA} from Body &amp; Mind Notes?" in page.text
    assert not served.suppressed(ADA) and served.lines == []
    # The form posts the same link back; its button is the only field.
    form = re.search(r'<form method="post" action="([^"]*)">', page.text)
    assert form is not None
    action = urljoin(url, form.group(1).replace("&amp;", "&"))
    assert action == url
    done = fetch(action, method="POST", data=b"confirm=yes")
    assert (done.status, done.content_type) == (200, "text/html")
    assert "You are unsubscribed" in done.text and ADA in done.text
    assert served.suppressed(ADA)
    again = fetch(action, method="POST", data=b"confirm=yes")
    assert again.status == 200 and "You are unsubscribed" in again.text
    assert served.lines == [f"page: {ADA} True 1", f"page: {ADA} False 0"]


def test_head_answers_like_get_without_a_body_and_changes_nothing(served: Served) -> None:
    head = fetch(served.link(ADA), method="HEAD")
    assert (head.status, head.content_type, head.text) == (200, "text/html", "")
    assert int(head.headers["Content-Length"]) > 0
    assert not served.suppressed(ADA)


def test_markup_in_the_address_is_escaped_even_when_signed(served: Served) -> None:
    evil = '"><script>alert(1)</script>@example.com'
    raw_query = f"e={evil}&t={make_token(evil, served.site.secret)}"  # `<` and `"` unencoded
    page = fetch(f"{served.server.url}?{raw_query}")
    assert page.status == 200
    assert "<script>" not in page.text and '"><script' not in page.text
    assert (
        "Unsubscribe &#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@example.com from" in page.text
    )
    assert 'action="?e=&#34;&gt;&lt;script&gt;' in page.text  # the attribute cannot be closed
    # Unsigned, it is not even echoed.
    forged = fetch(f"{served.server.url}?e=<b>x</b>@example.com&t=nope")
    assert forged.status == 400
    assert "not valid" in forged.text and "<b>" not in forged.text and "x</b>" not in forged.text


def test_forged_or_missing_token_changes_nothing(served: Served) -> None:
    ada_token = parse_qs(urlsplit(served.link(ADA)).query)["t"][0]
    someone_else = f"{served.server.url}?e={quote(BOB)}&t={ada_token}"
    no_token = f"{served.server.url}?e={quote(BOB)}"
    doubled = served.link(ADA) + f"&e={quote(BOB)}"
    for url in (someone_else, no_token, doubled, served.server.url):
        reply = fetch(url, method="POST", data=ONE_CLICK)
        assert (reply.status, reply.content_type) == (400, "text/plain"), url
        page = fetch(url, method="POST", data=b"confirm=yes")
        assert page.status == 400 and "This unsubscribe link is not valid" in page.text
        shown = fetch(url)
        assert shown.status == 400 and "This unsubscribe link is not valid" in shown.text
    assert not served.suppressed(BOB) and not served.suppressed(ADA)
    assert set(served.states().values()) == {"pending"}
    assert served.lines == []


def test_only_the_configured_path_is_served(served: Served) -> None:
    query = urlsplit(served.link(ADA)).query
    origin = served.server.url.removesuffix("/unsubscribe")
    for path in ("/", "/unsubscribe/", "/unsubscribe/x", "/other", "/UNSUBSCRIBE"):
        assert fetch(f"{origin}{path}?{query}", method="POST", data=ONE_CLICK).status == 404
        assert fetch(f"{origin}{path}?{query}").status == 404
    assert not served.suppressed(ADA)


def test_oversized_body_and_other_methods(served: Served) -> None:
    url = served.link(ADA)
    big = fetch(url, method="POST", data=ONE_CLICK + b"&pad=" + b"x" * 5000)
    assert big.status == 413
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        reply = fetch(url, method=method, data=ONE_CLICK if method != "OPTIONS" else None)
        assert reply.status == 405, method
        assert reply.headers["Allow"] == "GET, HEAD, POST"
    assert not served.suppressed(ADA) and served.lines == []


def test_concurrent_requests_each_commit(served: Served) -> None:
    readers = [f"reader{i}@example.com" for i in range(12)]
    statuses: list[int] = []

    def post(address: str) -> None:
        statuses.append(fetch(served.link(address), method="POST", data=ONE_CLICK).status)

    threads = [threading.Thread(target=post, args=(a,)) for a in readers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert statuses == [200] * len(readers)
    assert all(served.suppressed(a) for a in readers)
    assert len(served.lines) == len(readers)


# -- through the command line -------------------------------------------------------------------


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = ws.cli("unsubscribe-server", "--port", port, now=iso(T0))
    assert "try another --port" in one_line_error(code, err)
    assert f"127.0.0.1:{port}" in err


def test_a_site_url_that_is_not_a_url_is_one_line_and_exit_1(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    text = ws.config.read_text(encoding="utf-8")
    ws.config.write_text(text.replace('"https://example.com"', '"example.com"'), encoding="utf-8")
    code, _, err = ws.cli("unsubscribe-server", "--port", "0", now=iso(T0))
    assert "not an http(s) URL" in one_line_error(code, err)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_command_serves_sent_links_and_stops_on_ctrl_c_or_sigterm(
    tmp_path: Path, stop: signal.Signals
) -> None:
    ws = Workspace(tmp_path, None)
    with Outbox.open(ws.outbox) as ob:
        one_pending(ob, ADA)
        secret = load_secret(ob, {})
    saved = os.environ.pop("NEWSLETTER_SECRET", None)
    try:
        proc = ws.spawn("unsubscribe-server", "--port", "0", now=iso(T0))
    finally:
        if saved is not None:
            os.environ["NEWSLETTER_SECRET"] = saved
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
        found = re.search(r"at (http://127\.0\.0\.1:\d+/unsubscribe) \(Ctrl-C to stop\)", first)
        assert found, first
        sent = urlsplit(unsubscribe_url(ws.settings(), ADA, secret))
        reply = fetch(f"{found.group(1)}?{sent.query}", method="POST", data=ONE_CLICK)
        assert reply.status == 200
        assert (
            proc.stdout.readline().decode()
            == f"unsubscribed {ADA} (1 queued message(s) cancelled)\n"
        )
    finally:
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out.decode() == "stopped\n" and err == b""
    with Outbox.open(ws.outbox) as ob:
        assert ob.is_suppressed(ADA)
