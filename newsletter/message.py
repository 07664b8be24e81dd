"""Build the MIME message for one recipient from an issue rendered once.

Headers come from parsed addresses (`email.headerregistry`), never from pasted strings, so a
line break in a subject, a name or an address can never start a header of its own: it is an
error. The one-click unsubscribe headers follow RFC 2369 and RFC 8058.
"""

from __future__ import annotations

import binascii
import random
import re
import sys
from base64 import b64encode
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import errors
from email import policy as email_policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime, localtime, make_msgid
from functools import cache, lru_cache

from .config import Settings
from .errors import ConfigError, NewsletterError, RecipientError, TemplateError
from .model import Email
from .personalize import TOKEN, ReaderValues, fill, personalize, reader_values

MAX_HEADER_LINE = 998  # RFC 5322: no line may be longer, folded or not


class _AngleListHeader(UnstructuredHeader, BaseHeader):
    """List-Unsubscribe: folded only between its <…> items and never MIME-encoded.

    The standard folder turns a long URL into =?utf-8?q?…?= words, which no mail client
    recognises as a link any more.
    """

    def fold(self, *, policy: Policy) -> str:
        return _fold_angle_list(self.name, str(self), policy.linesep)


def _fold_angle_list(name: str, value: str, linesep: str) -> str:
    """`name: <a>,` then ` <b>` on the next line: folded between items only, never inside."""
    items = re.findall(r"<[^<>]*>", value) or [value]
    lines = [f"{name}: {items[0]}"]
    for item in items[1:]:
        lines[-1] += ","
        lines.append(f" {item}")
    for line in lines:
        if len(line.encode("utf-8")) > MAX_HEADER_LINE:
            raise TemplateError(
                f"{name}: a link is longer than {MAX_HEADER_LINE} characters; "
                "use a shorter unsubscribe URL"
            )
    return linesep.join(lines) + linesep


def _policy(utf8: bool) -> Policy:
    registry = HeaderRegistry()
    registry.map_to_type("list-unsubscribe", _AngleListHeader)
    return email_policy.SMTP.clone(header_factory=registry, utf8=utf8)


def _no_line_breaks(value: str, what: str, error: type[NewsletterError] = TemplateError) -> str:
    if "\r" in value or "\n" in value:
        raise error(
            f"{what} contains a line break, which would start a new mail header: "
            f"{value[:60]!r}; remove it"
        )
    return value


@cache
def _idna(domain: str) -> str | None:
    """A domain in its ASCII (xn--) form; None when it is not a valid name."""
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _recipient(display: str | None, addr_spec: str, what: str) -> tuple[str, str, str]:
    """(display name, local part, domain) checked: no line break, one plain address, the domain
    in IDNA (xn--) form, the local part as given, the name's runs of spaces made one."""
    _no_line_breaks(display or "", what, RecipientError)
    _no_line_breaks(addr_spec, what, RecipientError)
    addr_spec = addr_spec.strip()
    local, at, domain = addr_spec.rpartition("@")
    if not at or not local or not domain or any(c in addr_spec for c in ' <>,;"()[]\\'):
        raise RecipientError(f"{what} {addr_spec!r} is not an email address like name@example.com")
    ascii_domain = _idna(domain)
    if ascii_domain is None:
        raise RecipientError(f"{what} {addr_spec!r}: the domain is not a valid name")
    return " ".join((display or "").split()), local, ascii_domain


def _address(display: str | None, addr_spec: str, what: str) -> Address:
    name, local, domain = _recipient(display, addr_spec, what)
    return Address(display_name=name, username=local, domain=domain)


def _setting_address(value: str, key: str, settings: Settings) -> Address:
    """Parse "Name <addr>" from a setting; a mistake names the setting."""
    where = f"{settings.source}: [newsletter] {key}"
    if "\r" in value or "\n" in value:
        raise ConfigError(f"{where} contains a line break; write the address on one line")
    try:
        header = HeaderRegistry()("From", value)
        addresses: tuple[Address, ...] = getattr(header, "addresses", ())
        bad = [d for d in header.defects if not isinstance(d, errors.NonASCIILocalPartDefect)]
    except (errors.MessageError, ValueError, IndexError):
        addresses, bad = (), [errors.HeaderDefect("unparsable")]
    if bad or len(addresses) != 1 or not addresses[0].domain or not addresses[0].username:
        raise ConfigError(f"{where} = {value!r} is not one address like 'Name <name@example.com>'")
    a = addresses[0]
    try:
        return _address(a.display_name, f"{a.username}@{a.domain}", f"[newsletter] {key}")
    except RecipientError as e:
        raise ConfigError(f"{settings.source}: {e}") from None


