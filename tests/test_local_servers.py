"""Both local servers over real sockets: only their own `Host:` is answered (DNS rebinding), a
client that sends nothing is cut off by the read timeout, and stopping takes under 2 s with one
connected.
"""

from __future__ import annotations

import http.client
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.config import settings_from_dict
from newsletter.localhttp import Hosts, host_port
from newsletter.outbox import Outbox
from newsletter.preview import PreviewServer, build_pages, preview_data
from newsletter.readers import read_post
from newsletter.series import split_post
from newsletter.unsubscribe import load_secret
from newsletter.unsubscribe_server import UnsubscribeServer, endpoint
from tests.helpers import SAMPLE
from tests.workspace import T0, Workspace, iso, one_pending

STOP_BUDGET = 2.0  # seconds: the requirement for stopping with a silent client connected
PREVIEW_ROUTES = ("/", "/issue/1.html", "/issue/1-dark.html", "/issue/5.txt", "/nope", "/events")


def ask(
    port: int,
    method: str,
    path: str,
    host: str | list[str] | None,
    body: bytes | None = None,
) -> tuple[int, bytes]:
    """One request to 127.0.0.1:`port` carrying exactly the Host header(s) given."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for value in [host] if isinstance(host, str) else host or []:
            conn.putheader("Host", value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        if response.getheader("Content-Type") == "text/event-stream":
            return response.status, response.fp.readline()  # the stream never ends by itself
        return response.status, response.read()
    finally:
        conn.close()


def serve(server: PreviewServer | UnsubscribeServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return thread


def stop_time(server: PreviewServer | UnsubscribeServer, thread: threading.Thread) -> float:
    """Seconds `shutdown()` + `server_close()` take, the request threads joined included."""
    started = time.monotonic()
    server.shutdown()
    server.server_close()
    thread.join(timeout=30)
    took = time.monotonic() - started
    assert not thread.is_alive()
    return took


def silent_client(port: int) -> socket.socket:
    """A client that connects (the server takes the connection) and then says nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    time.sleep(0.3)  # the accept loop polls every 0.05 s
    return sock


def hostile_hosts(port: int) -> list[str]:
    return [
        "evil.example",
        f"evil.example:{port}",
        f"127.0.0.1.evil.example:{port}",
        f"localhost.evil.example:{port}",
        f"localhost:{port + 1}",
        "127.0.0.1",  # port 80, which is not ours
        "127.0.0.1:80",
        "",
        "evil.example:notaport",
    ]


# -- the Host rule ------------------------------------------------------------------------------


def test_host_values_are_parsed_strictly() -> None:
    assert host_port("LocalHost:8025") == ("localhost", 8025)
    assert host_port("[::1]:8025") == ("::1", 8025)
    assert host_port("example.com.") == ("example.com", None)
    for bad in ("", "a b", "x:y", "[::1", "evil.example/x", "user@host"):
        assert host_port(bad) is None, bad
    hosts = Hosts(frozenset({"127.0.0.1", "localhost"}), 8026, (("news.example.org", 443),))
    assert hosts.allows("127.0.0.1:8026") and hosts.allows("localhost:8026")
    assert hosts.allows("news.example.org") and hosts.allows("News.Example.org:443")
    assert not hosts.allows("news.example.org:8026") and not hosts.allows("127.0.0.1")
    assert not hosts.allows("evil.news.example.org")


# -- the preview --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def preview(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PreviewServer]:
    base = tmp_path_factory.mktemp("preview-hosts")
    settings = settings_from_dict({"outbox": {"path": str(base / "o.sqlite3")}}, base_dir=base)
    pages = build_pages(preview_data(split_post(read_post(str(SAMPLE))), settings))
    server = PreviewServer(("127.0.0.1", 0), lambda: pages)
    thread = serve(server)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_preview_refuses_every_route_for_another_host(preview: PreviewServer) -> None:
    port = preview.server_address[1]
    for path in PREVIEW_ROUTES:
        for method in ("GET", "HEAD", "POST"):
            status, body = ask(
                port, method, path, "evil.example", b"" if method == "POST" else None
            )
            assert status == 421, (method, path)
            if method != "HEAD":
                assert (
                    body == b"421 Misdirected Request: this server does not answer for that host\n"
                )
        for host in hostile_hosts(port):
            status, body = ask(port, "GET", path, host)
            assert status == 421, (path, host)
            assert b"Preview" not in body and b"<html" not in body.lower()
        assert ask(port, "GET", path, None)[0] == 400
        assert ask(port, "GET", path, [f"127.0.0.1:{port}", "evil.example"])[0] == 400


