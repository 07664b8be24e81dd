"""SMTP delivery: persistent connections, TLS, AUTH, reconnects, a shared rate limit, DKIM.

One `SmtpConnection` per worker thread carries many messages. `send` turns every server answer
into a `SendResult` (2xx sent, 4xx temporary, 5xx permanent) so the outbox can record it; only a
(re)connection that retrying cannot fix (TLS verification, login refused) raises DeliveryError.

SMTP has no idempotency: once the body has gone out, the server may have the message even if its
answer never comes. So the final reply gets its own, longer `data_timeout` (RFC 5321 §4.5.3.2.6
asks for 10 minutes), and a reply that never comes is `unknown`, never resent on the spot: the
outbox retries it at most once, on a later pass, with the same Message-ID.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.policy
import os
import random
import re
import smtplib
import socket
import ssl
import threading
import time
from base64 import b64encode
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.message import Message
from functools import cache, lru_cache
from io import BytesIO
from types import TracebackType
from typing import Literal

from .config import Settings, smtp_password
from .errors import ConfigError, DeliveryError
from .message import MAX_HEADER_LINE, Outgoing

# Headers worth covering by a DKIM signature when present (From is always signed).
DKIM_HEADERS = (
    "from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id", "mime-version",
    "content-type", "content-transfer-encoding", "list-id", "list-unsubscribe",
    "list-unsubscribe-post", "in-reply-to", "references",
)  # fmt: skip

# A line break inside a header value that does not continue a folded line starts a new header.
_HEADER_BREAK = re.compile(r"\r\n(?![ \t])|\r(?!\n)|(?<!\r)\n(?![ \t])")
_HEADER_NAME = re.compile(r"[!-9;-~]+")
_HEADER_NAME_BYTES = re.compile(rb"[!-9;-~]+")
_LINES_DIFFER = "refused to send: the header lines on the wire differ from the message's"


# 2xx, 4xx (retry later), 5xx, or no final reply after the body (the server may have it)
SendStatus = Literal["sent", "temporary", "permanent", "unknown"]


@dataclass(frozen=True)
class SendResult:
    """The outcome of one message: what the outbox records."""

    status: SendStatus
    code: int | None  # the SMTP reply code; None when no server answered
    detail: str  # the server's text or the network error; never a password
    recipient: bool = False  # the answer was to RCPT TO: about the reader's address

    @property
    def ok(self) -> bool:
        return self.status == "sent"

    @property
    def bad_address(self) -> bool:
        """A 550/551/553 to RCPT TO: the reader's address is refused (no such mailbox, not
        local, not allowed), so it goes on the suppression list. Other 5xx answers (a message
        refused at DATA, the sender refused at MAIL) say nothing about the address."""
        return self.recipient and self.code in (550, 551, 553)


class _Secret:
    """Holds the password so that no repr, log line or traceback local shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


class _Transient(Exception):
    """A network failure worth a reconnect (refused, reset, timed out, dropped)."""


def _dot_stuffed(data: bytes, *, crlf: bool = False, dots: Sequence[int] | None = None) -> bytes:
    """The body as DATA sends it: leading dots doubled, CRLF at the end, then the final dot.

    `dots` (a prepared message knows where its lines start with a dot) spares the search
    through the body."""
    if dots is not None:
        pieces: list[bytes] = []
        start = 0
        for at in dots:
            pieces += (data[start:at], b".")
            start = at
        q = b"".join((*pieces, data[start:]))
    elif crlf or data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r"):  # CRLF only
        q = (b"." if data.startswith(b".") else b"") + data.replace(b"\r\n.", b"\r\n..")
    else:
        q = re.sub(rb"(?m)^\.", b"..", data)
    if not q.endswith(b"\r\n"):
        q += b"\r\n"
    return q + b".\r\n"


def _where(settings: Settings) -> str:
    return f"{settings.smtp.host}:{settings.smtp.port}"


