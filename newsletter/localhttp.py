"""What both local servers (the preview, the unsubscribe endpoint) share: they answer only for
their own address, cut off clients that send nothing, and stop promptly.

The `Host` check is against DNS rebinding: a web page the writer visits can point its own name
at 127.0.0.1 and read what a local server answers, but the browser still sends that page's name
in `Host:`, so a server that answers only its own names (421 to the rest) shows it nothing.
"""

from __future__ import annotations

import contextlib
import re
import socket
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

READ_TIMEOUT = 10.0  # seconds a client may keep a connection without sending what it owes

_Request = socket.socket | tuple[bytes, socket.socket]

_HOST = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9._-]+))(?::(?P<port>[0-9]{1,5}))?")


def host_port(value: str) -> tuple[str, int | None] | None:
    """A `Host:` value as (lower-case name, port or None); None when it is not a host."""
    m = _HOST.fullmatch(value.strip().lower())
    if m is None:
        return None
    name = m["v6"] or m["name"].rstrip(".")
    return name, int(m["port"]) if m["port"] else None


@dataclass(frozen=True)
class Hosts:
    """The `Host:` values a server answers: its own names with its port, and public ones."""

    local: frozenset[str]  # the bound address, as given and as bound, and localhost
    port: int
    public: tuple[tuple[str, int], ...] = ()  # (name, port) a proxy in front may pass on

    def allows(self, value: str) -> bool:
        parsed = host_port(value)
        if parsed is None:
            return False
        name, port = parsed
        if name in self.local and (port == self.port or (port is None and self.port == 80)):
            return True
        return any(name == n and port in (None, p) for n, p in self.public)


class LocalServer(ThreadingHTTPServer):
    """A threading HTTP server whose `server_close()` cuts off every connection not held.

    A client that connects and sends nothing would otherwise keep its thread (and a joining
    `server_close()`) waiting for the read timeout. A handler that must finish what it started
    (a commit) calls `hold()` first, and its connection is left to end on its own.
    """

    read_timeout = READ_TIMEOUT

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        public: Iterable[tuple[str, int]] = (),
    ) -> None:
        self._connections: set[_Request] = set()
        self._held: set[_Request] = set()
        self._connections_lock = threading.Lock()
        self._stopping = False
        super().__init__(address, handler)
        bound = str(self.server_address[0]).lower()
        self.hosts = Hosts(
            local=frozenset({str(address[0]).lower(), bound, "localhost"} - {""}),
            port=int(self.server_address[1]),
            public=tuple((n.lower().rstrip("."), p) for n, p in public),
        )

    def process_request(self, request: _Request, client_address: Any) -> None:
        with self._connections_lock:
            if self._stopping:
                self.shutdown_request(request)
                return
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: _Request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
            self._held.discard(request)
        super().shutdown_request(request)

    def hold(self, connection: socket.socket) -> bool:
        """Keep `connection` through a stop, to its end; False when the server is stopping."""
        with self._connections_lock:
            if self._stopping:
                return False
            self._held.add(connection)
            return True

    def server_close(self) -> None:
        with self._connections_lock:
            self._stopping = True
            idle = [c for c in self._connections if c not in self._held]
        for conn in idle:
            if isinstance(conn, socket.socket):
                with contextlib.suppress(OSError):  # already closed by its own thread
                    conn.shutdown(socket.SHUT_RDWR)  # its pending read returns at once
        super().server_close()

    def handle_error(self, request: _Request, client_address: Any) -> None:
        """A client that hangs up (or is cut off at a stop) is no error of ours."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class LocalHandler(BaseHTTPRequestHandler):
    """Answers only requests whose `Host:` the server answers for; reads time out."""

    server: LocalServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.read_timeout)

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        given = self.headers.get_all("Host") or []
        if len(given) == 1 and self.server.hosts.allows(given[0]):
            return True
        self.close_connection = True
        if len(given) != 1:
            self._refuse(HTTPStatus.BAD_REQUEST, "send one Host header")
        else:
            self._refuse(
                HTTPStatus.MISDIRECTED_REQUEST, "this server does not answer for that host"
            )
        return False

    def _refuse(self, status: HTTPStatus, text: str) -> None:
        body = f"{status.value} {status.phrase}: {text}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
