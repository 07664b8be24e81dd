"""Shared fixtures: real aiosmtpd servers on 127.0.0.1 (see tests/smtpd.py for the knobs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Settings
from tests.smtpd import SmtpTestServer, make_self_signed_cert, settings_for, start_server
from tests.web import Web, serve


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1/localhost, made once per test run."""
    return make_self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp_server_factory(
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., SmtpTestServer]]:
    """Start servers with knobs: `smtp_server_factory(reject={...}, tls="starttls", ...)`."""
    started: list[SmtpTestServer] = []

    def factory(**knobs: Any) -> SmtpTestServer:
        cert = None
        if knobs.get("tls", "none") != "none":
            cert = request.getfixturevalue("tls_cert")
        server = start_server(cert, **knobs)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: Callable[..., SmtpTestServer]) -> SmtpTestServer:
    """A plain, well-behaved SMTP server that records every message."""
    return smtp_server_factory()


@pytest.fixture(name="settings_for")
def settings_for_fixture() -> Callable[..., Settings]:
    """`settings_for(server, **smtp_overrides)` as a fixture, for tests that prefer injection."""
    return settings_for


@pytest.fixture
def web() -> Iterator[Web]:
    """A plain HTTP server on 127.0.0.1: `web.route("/post", page(body))` gives its URL."""
    yield from serve()