@cache
def _default_helo() -> str:
    return socket.getfqdn() or "localhost"


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Client TLS: system CAs, or only [smtp] ca_file; verification off only when asked."""
    s = settings.smtp
    cafile: str | None = None
    if s.ca_file:
        path = settings.path(s.ca_file)
        if not path.is_file():
            raise ConfigError(
                f"{settings.source}: [smtp] ca_file {path} does not exist; point it at the PEM "
                f"certificate of the CA that signed {s.host}'s certificate"
            )
        cafile = str(path)
    changed = os.stat(cafile).st_mtime_ns if cafile else 0  # a renewed CA file is read again
    try:
        return _client_context(cafile, changed, s.verify_tls)
    except ssl.SSLError as e:
        raise ConfigError(
            f"{settings.source}: [smtp] ca_file {cafile} is not a PEM certificate ({e.reason})"
        ) from None


@lru_cache(maxsize=8)
def _client_context(cafile: str | None, changed: int, verify: bool) -> ssl.SSLContext:
    """One context for every connection (loading the system CAs takes 15 ms, and 32
    connections each loading them held a pass back by half a second); contexts are safe to
    share between threads."""
    ctx = ssl.create_default_context(cafile=cafile)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Log in; smtplib encodes the credentials as ASCII (and its error shows the character), so a
    name or password beyond ASCII goes as UTF-8 in AUTH PLAIN (RFC 4616) or LOGIN instead."""
    if (user + password).isascii():
        smtp.login(user, password)
        return
    if not smtp.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server")
    offered = smtp.esmtp_features["auth"].upper().split()
    if "PLAIN" in offered:
        token = b64encode(f"\0{user}\0{password}".encode()).decode()
        code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
    elif "LOGIN" in offered:
        code, reply = smtp.docmd("AUTH", "LOGIN " + b64encode(user.encode()).decode())
        if code == 334:
            code, reply = smtp.docmd(b64encode(password.encode()).decode())
    else:
        raise smtplib.SMTPException("the server offers neither AUTH PLAIN nor LOGIN")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _resolve_password(settings: Settings) -> str | None:
    s = settings.smtp
    if not s.username:
        return None
    if not s.password_env:
        raise ConfigError(
            f"{settings.source}: [smtp] username is set but password_env is empty; name the "
            "environment variable that holds the SMTP password"
        )
    password = smtp_password(settings)
    if not password:
        raise ConfigError(
            f"{settings.source}: [smtp] username is set but the environment variable "
            f"{s.password_env} (password_env) is unset or empty; export the SMTP password in it"
        )
    return password


def _text(resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else resp
    return " ".join(text.split())


def _classify(code: int, text: str) -> SendResult:
    if 200 <= code < 300:
        return SendResult("sent", code, text)
    if 500 <= code < 600:
        return SendResult("permanent", code, text)
    return SendResult("temporary", code, text)


def check_message(msg: Message | Outgoing, from_addr: str, to_addr: str) -> str | None:
    """Why this message must not be sent (a header injection, a broken address), or None."""
    for label, addr in (("sender", from_addr), ("recipient", to_addr)):
        if not addr or any(c in addr for c in "\r\n<>") or "@" not in addr or addr.strip() != addr:
            return f"refused to send: the {label} address {addr!r} is not a plain address"
    if isinstance(msg, Outgoing):
        return _check_head(msg)
    for part in msg.walk():
        for name, value in part.raw_items():
            if not _HEADER_NAME.fullmatch(name):
                return f"refused to send: header name {name!r} is not valid"
            if _HEADER_BREAK.search(str(value)):
                return f"refused to send: header {name} contains a line break (header injection)"
    return None


def _check_head(msg: Outgoing) -> str | None:
    """The header block of a message already in bytes: the same refusals, line by line, and
    the header lines must be those the message says it has (none split into two)."""
    head = msg.data[: msg.data.find(b"\r\n\r\n")]
    if not head.count(b"\r") == head.count(b"\n") == head.count(b"\r\n"):
        return "refused to send: a header contains a line break (header injection)"
    names = []
    for line in head.split(b"\r\n"):
        if len(line) > MAX_HEADER_LINE:
            return f"refused to send: a header line is longer than {MAX_HEADER_LINE} bytes"
        if line[:1] not in (b" ", b"\t"):
            name, colon, _ = line.partition(b":")
            if not colon or not _HEADER_NAME_BYTES.fullmatch(name):
                return f"refused to send: header name {name[:40]!r} is not valid"
            names.append(name.decode("ascii").lower())
    if tuple(names) != msg.header_names:
        return _LINES_DIFFER
    return None


def envelope_address(addr: str) -> str:
    """The address for MAIL FROM / RCPT TO: a non-ASCII domain in its ASCII (xn--) form.

    Then only a non-ASCII local part needs SMTPUTF8, which not every server offers.
    """
    local, at, domain = addr.rpartition("@")
    if not at or domain.isascii():
        return addr
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return addr


def _header_names(data: bytes) -> list[str]:
    head = data.split(b"\r\n\r\n", 1)[0]
    names = []
    for line in head.split(b"\r\n"):
        if line and line[:1] not in (b" ", b"\t"):
            names.append(line.split(b":", 1)[0].decode("ascii", "replace").strip().lower())
    return names


def flatten(msg: Message, *, utf8: bool = False, eight_bit: bool = True) -> bytes:
    """The message as bytes for the wire: CRLF line ends, UTF-8 headers only with SMTPUTF8."""
    base = msg.policy if isinstance(msg.policy, email.policy.EmailPolicy) else email.policy.SMTP
    policy = base.clone(linesep="\r\n", utf8=utf8, cte_type="8bit" if eight_bit else "7bit")
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=policy).flatten(msg)
    return out.getvalue()