@dataclass(frozen=True)
class _Sender:
    """What every message of the settings carries, checked once."""

    sender: Address
    reply_to: Address | None
    mailto: str  # "mailto:…" for List-Unsubscribe, or ""


def _sender(settings: Settings, unsubscribe_mailto: str | None) -> _Sender:
    n = settings.newsletter
    sender = _setting_address(n.from_addr, "from", settings)
    reply_to = _setting_address(n.reply_to, "reply_to", settings) if n.reply_to else None
    mailto = (unsubscribe_mailto or "").strip()
    if mailto:
        _no_line_breaks(mailto, "the unsubscribe address")
        if not mailto.lower().startswith("mailto:"):
            mailto = "mailto:" + mailto
    return _Sender(sender, reply_to, mailto)


def _links(mailto: str, unsubscribe_url: str) -> tuple[str, bool]:
    """List-Unsubscribe's value (RFC 2369) and whether one-click (RFC 8058, https only) applies."""
    _no_line_breaks(unsubscribe_url, "the unsubscribe URL")
    links = [f"<{u}>" for u in (mailto, unsubscribe_url.strip()) if u]
    if any(c in u for u in links for c in " ,") or any(u.count(">") > 1 for u in links):
        raise TemplateError("unsubscribe links may not contain spaces, commas or '>'")
    return ", ".join(links), unsubscribe_url.strip().lower().startswith("https://")


@lru_cache(maxsize=8)
def _date_header(moment: datetime, offset: timedelta | None) -> str:
    """RFC 5322's date, the same for every message of one second (formatting is slow); the
    offset is in the key, as equal instants in two zones compare equal."""
    return format_datetime(moment)


def _date(date: datetime | None) -> datetime:
    if date is None:
        return localtime()
    if date.tzinfo is None or date.utcoffset() is None:
        raise TemplateError("the message date needs a time zone (an aware datetime)")
    return date


def _message_id(message_id: str | None, sender: Address) -> str:
    if message_id:
        return _no_line_breaks(message_id, "the Message-ID")
    return make_msgid(domain=sender.domain)


def build_message(
    email: Email,
    settings: Settings,
    *,
    to_addr: str,
    to_name: str | None,
    unsubscribe_url: str,
    unsubscribe_mailto: str | None,
    message_id: str | None = None,
    date: datetime | None = None,
    fields: Iterable[tuple[str, str]] = (),
) -> EmailMessage:
    """The reference: the same message built by Python's `email` package, slowly, for one reader.

    Nothing sends it; the tests compare `PreparedIssue.message` with it part by part.
    `date` must carry its time zone; without one the local time of the machine is used.
    """
    fixed = _sender(settings, unsubscribe_mailto)
    recipient = _address(to_name, to_addr, "recipient")
    subject = _no_line_breaks(email.subject, "the subject")
    date = _date(date)
    html, text = personalize(email, name=to_name, unsubscribe_url=unsubscribe_url, fields=fields)
    links, one_click = _links(fixed.mailto, unsubscribe_url)

    utf8 = not (fixed.sender.username.isascii() and recipient.username.isascii())
    msg = EmailMessage(policy=_policy(utf8))
    msg["From"] = fixed.sender
    msg["To"] = recipient
    if fixed.reply_to is not None:
        msg["Reply-To"] = fixed.reply_to
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = _message_id(message_id, fixed.sender)
    msg["List-Unsubscribe"] = links
    if one_click:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for part in msg.iter_parts():
        del part["MIME-Version"]  # add_alternative copies it into the part; it belongs on top
    return msg


# -- the fast path: the message built once per issue, filled in per reader ---------------------

