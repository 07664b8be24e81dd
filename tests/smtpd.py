"""Real SMTP servers for the tests: aiosmtpd on 127.0.0.1, a free port, in a thread.

Every server records what it accepted (`server.messages`: envelope sender, recipients, raw bytes,
MAIL options, TLS and AUTH state, which connection carried it) and counts connections and
recipient attempts, all behind a lock so tests in the main thread read a consistent snapshot.

Knobs (keyword arguments of `start_server` / the `smtp_server_factory` fixture):

- ``reject={"bad@example.com": "no such user"}``: answer RCPT for these addresses with
  ``550 5.1.1 <text>`` (a permanent failure).
- ``tempfail={"slow@example.com": 2}``: answer RCPT for these addresses with ``451`` the first K
  times, then accept. ``tempfail_every=N``: answer ``451`` at the end of DATA to every Nth message
  (counted over the server's life, the refused one is not kept). ``tempfail_code`` (default 451;
  421 also closes the connection, as real servers do).
- ``hangup_after=M``: on each connection, once M messages were accepted, drop the connection
  without a word when the client starts the next one (``hangup_phase="mail"``), or after taking
  its content but before answering (``hangup_phase="data"``: not kept, the client cannot know).
  ``hangup_connections=K`` limits that to the first K connections (default: all).
- ``hang_seconds=S`` with ``hang_on="connect" | "mail" | "data"``: say nothing for S seconds (no
  greeting, no answer to MAIL, no answer after DATA) the first ``hang_times`` times (0 = always).
  A message whose client gave up during the hang is not kept.
- ``answer_late=S``: keep every message, then wait S seconds before answering its final dot (a
  slow server whose answer a client with a short data timeout never sees: it has the message).
- ``auth=("user", "secret")``: require AUTH (PLAIN or LOGIN) with these credentials before MAIL.
- ``tls="none" | "starttls" | "ssl"``: offer (and require) STARTTLS, or speak implicit TLS, with a
  self-signed certificate for 127.0.0.1/localhost made at test time with the ``openssl`` command
  line tool (the ``cryptography`` package is not installed); ``server.cert_file`` is its path.
- ``reply_delay=S``: wait S seconds before every reply, including the greeting: a slow server or
  a long round trip.
- ``smtputf8=False``: do not offer SMTPUTF8 (non-ASCII addresses must then be refused by the
  client).
- ``pipelining=True``: offer PIPELINING (RFC 2920); aiosmtpd reads commands in order anyway.
  ``record_chunks=True``: `server.chunks` holds what each read from a socket got, to see what
  came in one write.
- ``refuse_mail=("550 5.7.1 not you", K)``: answer MAIL so the first K times (0 = always); a 421
  also closes the connection. ``drop_on_mail=K``: drop the connection without a word at the
  first K MAIL commands.
- ``data_despite_refusal=True``: answer DATA with 354 even when RCPT was refused (RFC 2920 says
  a server must not; a client must still end it), keeping what comes as a message.

`settings_for(server, **smtp_overrides)` returns `Settings` pointing at the server (security as
the server speaks, `ca_file` = its certificate when TLS is on, `username` when AUTH is required,
a 5 s timeout); the password is read, as always, from the variable named by `password_env`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import shutil
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from newsletter.config import Settings, SmtpSettings, validate

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    mail_options: tuple[str, ...]
    tls: bool
    auth_user: str | None
    connection: int

    def parsed(self) -> EmailMessage:
        """The received bytes parsed back into a message (modern policy, line ends as "\\n").

        With SMTPUTF8 the headers are raw UTF-8, which the bytes parser cannot read: decode first.
        """
        data = self.data.replace(b"\r\n", b"\n")
        if "SMTPUTF8" in self.mail_options:
            msg = email.message_from_string(data.decode("utf-8"), policy=email.policy.default)
        else:
            msg = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def header_block(self) -> bytes:
        """The raw header lines as they crossed the wire, up to the first empty line."""
        return self.data.split(b"\r\n\r\n", 1)[0]


@dataclass(frozen=True)
class Knobs:
    """How the server misbehaves; see the module docstring."""

    reject: Mapping[str, str] = field(default_factory=dict)
    tempfail: Mapping[str, int] = field(default_factory=dict)
    tempfail_every: int = 0
    tempfail_code: int = 451
    hangup_after: int = 0
    hangup_phase: str = "mail"
    hangup_connections: int | None = None
    hang_seconds: float = 0.0
    hang_on: str = "data"
    hang_times: int = 1
    answer_late: float = 0.0
    auth: tuple[str, str] | None = None
    tls: str = "none"
    reply_delay: float = 0.0
    smtputf8: bool = True
    pipelining: bool = False
    record_chunks: bool = False
    refuse_mail: tuple[str, int] | None = None
    drop_on_mail: int = 0
    data_despite_refusal: bool = False

    def __post_init__(self) -> None:
        if self.tls not in ("none", "starttls", "ssl"):
            raise ValueError(f"tls must be none, starttls or ssl, not {self.tls!r}")
        if self.hang_on not in ("connect", "mail", "data"):
            raise ValueError(f"hang_on must be connect, mail or data, not {self.hang_on!r}")
        if self.hangup_phase not in ("mail", "data"):
            raise ValueError(f"hangup_phase must be mail or data, not {self.hangup_phase!r}")


def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate (and key) for localhost and 127.0.0.1, made with `openssl`."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command line tool is needed to make a test certificate")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "smtpd-cert.pem", directory / "smtpd-key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
            "-days", "2", "-subj", "/CN=localhost",
            "-keyout", str(key), "-out", str(cert),
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext", "basicConstraints=critical,CA:FALSE",
            "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
            "-addext", "extendedKeyUsage=serverAuth",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class _Recorder:
    """The handler: aiosmtpd calls its hooks in the server thread; tests read under the lock."""

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs
        self.lock = threading.Lock()
        self.messages: list[ReceivedMessage] = []
        self.connections = 0
        self.rcpt_attempts: Counter[str] = Counter()
        self.data_count = 0
        self.hangs = 0
        self.hangups = 0
        self.auth_failures = 0
        self.mail_count = 0
        self.chunks: list[bytes] = []
        self.live = False  # False while the controller pokes its own server at start-up

    # -- helpers --------------------------------------------------------------------------
    def _take_hang(self, where: str) -> bool:
        k = self.knobs
        if k.hang_seconds <= 0 or k.hang_on != where or not self.live:
            return False
        with self.lock:
            if k.hang_times and self.hangs >= k.hang_times:
                return False
            self.hangs += 1
            return True

    async def _hang(self, server: _TestSMTP) -> bool:
        """Say nothing for a while; True when the client is still there afterwards."""
        await asyncio.sleep(self.knobs.hang_seconds)
        transport = server.transport
        return transport is not None and not transport.is_closing()

    def _hangup_due(self, server: _TestSMTP) -> bool:
        k = self.knobs
        if not k.hangup_after or server.accepted_here < k.hangup_after:
            return False
        return k.hangup_connections is None or server.conn_id <= k.hangup_connections

    async def _hang_up(self, server: _TestSMTP) -> None:
        with self.lock:
            self.hangups += 1
        transport = server.transport
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()
        elif transport is not None:
            transport.close()
        await asyncio.sleep(3600)  # cancelled as soon as the connection is gone

    # -- aiosmtpd hooks -------------------------------------------------------------------
    async def handle_EHLO(
        self, server: _TestSMTP, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.knobs.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: _TestSMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            self.mail_count += 1
            n = self.mail_count
        if self.live and n <= self.knobs.drop_on_mail:
            await self._hang_up(server)
        refuse = self.knobs.refuse_mail
        if refuse is not None and (not refuse[1] or n <= refuse[1]):
            server.close_after_reply = refuse[0].startswith("421")
            return refuse[0]
        if self._take_hang("mail") and not await self._hang(server):
            return "421 4.4.2 too slow"
        if self.knobs.hangup_phase == "mail" and self._hangup_due(server):
            await self._hang_up(server)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: _TestSMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        key = address.lower()
        with self.lock:
            self.rcpt_attempts[key] += 1
            tries = self.rcpt_attempts[key]
        reject = {a.lower(): t for a, t in self.knobs.reject.items()}
        if key in reject:
            if self.knobs.data_despite_refusal:
                envelope.rcpt_tos.append(address)  # so that aiosmtpd takes DATA all the same
            return f"550 5.1.1 {reject[key]}"
        tempfail = {a.lower(): n for a, n in self.knobs.tempfail.items()}
        if key in tempfail and tries <= tempfail[key]:
            if self.knobs.tempfail_code == 421:
                server.close_after_reply = True
            return f"{self.knobs.tempfail_code} 4.2.0 try again later ({tries}/{tempfail[key]})"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: _TestSMTP, session: Any, envelope: Any) -> str:
        if self._take_hang("data") and not await self._hang(server):
            return "421 4.4.2 too slow"
        if self.knobs.hangup_phase == "data" and self._hangup_due(server):
            await self._hang_up(server)
        with self.lock:
            self.data_count += 1
            n = self.data_count
        every = self.knobs.tempfail_every
        if every and n % every == 0:
            code = self.knobs.tempfail_code
            if code == 421:
                server.close_after_reply = True
            return f"{code} 4.3.0 message {n} deferred, try again later"
        auth_data = getattr(session, "auth_data", None)
        user = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else None
        received = ReceivedMessage(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(envelope.original_content),
            mail_options=tuple(envelope.mail_options),
            tls=session.ssl is not None or self.knobs.tls == "ssl",
            auth_user=user,
            connection=server.conn_id,
        )
        with self.lock:
            self.messages.append(received)
        server.accepted_here += 1
        if self.knobs.answer_late:
            await asyncio.sleep(self.knobs.answer_late)
        return "250 2.0.0 OK queued"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.knobs.auth is not None
        user, password = self.knobs.auth
        if (
            isinstance(data, LoginPassword)
            and data.login == user.encode()
            and data.password == password.encode()
        ):
            return AuthResult(success=True, auth_data=data)
        with self.lock:
            self.auth_failures += 1
        return AuthResult(success=False, handled=False)


class _TestSMTP(SMTP):
    """aiosmtpd's SMTP with a connection number, a reply delay and a greeting hang."""

    def __init__(self, recorder: _Recorder, **kwargs: Any) -> None:
        plain_auth = kwargs.get("auth_require_tls") is False
        if plain_auth:  # on purpose, for loopback tests: skip aiosmtpd's warning about it
            kwargs["auth_require_tls"] = True
        super().__init__(recorder, **kwargs)
        if plain_auth:
            self._auth_require_tls = False
        self.recorder = recorder
        self.conn_id = 0
        self.accepted_here = 0
        self.close_after_reply = False
        self.mid_reply = False

    async def _handle_client(self) -> None:
        rec = self.recorder
        if rec.live:
            with rec.lock:
                rec.connections += 1
                self.conn_id = rec.connections
            if rec._take_hang("connect"):
                await asyncio.sleep(rec.knobs.hang_seconds)
        await super()._handle_client()

    def data_received(self, data: bytes) -> None:
        if self.recorder.knobs.record_chunks and self.recorder.live:
            with self.recorder.lock:
                self.recorder.chunks.append(bytes(data))
        super().data_received(data)

    async def push(self, status: Any) -> None:
        line = status.encode() if isinstance(status, str) else bytes(status)
        # One round trip per reply: the lines after the first of a multi-line reply come at once.
        if self.recorder.knobs.reply_delay and self.recorder.live and not self.mid_reply:
            await asyncio.sleep(self.recorder.knobs.reply_delay)
        self.mid_reply = line[3:4] == b"-"
        await super().push(status)
        if self.close_after_reply and self.transport is not None:
            self.transport.close()


