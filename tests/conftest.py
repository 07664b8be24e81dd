"""Shared fixtures: real aiosmtpd servers on 127.0.0.1 (see tests/smtpd.py for the knobs), and a
real PostgreSQL cluster (tests/pg.py) for the outbox tests that run on both databases."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Settings
from newsletter.outbox import Outbox
from tests.pg import Cluster, Opener, start_cluster
from tests.smtpd import SmtpTestServer, make_self_signed_cert, settings_for, start_server
from tests.web import Web, serve


def _clear_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("NEWSLETTER_")]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="session", autouse=True)
def outside_the_repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Module and session fixtures, too, run in an empty folder with no NEWSLETTER_* variables."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
        _clear_environment(monkeypatch)
        yield


@pytest.fixture(autouse=True)
def fresh_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts in its own empty folder with no NEWSLETTER_* variables, so a
    developer's ./newsletter.toml, templates/ or exported secret cannot change what it sees."""
    monkeypatch.chdir(tmp_path)
    _clear_environment(monkeypatch)


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


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of our own for the whole run. Under CI=true a missing server fails
    the tests that need it; elsewhere they are skipped, saying why."""
    try:
        import psycopg  # noqa: F401

        cluster = start_cluster()
    except (ImportError, RuntimeError) as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true: {e}")
        pytest.skip(f"no PostgreSQL for the tests: {e}")
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """A fresh, empty database in the test cluster, by URL."""
    with pg_cluster.database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def open_outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Open the test's outbox, a SQLite file or a PostgreSQL database: the same tests, both."""
    if request.param == "sqlite":
        return lambda: Outbox.open(tmp_path / "outbox.sqlite3")
    url = request.getfixturevalue("pg_url")
    return lambda: Outbox.connect(url)
