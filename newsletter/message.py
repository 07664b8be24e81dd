"""Build the MIME message for one recipient from an issue rendered once.

Headers come from parsed addresses (`email.headerregistry`), never from pasted strings, so a
line break in a subject, a name or an address can never start a header of its own: it is an
error. The one-click unsubscribe headers follow RFC 2369 and RFC 8058.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from email import errors
from email import policy as email_policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from email.utils import localtime, make_msgid

from .config import Settings
from .errors import ConfigError, NewsletterError, RecipientError, TemplateError
from .model import Email
from .personalize import personalize

MAX_HEADER_LINE = 998  # RFC 5322: no line may be longer, folded or not


class _AngleListHeader(UnstructuredHeader, BaseHeader):
    """List-Unsubscribe: folded only between its <…> items and never MIME-encoded.

    The standard folder turns a long URL into =?utf-8?q?…?= words, which no mail client
    recognises as a link any more.
    """

    def fold(self, *, policy: Policy) -> str:
        items = re.findall(r"<[^<>]*>", str(self)) or [str(self)]
        lines = [f"{self.name}: {items[0]}"]
        for item in items[1:]:
            lines[-1] += ","
            lines.append(f" {item}")
        for line in lines:
            if len(line.encode("utf-8")) > MAX_HEADER_LINE:
                raise TemplateError(
                    f"{self.name}: a link is longer than {MAX_HEADER_LINE} characters; "
                    "use a shorter unsubscribe URL"
                )
        return policy.linesep.join(lines) + policy.linesep


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


def _address(display: str | None, addr_spec: str, what: str) -> Address:
    """An Address from its parts; the domain in IDNA (xn--) form, the local part as given."""
    _no_line_breaks(display or "", what, RecipientError)
    _no_line_breaks(addr_spec, what, RecipientError)
    addr_spec = addr_spec.strip()
    local, at, domain = addr_spec.rpartition("@")
    if not at or not local or not domain or any(c in addr_spec for c in ' <>,;"()[]\\'):
        raise RecipientError(f"{what} {addr_spec!r} is not an email address like name@example.com")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise RecipientError(f"{what} {addr_spec!r}: the domain is not a valid name") from None
    return Address(display_name=" ".join((display or "").split()), username=local, domain=domain)


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


def _is_ascii(text: str) -> bool:
    return text.isascii()


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
    """multipart/alternative (text, then HTML) for one recipient, with one-click unsubscribe.

    `date` must carry its time zone; without one the local time of the machine is used (the
    caller is the edge that may read the clock). A non-ASCII local part in an address makes an
    internationalised message (RFC 6532), which needs a server that offers SMTPUTF8.
    """
    n = settings.newsletter
    sender = _setting_address(n.from_addr, "from", settings)
    reply_to = _setting_address(n.reply_to, "reply_to", settings) if n.reply_to else None
    recipient = _address(to_name, to_addr, "recipient")
    subject = _no_line_breaks(email.subject, "the subject")
    _no_line_breaks(unsubscribe_url, "the unsubscribe URL")
    mailto = (unsubscribe_mailto or "").strip()
    if mailto:
        _no_line_breaks(mailto, "the unsubscribe address")
        if not mailto.lower().startswith("mailto:"):
            mailto = "mailto:" + mailto
    if date is None:
        date = localtime()
    elif date.tzinfo is None or date.utcoffset() is None:
        raise TemplateError("the message date needs a time zone (an aware datetime)")

    html, text = personalize(email, name=to_name, unsubscribe_url=unsubscribe_url, fields=fields)
    links = [f"<{u}>" for u in (mailto, unsubscribe_url.strip()) if u]
    if any(c in u for u in links for c in " ,") or any(u.count(">") > 1 for u in links):
        raise TemplateError("unsubscribe links may not contain spaces, commas or '>'")

    utf8 = not all(_is_ascii(a.username) for a in (sender, recipient))
    msg = EmailMessage(policy=_policy(utf8))
    msg["From"] = sender
    msg["To"] = recipient
    if reply_to is not None:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = (
        _no_line_breaks(message_id, "the Message-ID")
        if message_id
        else (make_msgid(domain=sender.domain))
    )
    msg["List-Unsubscribe"] = ", ".join(links)
    if unsubscribe_url.strip().lower().startswith("https://"):
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for part in msg.iter_parts():
        del part["MIME-Version"]  # add_alternative copies it into the part; it belongs on top
    return msg


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
) -> EmailMessage:
    """The message exactly as `run` sends it to one reader: the one path for every message, so
    `build`'s message.eml, `run --dry-run`'s files and `send-test` cannot drift from a real send
    (the mailto: entry of List-Unsubscribe included)."""
    from .unsubscribe import unsubscribe_mailto

    return build_message(
        email,
        settings,
        to_addr=to_addr,
        to_name=to_name,
        unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=unsubscribe_mailto(settings),
        message_id=message_id,
        date=date,
        fields=fields,
    )


def eml_bytes(msg: EmailMessage) -> bytes:
    """The bytes an .eml file holds: those the mailer puts on the wire (CRLF, 8bit), unsigned."""
    from .mailer import flatten

    return flatten(msg)