def _dkim_key(settings: Settings) -> bytes | None:
    d = settings.dkim
    if not (d.selector or d.domain or d.key_file):
        return None
    missing = [
        k
        for k, v in (("selector", d.selector), ("domain", d.domain), ("key_file", d.key_file))
        if not v
    ]
    if missing:
        raise ConfigError(
            f"{settings.source}: [dkim] {', '.join(missing)} missing; set selector, domain and "
            "key_file together (or none of them to send unsigned)"
        )
    try:
        import dkim  # noqa: F401  (optional dependency, checked early)
    except ImportError:
        raise ConfigError(
            f"{settings.source}: [dkim] is set but dkimpy is not installed; "
            "run: pip install 'newsletter[dkim]'"
        ) from None
    path = settings.path(d.key_file)
    try:
        key = path.read_bytes()
    except OSError as e:
        raise ConfigError(
            f"{settings.source}: [dkim] key_file {path}: cannot read ({e.strerror})"
        ) from None
    if b"PRIVATE KEY" not in key:
        raise ConfigError(f"{settings.source}: [dkim] key_file {path} is not a PEM private key")
    return key


def _sign(msg_bytes: bytes, settings: Settings, key: bytes) -> bytes:
    import dkim

    present = set(_header_names(msg_bytes))
    headers = [h.encode() for h in DKIM_HEADERS if h in present or h == "from"]
    try:
        signature = dkim.sign(
            msg_bytes,
            settings.dkim.selector.encode(),
            settings.dkim.domain.encode(),
            key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=headers,
            linesep=b"\r\n",
        )
    except dkim.DKIMException as e:
        raise ConfigError(
            f"{settings.source}: [dkim] cannot sign with key_file "
            f"{settings.path(settings.dkim.key_file)} ({e})"
        ) from None
    return bytes(signature) + msg_bytes


def dkim_sign(msg_bytes: bytes, settings: Settings) -> bytes:
    """Prepend a DKIM-Signature when [dkim] selector, domain and key_file are set."""
    key = _dkim_key(settings)
    return msg_bytes if key is None else _sign(msg_bytes, settings, key)


