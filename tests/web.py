"""A real HTTP server on 127.0.0.1 for the tests that read posts by URL: routes by path, and
each route is one way a web server can answer (or fail to)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[["Handler"], None]
PAGE = b"<!doctype html><html><head><title>Post</title></head><body><p>Hello</p></body></html>"


class Server(ThreadingHTTPServer):
    """Routes by path; records what each request sent; `stop` ends handlers that stall."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stop = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers)))
        route = self.server.routes.get(self.path)
        try:
            if route is None:
                send(self, b"no such route", status=404, content_type="text/plain")
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up on purpose (too large, timed out)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Web:
    """A running server: add routes, build its URLs."""

    def __init__(self, server: Server, scheme: str = "http") -> None:
        self.server = server
        self.base = f"{scheme}://127.0.0.1:{server.server_address[1]}"

    def route(self, path: str, handler: Route) -> str:
        self.server.routes[path] = handler
        return self.url(path)

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def stop(self) -> threading.Event:
        return self.server.stop


def send(
    h: Handler,
    body: bytes,
    *,
    status: int = 200,
    content_type: str | None = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
    length: bool = True,
) -> None:
    """A complete answer; `length=False` leaves the end to the closing connection."""
    h.send_response(status)
    if content_type is not None:
        h.send_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    if length:
        h.send_header("Content-Length", str(len(body)))
    h.send_header("Connection", "close")
    h.end_headers()
    h.wfile.write(body)


def redirect(status: int, location: str) -> Route:
    return lambda h: send(h, b"", status=status, headers={"Location": location})


def page(body: bytes = PAGE, **kwargs: Any) -> Route:
    return lambda h: send(h, body, **kwargs)


def serve(tls: ssl.SSLContext | None = None) -> Iterator[Web]:
    server = Server()
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield Web(server, "https" if tls else "http")
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