QP_LINE = 76  # RFC 2045: an encoded line holds at most 76 characters
_DOT_ATOM = re.compile(r"[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*")  # \w: RFC 6532
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_SHORT_LINE = 300  # a line holding tokens re-encoded whole up to this long, in pieces beyond
_WORD_BYTES = 45  # UTF-8 bytes per encoded word: =?utf-8?b?<60 base64 chars>?= is 72 long


def _qp(data: bytes, *, hard: bool) -> bytes:
    """`data` (no line break in it) in quoted-printable, wrapped with soft breaks; ends with a
    hard line break, or with a soft one when more of the same line follows.

    Lines are encoded one by one, so an issue's lines are encoded once and only the values of a
    reader are encoded per message.
    """
    encoded = binascii.b2a_qp(data, istext=True)  # lines of 76 at most, end spaces quoted
    if not hard:
        last = encoded.rpartition(b"\n")[2]
        if len(last) >= QP_LINE:  # no room for the "=": its last character goes down a line
            n = 3 if last[-3:-2] == b"=" else 1
            encoded = encoded[:-n] + b"=\n" + encoded[-n:]
        encoded += b"="
    return encoded.replace(b"\n", b"\r\n") + b"\r\n"


def _qp_text(text: str) -> bytes:
    """Text with line breaks in it as quoted-printable hard lines."""
    return b"".join(_qp(line, hard=True) for line in re.split(rb"\r\n|\r|\n", text.encode()))


@dataclass(frozen=True)
class _TokenLine:
    """A line of a body holding tokens: its static pieces encoded (ending in a soft break, or in
    a hard one if nothing follows), its tokens left to fill."""

    raw: str
    pieces: tuple[tuple[bytes, bytes] | str, ...]

    def encode(self, values: ReaderValues, html: bool) -> bytes:
        if len(self.raw) <= _SHORT_LINE:
            return _qp_text(fill(self.raw, values, html=html))
        out: list[tuple[bytes, bytes] | bytes] = []
        for piece in self.pieces:
            if isinstance(piece, tuple):
                out.append(piece)
                continue
            value = fill(piece, values, html=html)
            if "\r" in value or "\n" in value:  # a field's default may hold one: a rare case
                return _qp_text(fill(self.raw, values, html=html))
            if value:
                out.append(value.encode("utf-8"))
        last = len(out) - 1
        return (
            b"".join(
                (p[i == last] if isinstance(p, tuple) else _qp(p, hard=i == last))
                for i, p in enumerate(out)
            )
            or b"\r\n"
        )


def _token_line(raw: str) -> _TokenLine:
    pieces: list[tuple[bytes, bytes] | str] = []
    at = 0
    for match in TOKEN.finditer(raw):
        if match.start() > at:
            static = raw[at : match.start()].encode("utf-8")
            pieces.append((_qp(static, hard=False), _qp(static, hard=True)))
        pieces.append(match[0])
        at = match.end()
    if at < len(raw):
        static = raw[at:].encode("utf-8")
        pieces.append((_qp(static, hard=False), _qp(static, hard=True)))
    return _TokenLine(raw, tuple(pieces))


@dataclass(frozen=True)
class _Body:
    """One text part in quoted-printable: runs of encoded lines, and the lines to fill."""

    chunks: tuple[bytes | _TokenLine, ...]
    html: bool
    dots: tuple[tuple[int, ...], ...] = ()  # per static chunk: where its lines start with "."

    def encode(self, values: ReaderValues, at: int) -> tuple[list[bytes], list[int]]:
        """The part's bytes for one reader, and the offsets (the part starting at `at`) of the
        lines that start with a dot, which DATA must double."""
        out: list[bytes] = []
        dots: list[int] = []
        static = iter(self.dots)
        for chunk in self.chunks:
            if isinstance(chunk, bytes):
                dots.extend(at + offset for offset in next(static))
            else:
                chunk = chunk.encode(values, self.html)
                dots.extend(at + offset for offset in _line_dots(chunk))
            out.append(chunk)
            at += len(chunk)
        return out, dots


def _line_dots(lines: bytes) -> tuple[int, ...]:
    """The offsets of the lines of `lines` (whole CRLF lines) that start with a dot."""
    found = [0] if lines.startswith(b".") else []
    at = lines.find(b"\r\n.")
    while at >= 0:
        found.append(at + 2)
        at = lines.find(b"\r\n.", at + 2)
    return tuple(found)