class SmtpConnection:
    """One persistent SMTP connection for many messages; reconnects when the server hangs up.

    Not shared between threads: give each worker its own connection.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        retries: int = 3,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        resolved = password or _resolve_password(settings)  # "" counts as missing
        self._password = _Secret(resolved) if resolved else None
        self._ctx = ssl_context if ssl_context is not None else tls_context(settings)
        self._dkim_key = _dkim_key(settings)
        self._retries = max(0, retries)
        self._backoff = backoff
        self._sleep = sleep
        self._random = random.Random()
        self._smtp: smtplib.SMTP | None = None
        self._stopped: Callable[[], bool] = lambda: False
        self.connects = 0  # how many times a connection was opened (reconnects included)

    def stop_on(self, stopped: Callable[[], bool], sleep: Callable[[float], None]) -> None:
        """Once `stopped()` (a signal), retry and reconnect no more, and close without waiting
        for QUIT's answer; `sleep` is a wait that a stop ends at once.

        The message in flight still gets its answer (or its timeout): cutting it off could
        leave the server with a message the outbox does not know it has.
        """
        self._stopped = stopped
        self._sleep = sleep

    def __repr__(self) -> str:
        s = self._settings.smtp
        user = f" as {s.username!r}" if s.username else ""
        state = "open" if self._smtp is not None else "closed"
        return f"<SmtpConnection {_where(self._settings)} {s.security}{user} {state}>"

    # -- connection ---------------------------------------------------------------------------
    def open(self) -> None:
        """Connect, EHLO, STARTTLS or TLS, AUTH now, so bad settings show before any message."""
        try:
            self._connect()
        except _Transient as e:
            raise DeliveryError(str(e)) from None

    def _scrub(self, text: str) -> str:
        if self._password is None:
            return text
        secret = self._password.reveal()
        user = self._settings.smtp.username
        forms = {
            secret,
            b64encode(secret.encode()).decode(),
            b64encode(f"\0{user}\0{secret}".encode()).decode(),
        }
        for form in forms:
            text = text.replace(form, "***")
        return text

    def _connect(self) -> None:
        if self._smtp is not None:
            return
        s = self._settings.smtp
        where = _where(self._settings)
        helo = s.helo or _default_helo()
        smtp: smtplib.SMTP | None = None
        try:
            if s.security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    s.host, s.port, local_hostname=helo, timeout=s.timeout, context=self._ctx
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, local_hostname=helo, timeout=s.timeout)
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(
                        f'{where} does not offer STARTTLS; use security = "ssl" if it speaks '
                        'TLS from the start (port 465), or "none" only for a local relay'
                    )
                smtp.starttls(context=self._ctx)
                smtp.ehlo()
            if self._password is not None:
                _login(smtp, s.username, self._password.reveal())
        except ssl.SSLCertVerificationError as e:
            self._discard(smtp)
            raise DeliveryError(
                f"cannot connect to {where}: its TLS certificate is not trusted "
                f"({e.verify_message}); set [smtp] ca_file to the CA that signed it "
                "(verify_tls = false only for a test server)"
            ) from None
        except ssl.SSLError as e:
            self._discard(smtp)
            raise DeliveryError(
                f"cannot connect to {where}: TLS failed ({e.reason or e}); check [smtp] security "
                '("ssl" for port 465, "starttls" for 587)'
            ) from None
        except smtplib.SMTPAuthenticationError as e:
            self._discard(smtp)
            raise DeliveryError(
                f"{where} refused the login for {s.username!r}: {e.smtp_code} "
                f"{self._scrub(_text(e.smtp_error))}; check [smtp] username and the password in "
                f"${s.password_env}"
            ) from None
        except smtplib.SMTPNotSupportedError:
            self._discard(smtp)
            raise DeliveryError(
                f"{where} does not offer AUTH on this connection; clear [smtp] username, or use "
                'security = "starttls" or "ssl"'
            ) from None
        except smtplib.SMTPConnectError as e:
            self._discard(smtp)
            raise _Transient(
                f"cannot connect to {where}: the server answered {e.smtp_code} "
                f"{self._scrub(_text(e.smtp_error))}"
            ) from None
        except smtplib.SMTPResponseException as e:
            self._discard(smtp)
            raise DeliveryError(
                f"{where} answered {e.smtp_code} {self._scrub(_text(e.smtp_error))} while setting "
                "up the connection"
            ) from None
        except (TimeoutError, smtplib.SMTPServerDisconnected) as e:
            self._discard(smtp)
            if not isinstance(e, TimeoutError) and not isinstance(e.__context__, TimeoutError):
                raise _Transient(
                    f"cannot connect to {where}: {self._scrub(str(e) or 'connection closed')}"
                ) from None
            hint = (
                '; if it expects TLS from the start (port 465) set security = "ssl"'
                if s.security != "ssl"
                else ""
            )
            raise _Transient(
                f"cannot connect to {where}: no answer within {s.timeout:g} s{hint}"
            ) from None
        except (smtplib.SMTPException, OSError) as e:
            self._discard(smtp)
            reason = (
                e.strerror if isinstance(e, OSError) and e.strerror else str(e) or type(e).__name__
            )
            raise _Transient(f"cannot connect to {where}: {self._scrub(reason)}") from None
        except DeliveryError:
            self._discard(smtp)
            raise
        self._smtp = smtp
        self.connects += 1

    @staticmethod
    def _discard(smtp: smtplib.SMTP | None) -> None:
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        self._discard(smtp)

    def close(self) -> None:
        """Say QUIT politely; a server that is already gone is fine."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        if self._stopped():
            self._discard(smtp)
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            self._discard(smtp)

    def __enter__(self) -> SmtpConnection:
        self.open()
        return self

    def __exit__(
        self, tp: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- sending ------------------------------------------------------------------------------
    def send(self, msg: Message | Outgoing, from_addr: str, to_addr: str) -> SendResult:
        """Send one message to one recipient; the answer becomes a SendResult, never an exception.

        A dropped connection (or a 421 "closing") is reconnected and the message retried a few
        times, the first at once, then with exponential backoff and jitter; never after a stop.
        Raises DeliveryError only when reconnecting fails for good (TLS, login).
        """
        refused = check_message(msg, from_addr, to_addr)
        if refused:
            return SendResult("permanent", None, refused)
        from_addr, to_addr = envelope_address(from_addr), envelope_address(to_addr)
        needs_utf8 = not (from_addr.isascii() and to_addr.isascii())
        if isinstance(msg, Outgoing):
            needs_utf8 = needs_utf8 or msg.utf8
        payloads: dict[tuple[bool, bool], bytes] = {}
        last = "no attempt made"
        for attempt in range(self._retries + 1):
            if attempt and self._stopped():
                return SendResult("temporary", None, f"{last} (not retried: stopping)")
            if attempt > 1:
                delay = self._backoff * 2 ** (attempt - 2)
                self._sleep(delay * (1 + 0.5 * self._random.random()))
                if self._stopped():
                    return SendResult("temporary", None, f"{last} (not retried: stopping)")
            try:
                self._connect()
                return self._transaction(msg, from_addr, to_addr, needs_utf8, payloads)
            except _Transient as e:
                last = str(e)
                self._drop()
        return SendResult(
            "temporary", None, f"{last} (gave up after {self._retries + 1} connection attempts)"
        )

    def _payload(
        self,
        msg: Message | Outgoing,
        utf8: bool,
        eight_bit: bool,
        cache: dict[tuple[bool, bool], bytes],
    ) -> bytes | str:
        """The bytes to send, signed when [dkim] is set. An `Outgoing` message is sent as built
        (its bodies are 7-bit); a `Message` is flattened for this server."""
        key = (utf8, eight_bit) if isinstance(msg, Message) else (False, False)
        if key not in cache:
            if isinstance(msg, Outgoing):
                data = msg.data  # its header lines were checked by check_message
            else:
                data = flatten(msg, utf8=utf8, eight_bit=eight_bit)
                if _header_names(data) != [n.lower() for n in msg]:
                    return _LINES_DIFFER
            if self._dkim_key is not None:
                data = _sign(data, self._settings, self._dkim_key)
            cache[key] = data
        return cache[key]

    def _transaction(
        self,
        msg: Message | Outgoing,
        from_addr: str,
        to_addr: str,
        needs_utf8: bool,
        payloads: dict[tuple[bool, bool], bytes],
    ) -> SendResult:
        smtp = self._smtp
        assert smtp is not None
        where = _where(self._settings)
        if needs_utf8 and not smtp.has_extn("smtputf8"):
            return SendResult(
                "permanent",
                None,
                f"{where} does not support SMTPUTF8, which the non-ASCII address in "
                f"{from_addr if not from_addr.isascii() else to_addr} needs",
            )
        eight_bit = smtp.has_extn("8bitmime")
        data = self._payload(msg, needs_utf8, eight_bit, payloads)
        if isinstance(data, str):
            return SendResult("permanent", None, data)
        options = []
        if needs_utf8:
            options.append("SMTPUTF8")
        if eight_bit and not data.isascii():
            options.append("BODY=8BITMIME")
        if smtp.has_extn("size"):
            options.append(f"SIZE={len(data)}")
        phase = "MAIL FROM"
        try:
            if smtp.has_extn("pipelining"):
                phase = "MAIL FROM, RCPT TO and DATA"
                refused = self._pipelined(smtp, from_addr, to_addr, options)
            else:
                refused = self._one_by_one(smtp, from_addr, to_addr, options)
            if refused is not None:
                return refused
            dots = msg.dots if isinstance(msg, Outgoing) and data is msg.data else None
            smtp.send(_dot_stuffed(data, crlf=isinstance(msg, Outgoing), dots=dots))
            phase = "the final reply"
            code, resp = self._final_reply(smtp)
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            if phase == "the final reply":
                self._drop()
                why = (
                    f"no final reply within {self._settings.smtp.data_timeout:g} s (data_timeout)"
                    if "timed out" in str(e)
                    else f"the connection dropped before the final reply ({e})"
                )
                return SendResult(
                    "unknown", None, f"{where}: {why} after the message body; it may have it"
                )
            raise _Transient(f"{where} dropped the connection during {phase} ({e})") from None
        if code == 421:
            raise _Transient(f"{where} is closing the connection: 421 {_text(resp)}")
        return self._finish(code, resp)

    def _one_by_one(
        self, smtp: smtplib.SMTP, from_addr: str, to_addr: str, options: list[str]
    ) -> SendResult | None:
        """MAIL, RCPT and DATA, each waiting for its answer: three round trips."""
        code, resp = smtp.mail(from_addr, options)
        if code != 250:
            return self._refused(code, resp)
        code, resp = smtp.rcpt(to_addr)
        if code not in (250, 251):
            return self._refused(code, resp, recipient=True)
        code, resp = smtp.docmd("DATA")
        if code != 354:
            return self._refused(code, resp)
        return None

    def _pipelined(
        self, smtp: smtplib.SMTP, from_addr: str, to_addr: str, options: list[str]
    ) -> SendResult | None:
        """MAIL, RCPT and DATA in one write, then their three answers in order (RFC 2920): one
        round trip. The first refusal decides; the later answers are read all the same, and a
        354 that came anyway (no recipient accepted) is ended with an empty message."""
        # check_message made sure both are plain addresses: no parsing (smtplib.quoteaddr) here
        mail = f"MAIL FROM:<{from_addr}>{''.join(' ' + o for o in options)}"
        batch = f"{mail}\r\nRCPT TO:<{to_addr}>\r\nDATA\r\n"
        smtp.send(batch.encode("utf-8" if "SMTPUTF8" in options else "ascii"))
        answers = []
        for _ in range(3):
            code, resp = smtp.getreply()
            if code == 421:  # closing: whatever else was said, the transaction is over
                return self._refused(code, resp)
            answers.append((code, resp))
        (mail_code, mail_resp), (rcpt_code, rcpt_resp), (data_code, data_resp) = answers
        if mail_code == 250 and rcpt_code in (250, 251) and data_code == 354:
            return None
        if data_code == 354:
            smtp.send(b".\r\n")
            smtp.getreply()
        if mail_code != 250:
            return self._refused(mail_code, mail_resp)
        if rcpt_code not in (250, 251):
            return self._refused(rcpt_code, rcpt_resp, recipient=True)
        return self._refused(data_code, data_resp)

    def _final_reply(self, smtp: smtplib.SMTP) -> tuple[int, bytes]:
        """The answer to the final dot, waited for up to `data_timeout` rather than `timeout`."""
        sock = smtp.sock
        if sock is not None:
            sock.settimeout(self._settings.smtp.data_timeout)
        try:
            return smtp.getreply()
        finally:
            if smtp.sock is not None:
                smtp.sock.settimeout(self._settings.smtp.timeout)

    def _refused(self, code: int, resp: bytes | str, *, recipient: bool = False) -> SendResult:
        if code == 421:
            raise _Transient(
                f"{_where(self._settings)} is closing the connection: 421 {_text(resp)}"
            )
        return self._finish(code, resp, recipient=recipient)

    def _finish(self, code: int, resp: bytes | str, *, recipient: bool = False) -> SendResult:
        result = dataclasses.replace(_classify(code, self._scrub(_text(resp))), recipient=recipient)
        if result.status != "sent":
            smtp = self._smtp
            try:
                if smtp is not None:
                    smtp.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()
            if code < 200 or code >= 600:
                self._drop()  # an answer that makes no sense: start afresh next time
        return result


class RateLimiter:
    """Thread-safe spacing of messages across all connections: one every `interval` seconds.

    Messages are spaced evenly (100 an hour: one every 36 s), so no window of the period ever
    holds more than the limit, whatever the provider's way of counting.
    """

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = max(0.0, interval)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """`[smtp] rate_limit` messages per `rate_period`."""
        return cls(settings.smtp.rate_interval)

    def wait(self) -> None:
        """Block until the next message may go; each caller takes its own slot."""
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            at = now if self._next is None else max(now, self._next)
            self._next = at + self.interval
        if at > now:
            self._sleep(at - now)


__all__ = [
    "RateLimiter",
    "SendResult",
    "SmtpConnection",
    "check_message",
    "dkim_sign",
    "envelope_address",
    "flatten",
    "smtp_password",
    "tls_context",
]