def test_preview_answers_its_own_address_and_localhost(preview: PreviewServer) -> None:
    port = preview.server_address[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        status, body = ask(port, "GET", "/", host)
        assert status == 200 and b"Preview: Massage" in body, host
        assert ask(port, "GET", "/issue/1.txt", host)[0] == 200
        assert ask(port, "GET", "/events", host) == (200, b"retry: 300\n")
        assert ask(port, "GET", "/nope", host)[0] == 404


def test_preview_stops_at_once_with_a_silent_client_and_an_open_event_stream() -> None:
    server = PreviewServer(("127.0.0.1", 0), lambda: {"/": ("text/plain", b"hi")})
    thread = serve(server)
    port = server.server_address[1]
    quiet = silent_client(port)
    stream = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    stream.request("GET", "/events")
    events = stream.getresponse()
    assert events.fp.readline() == b"retry: 300\n"
    try:
        assert stop_time(server, thread) < STOP_BUDGET
        assert quiet.recv(1) == b""  # cut off, not left hanging
    finally:
        quiet.close()
        stream.close()


# -- the unsubscribe server ---------------------------------------------------------------------


@pytest.fixture
def unsubscribe(tmp_path: Path) -> Iterator[tuple[UnsubscribeServer, Workspace, str]]:
    ws = Workspace(tmp_path, None)  # unsubscribe links at https://example.com/unsubscribe
    with Outbox.open(ws.outbox) as ob:
        one_pending(ob, "ada@example.com")
        secret = load_secret(ob, {})
    from newsletter.unsubscribe import unsubscribe_url

    link = unsubscribe_url(ws.settings(), "ada@example.com", secret)
    server = UnsubscribeServer(("127.0.0.1", 0), endpoint(ws.settings(), secret), clock=lambda: T0)
    thread = serve(server)
    try:
        yield server, ws, link.removeprefix("https://example.com")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def suppressed(ws: Workspace) -> bool:
    with Outbox.open(ws.outbox) as ob:
        return ob.is_suppressed("ada@example.com")


def test_unsubscribe_refuses_every_route_and_method_for_another_host(
    unsubscribe: tuple[UnsubscribeServer, Workspace, str],
) -> None:
    server, ws, target = unsubscribe
    port = server.server_address[1]
    one_click = b"List-Unsubscribe=One-Click"
    for host in [*hostile_hosts(port), "example.com:8443", "example.com.evil.example"]:
        for method, path, body in [
            ("GET", target, None),
            ("HEAD", target, None),
            ("POST", target, one_click),
            ("POST", target, b"confirm=yes"),
            ("PUT", target, one_click),
            ("GET", "/other", None),
        ]:
            status, answer = ask(port, method, path, host, body)
            assert status == 421, (host, method, path)
            assert b"Unsubscribe" not in answer
    assert ask(port, "POST", target, None, one_click)[0] == 400
    assert not suppressed(ws)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}",  # nginx's proxy_pass http://127.0.0.1:8026 sends this
        "localhost:{port}",
        "example.com",  # the unsubscribe URL's own host, as Caddy (or $host in nginx) passes it
        "Example.COM:443",
    ],
)
def test_unsubscribe_answers_its_address_and_the_public_host_of_its_links(
    unsubscribe: tuple[UnsubscribeServer, Workspace, str], host: str
) -> None:
    server, ws, target = unsubscribe
    port = server.server_address[1]
    host = host.format(port=port)
    status, page = ask(port, "GET", target, host)
    assert status == 200 and b"Unsubscribe ada@example.com" in page
    assert ask(port, "POST", target, host, b"List-Unsubscribe=One-Click")[0] == 200
    assert suppressed(ws)


def test_unsubscribe_cuts_off_a_silent_client_after_the_read_timeout(
    unsubscribe: tuple[UnsubscribeServer, Workspace, str],
) -> None:
    server, _, _ = unsubscribe
    server.read_timeout = 0.5
    quiet = silent_client(server.server_address[1])
    with quiet:
        started = time.monotonic()
        assert quiet.recv(1) == b""
        assert time.monotonic() - started < 3


def test_unsubscribe_stops_at_once_with_silent_and_half_sent_clients(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    with Outbox.open(ws.outbox) as ob:
        secret = load_secret(ob, {})
    server = UnsubscribeServer(("127.0.0.1", 0), endpoint(ws.settings(), secret), clock=lambda: T0)
    thread = serve(server)
    port = server.server_address[1]
    quiet = silent_client(port)
    half = socket.create_connection(("127.0.0.1", port), timeout=5)
    head = f"POST /unsubscribe HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 26\r\n\r\n"
    half.sendall(head.encode() + b"List")  # and the rest of its body never comes
    time.sleep(0.3)
    try:
        took = stop_time(server, thread)
        assert took < STOP_BUDGET, took
        assert quiet.recv(1) == b""
    finally:
        quiet.close()
        half.close()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_the_unsubscribe_command_stops_under_2_s_with_a_silent_client(
    tmp_path: Path, stop: signal.Signals
) -> None:
    ws = Workspace(tmp_path, None)
    proc = ws.spawn("unsubscribe-server", "--port", "0", now=iso(T0))
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
        port = int(first.split("http://127.0.0.1:")[1].split("/")[0])
        quiet = silent_client(port)
        started = time.monotonic()
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - started
        quiet.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out.decode() == "stopped\n"
    assert took < STOP_BUDGET, took