def _body(text: str, *, html: bool) -> _Body:
    """As `set_content` splits a text into lines (bytes.splitlines), each line encoded once."""
    chunks: list[bytes | _TokenLine] = []
    run: list[bytes] = []
    for line in text.encode("utf-8").splitlines() or [b""]:
        if b"__NEWSLETTER_" in line and TOKEN.search(raw := line.decode("utf-8")):
            if run:
                chunks.append(b"".join(run))
                run = []
            chunks.append(_token_line(raw))
        else:
            run.append(_qp(line, hard=True))
    if run:
        chunks.append(b"".join(run))
    dots = tuple(_line_dots(c) for c in chunks if isinstance(c, bytes))
    return _Body(tuple(chunks), html, dots)


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 words (UTF-8, base64) of at most 75 characters, none splitting a character."""
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for char in text:
        n = len(char.encode("utf-8"))
        if size + n > _WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += n
    words.append("".join(chunk))
    return [f"=?utf-8?b?{b64encode(w.encode()).decode('ascii')}?=" for w in words]


def _to_header(name: str, local: str, domain: str) -> bytes:
    """To: as an atom phrase, a quoted string or RFC 2047 words: whichever keeps it one address
    on short lines; the address itself is never encoded (a non-ASCII local part goes as UTF-8,
    RFC 6532)."""
    if not _DOT_ATOM.fullmatch(local):
        local = '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'
    addr = f"{local}@{domain}"
    if not name:
        lines = [f"To: {addr}"]
    elif len(name) + len(addr) < 68 and "=?" not in name and _ATOMS.fullmatch(name):
        lines = [f"To: {name} <{addr}>"]
    elif len(name) + len(addr) < 66 and "=?" not in name and name.isprintable() and name.isascii():
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        lines = [f'To: "{quoted}" <{addr}>']
    else:
        words = _encoded_words(name)
        lines = [f"To: {words[0]}", *(f" {w}" for w in words[1:])]
        if len(lines[-1]) + len(addr) + 3 <= 78:
            lines[-1] += f" <{addr}>"
        else:
            lines.append(f" <{addr}>")
    data = "\r\n".join(lines).encode("utf-8") + b"\r\n"
    if max(len(line) for line in data.split(b"\r\n")) > MAX_HEADER_LINE:
        raise RecipientError(f"recipient {addr[:60]!r}…: the address is too long for a header")
    return data


def _fold(policy: Policy, name: str, value: Address | str) -> bytes:
    """One static header as the `email` package folds it (done once per issue)."""
    return policy.fold_binary(*policy.header_store_parse(name, value))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Outgoing:
    """One reader's message as it goes on the wire: CRLF lines, 7-bit bodies, unsigned.

    `header_names` (lower case, in order) let the mailer check that no header line was broken
    into two; `utf8` marks RFC 6532 headers (a non-ASCII local part), which need SMTPUTF8.
    """

    data: bytes
    header_names: tuple[str, ...]
    utf8: bool
    # Where its lines start with ".", for DATA to double (None: not known, so DATA looks).
    dots: tuple[int, ...] | None = None


@dataclass(frozen=True)
class PreparedIssue:
    """One issue's message for one set of settings, built once: MIME structure, static headers
    and encoded bodies, with slots for each reader's address, name, link, Message-ID and Date.

    Most of the cost of a message is in Python's `email` package; with this, a message costs
    its reader's values and a join.
    """

    fixed: _Sender
    heads: dict[bool, tuple[bytes, bytes]]  # utf8 -> (From line, Reply-To and Subject lines)
    names: tuple[tuple[str, ...], tuple[str, ...]]  # header names around To, Date, Message-ID
    mime: bytes  # MIME-Version, Content-Type, and the text part's boundary and headers
    between: bytes  # the text part's end, the HTML part's boundary and headers
    end: bytes  # the closing boundary
    text: _Body
    html: _Body

    def message(
        self,
        *,
        to_addr: str,
        to_name: str | None,
        unsubscribe_url: str,
        message_id: str | None = None,
        date: datetime | None = None,
        fields: Iterable[tuple[str, str]] = (),
    ) -> Outgoing:
        """One reader's message. `date` must carry its time zone (the local time when None)."""
        name, local, domain = _recipient(to_name, to_addr, "recipient")
        moment = _date(date).replace(microsecond=0)
        when = _date_header(moment, moment.utcoffset())
        msgid = _message_id(message_id, self.fixed.sender)
        values = reader_values(name=to_name, unsubscribe_url=unsubscribe_url, fields=fields)
        links, one_click = _links(self.fixed.mailto, unsubscribe_url)
        utf8 = not (self.fixed.sender.username.isascii() and local.isascii())
        if not utf8 and not (links + msgid).isascii():
            raise TemplateError(
                "the unsubscribe links and the Message-ID must be ASCII; percent-encode them"
            )
        from_line, subject_lines = self.heads[utf8]
        list_lines = _fold_angle_list("List-Unsubscribe", links, "\r\n")
        if one_click:
            list_lines += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        stamp = f"Date: {when}\r\nMessage-ID: {msgid}\r\n{list_lines}".encode()
        if max(len(line) for line in stamp.split(b"\r\n")) > MAX_HEADER_LINE:
            raise TemplateError(f"the Message-ID {msgid[:60]!r}… is too long for a header")
        head = [from_line, _to_header(name, local, domain), subject_lines, stamp, self.mime]
        at = sum(map(len, head))
        text, dots = self.text.encode(values, at)
        at += sum(map(len, text)) + len(self.between)
        html, html_dots = self.html.encode(values, at)
        data = b"".join([*head, *text, self.between, *html, self.end])
        before, after = self.names
        post = ("list-unsubscribe-post",) if one_click else ()
        return Outgoing(data, (*before, *post, *after), utf8, (*dots, *html_dots))