class _Controller(Controller):
    """aiosmtpd's threaded controller, able to listen on port 0 (a free port)."""

    def __init__(self, recorder: _Recorder, smtp_kwargs: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(recorder, **kwargs)
        self._recorder = recorder
        self._smtp_kwargs = smtp_kwargs

    def factory(self) -> SMTP:
        return _TestSMTP(self._recorder, **self._smtp_kwargs)

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpTestServer:
    """A started aiosmtpd server; see the module docstring for what it records and its knobs."""

    def __init__(self, knobs: Knobs, cert: tuple[Path, Path] | None = None) -> None:
        self.knobs = knobs
        self.host = HOST
        self.tls = knobs.tls
        self.auth = knobs.auth
        self.cert_file: Path | None = cert[0] if cert else None
        self._recorder = _Recorder(knobs)
        smtp_kwargs: dict[str, Any] = {
            "hostname": "smtp.test",
            "enable_SMTPUTF8": knobs.smtputf8,
            "timeout": 30,
        }
        server_ctx: ssl.SSLContext | None = None
        if knobs.tls != "none":
            if cert is None:
                raise ValueError("a TLS server needs a certificate")
            server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        if knobs.tls == "starttls":
            smtp_kwargs.update(tls_context=server_ctx, require_starttls=True)
        if knobs.auth is not None:
            smtp_kwargs.update(
                authenticator=self._recorder.authenticate,
                auth_required=True,
                auth_require_tls=knobs.tls != "none",
            )
        self._controller = _Controller(
            self._recorder,
            smtp_kwargs,
            hostname=HOST,
            port=0,
            ssl_context=server_ctx if knobs.tls == "ssl" else None,
            enable_SMTPUTF8=knobs.smtputf8,
        )
        self.port = 0
        self._running = False

    def start(self) -> SmtpTestServer:
        self._controller.start()
        self.port = self._controller.port
        self._recorder.live = True
        self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._controller.stop()

    def __enter__(self) -> SmtpTestServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what happened -----------------------------------------------------------------------
    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._recorder.lock:
            return list(self._recorder.messages)

    @property
    def connections(self) -> int:
        """How many SMTP connections clients opened (the start-up poke not counted)."""
        with self._recorder.lock:
            return self._recorder.connections

    @property
    def hangups(self) -> int:
        with self._recorder.lock:
            return self._recorder.hangups

    @property
    def chunks(self) -> list[bytes]:
        """What each read from a client's socket got (with ``record_chunks=True``)."""
        with self._recorder.lock:
            return list(self._recorder.chunks)

    @property
    def auth_failures(self) -> int:
        with self._recorder.lock:
            return self._recorder.auth_failures

    def rcpt_attempts(self, address: str) -> int:
        """How many times a client asked for this recipient (accepted or not)."""
        with self._recorder.lock:
            return self._recorder.rcpt_attempts[address.lower()]

    def received_by(self, address: str) -> list[ReceivedMessage]:
        return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Wait until at least `count` messages arrived (for senders in another process)."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages
            if len(messages) >= count or time.monotonic() > deadline:
                return messages
            time.sleep(0.01)


def start_server(cert: tuple[Path, Path] | None = None, **knobs: Any) -> SmtpTestServer:
    """Start a server with these knobs (`cert` is needed when tls is not "none")."""
    return SmtpTestServer(Knobs(**knobs), cert).start()


def settings_for(
    server: SmtpTestServer, *, settings: Settings | None = None, **smtp_overrides: Any
) -> Settings:
    """Settings that point at `server` (start from `settings` to keep its other sections)."""
    base = settings or Settings(base_dir=Path.cwd())
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": server.tls,
        "ca_file": str(server.cert_file) if server.cert_file and server.tls != "none" else "",
        "username": server.auth[0] if server.auth else "",
        "timeout": 5.0,
    }
    values.update(smtp_overrides)
    smtp: SmtpSettings = dataclasses.replace(base.smtp, **values)
    return validate(dataclasses.replace(base, smtp=smtp))
