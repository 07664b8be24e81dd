"""A throwaway PostgreSQL cluster for the tests: Debian's `postgresql` binaries, a data folder in
a temporary directory, trust authentication on 127.0.0.1 and a unix socket in that folder, a
free port; stopped and removed afterwards.

initdb refuses to run as root, so as root the cluster belongs to the `postgres` user the Debian
package makes (`runuser -u postgres --`). Nothing here touches the system's own cluster.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.outbox import Outbox

Opener = Callable[[], Outbox]  # the `open_outbox` fixture: the test's outbox, on either database
INSTALL = "apt-get install postgresql (or run 'make tools' as root)"


def bin_dir() -> Path | None:
    """The newest installed server's binaries, or None."""
    found = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p, "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    port: int
    prefix: tuple[str, ...]  # runs a command as the cluster's owner
    bin: Path
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_of(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url_of(database), autocommit=True) as conn:
            conn.execute(statement.encode())

    @contextmanager
    def database(self) -> Iterator[str]:
        """A fresh, empty database for one test; its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.sql(f"CREATE DATABASE {name}")
        try:
            yield self.url_of(name)
        finally:
            self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        subprocess.run(
            [*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m",
             "immediate", "-w", "stop"],
            capture_output=True,
            check=False,
        )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster:
    """Make and start a cluster; RuntimeError saying why when it cannot."""
    bin_ = bin_dir()
    if bin_ is None:
        raise RuntimeError(f"no PostgreSQL server installed; {INSTALL}")
    root = Path(tempfile.mkdtemp(prefix="newsletter-pg-"))
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError(f"no 'postgres' user to run the test cluster; {INSTALL}") from None
        os.chown(root, owner.pw_uid, owner.pw_gid)
        prefix = ("runuser", "-u", "postgres", "--")
    data, port = root / "data", _free_port()
    cluster = Cluster(root, port, prefix, bin_)
    steps = (
        [str(bin_ / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
         "--locale=C", "--no-sync"],
        [str(bin_ / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
         "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
         " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
         "start"],
    )  # fmt: skip
    for step in steps:
        done = subprocess.run([*prefix, *step], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = root / "log"
            why = (done.stderr or done.stdout).strip().splitlines()
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            cluster.stop()
            raise RuntimeError(f"{Path(step[0]).name} failed: {' / '.join([*why[-3:], *tail])}")
    return cluster