def prepare(email: Email, settings: Settings) -> PreparedIssue:
    """Build an issue's message once for every reader, with `[newsletter]`'s sender and the
    List-Unsubscribe mailto: that `run` uses."""
    from .unsubscribe import unsubscribe_mailto

    fixed = _sender(settings, unsubscribe_mailto(settings))
    subject = _no_line_breaks(email.subject, "the subject")
    heads: dict[bool, tuple[bytes, bytes]] = {}
    for utf8 in (False, True):
        policy = _policy(utf8).clone(linesep="\r\n")
        reply = _fold(policy, "Reply-To", fixed.reply_to) if fixed.reply_to else b""
        heads[utf8] = (
            _fold(policy, "From", fixed.sender),
            reply + _fold(policy, "Subject", subject),
        )
    before = ("from", "to", *(("reply-to",) if fixed.reply_to else ()), "subject")
    names = (
        (*before, "date", "message-id", "list-unsubscribe"),
        ("mime-version", "content-type"),
    )
    boundary = f"{'=' * 15}{random.randrange(sys.maxsize):019d}=="  # as the email package's

    def part(subtype: str) -> bytes:
        return (
            f'--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode("ascii")

    return PreparedIssue(
        fixed=fixed,
        heads=heads,
        names=names,
        mime=(
            f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="{boundary}"'
            "\r\n\r\n"
        ).encode("ascii")
        + part("plain"),
        between=b"\r\n" + part("html"),
        end=f"\r\n--{boundary}--\r\n".encode("ascii"),
        text=_body(email.text, html=False),
        html=_body(email.html, html=True),
    )


def outgoing(
    email: Email,
    settings: Settings,
    *,
    to_addr: str,
    to_name: str | None,
    unsubscribe_url: str,
    message_id: str | None = None,
    date: datetime | None = None,
    fields: Iterable[tuple[str, str]] = (),
) -> Outgoing:
    """The message exactly as `run` sends it to one reader: the one path for every message, so
    `build`'s message.eml, `run --dry-run`'s files and `send-test` cannot drift from a real send
    (the mailto: entry of List-Unsubscribe included). `run` prepares once per issue instead."""
    return prepare(email, settings).message(
        to_addr=to_addr,
        to_name=to_name,
        unsubscribe_url=unsubscribe_url,
        message_id=message_id,
        date=date,
        fields=fields,
    )


def eml_bytes(msg: Outgoing) -> bytes:
    """The bytes an .eml file holds: those the mailer puts on the wire (CRLF), unsigned."""
    return msg.data
