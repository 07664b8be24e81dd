"""Bounce reports: RFC 3464 delivery status notifications read from an mbox file or a Maildir.

A report is a `multipart/report` whose `message/delivery-status` part holds one block of fields
per recipient: `Final-Recipient` (and maybe `Original-Recipient`), `Action`, `Status` (an RFC 3463
code: 5.x.x permanent, 4.x.x temporary, 2.x.x delivered) and often `Diagnostic-Code`, the
server's own words. The class of `Status` decides: a hard bounce (5) is suppressed, a soft one
(4) only counted. The stdlib `email` package parses these parts (`flufl.bounce` gives only bare
address sets, with no status code and no reason; see the README).
"""

from __future__ import annotations

import email
import email.message
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Literal

from .errors import MailboxError
from .subscribers import normalize_email

Kind = Literal["hard", "soft"]
REASON_PREFIX = "bounce"  # the suppression list's reason for an address a report hard-bounced
REASON_MAX = 300

_STATUS = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})\b")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_REPORT_TYPES = ("message/delivery-status", "message/global-delivery-status")


@dataclass(frozen=True)
class Bounce:
    """One recipient's failure in one report."""

    address: str  # normalized
    kind: Kind
    status: str  # "5.1.1"
    diagnostic: str  # the server's words, or the Action when it gave none
    report: str  # where the report is: the mailbox and the message's key

    @property
    def reason(self) -> str:
        """What the suppression list keeps: the code and the server's words, on one line."""
        return f"{REASON_PREFIX} {self.status}: {self.diagnostic}"[:REASON_MAX]


@dataclass
class Reading:
    """Everything one mailbox said: the bounces, and how many messages were something else."""

    messages: int = 0
    bounces: list[Bounce] = field(default_factory=list)
    not_reports: int = 0  # no delivery-status part: an auto-reply, a human's answer, spam
    unreadable: list[str] = field(default_factory=list)  # report blocks with no usable fields

    @property
    def hard(self) -> list[Bounce]:
        return [b for b in self.bounces if b.kind == "hard"]

    @property
    def soft(self) -> list[Bounce]:
        return [b for b in self.bounces if b.kind == "soft"]


def one_line(value: object, limit: int = REASON_MAX) -> str:
    """A header's text with line breaks, controls and undecodable bytes made harmless."""
    text = str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return " ".join(_CONTROL.sub(" ", text).split())[:limit]


def read_mailbox(path: Path) -> Reading:
    """Read every message of an mbox file or a Maildir folder; nothing in it is changed."""
    reading = Reading()
    for key, message in _messages(path):
        reading.messages += 1
        blocks = list(_status_blocks(message))
        if not blocks:
            reading.not_reports += 1
            continue
        where = f"{path} message {key}"
        for block in blocks:
            bounce = parse_block(block, where)
            if isinstance(bounce, str):
                reading.unreadable.append(bounce)
            elif bounce is not None:
                reading.bounces.append(bounce)
    return reading


def _messages(path: Path) -> Iterator[tuple[str, Message]]:
    if not path.exists():
        raise MailboxError(f"{path}: no such mbox file or Maildir folder")
    box: mailbox.Mailbox
    try:
        if path.is_dir():
            if not (path / "cur").is_dir() or not (path / "new").is_dir():
                raise MailboxError(
                    f"{path}: a folder but not a Maildir (it needs cur/ and new/); give an mbox"
                    " file or a Maildir folder"
                )
            box = mailbox.Maildir(path, factory=None, create=False)
        else:
            box = mailbox.mbox(path, factory=None, create=False)
            if path.stat().st_size and not len(box):
                raise MailboxError(
                    f"{path}: not an mbox file (no line starts with 'From '); give an mbox file"
                    " or a Maildir folder"
                )
        for key in sorted(box.keys(), key=str):
            raw = box.get_bytes(key)
            yield str(key), email.message_from_bytes(raw)
    except OSError as e:
        raise MailboxError(f"{path}: cannot read the mailbox ({e.strerror or e})") from None
    except (mailbox.Error, UnicodeError, ValueError) as e:
        raise MailboxError(f"{path}: cannot read the mailbox ({one_line(e)})") from None


def _status_blocks(message: Message) -> Iterator[Message]:
    """The per-recipient field blocks of every delivery-status part (the first block of each
    part is about the whole message, so it is skipped)."""
    for part in message.walk():
        if part.get_content_type() not in _REPORT_TYPES:
            continue
        payload = part.get_payload()
        if part.get_content_type() == "message/delivery-status" and isinstance(payload, list):
            blocks = [b for b in payload if isinstance(b, Message)]
        else:  # message/global-delivery-status (UTF-8): the email package reads one message
            if isinstance(payload, list):
                raw = b"".join(m.as_bytes() for m in payload if isinstance(m, Message))
            else:
                decoded = part.get_payload(decode=True)
                raw = decoded if isinstance(decoded, bytes) else str(payload).encode()
            text = raw.decode("utf-8", "replace")
            chunks = re.split(r"\r?\n[ \t]*\r?\n", text.strip())
            blocks = [email.message_from_string(c.strip() + "\n") for c in chunks if c.strip()]
        yield from blocks[1:]


def _recipient(block: Message) -> str | None:
    """The address we sent to: Original-Recipient when given, else Final-Recipient."""
    for name in ("Original-Recipient", "Final-Recipient"):
        value = block.get(name)
        if value is None:
            continue
        kind, _, address = one_line(value, 1000).partition(";")
        if address and kind.strip().lower() in ("rfc822", "utf-8"):
            return address.strip().strip("<>").strip()
    return None


def parse_block(block: Message, where: str) -> Bounce | str | None:
    """One recipient's fields as a Bounce; None for a delivery (2.x.x); a warning when unusable."""
    status_field = one_line(block.get("Status", ""))
    found = _STATUS.search(status_field)
    recipient = _recipient(block)
    if found is None or recipient is None:
        missing = "a Status code" if found is None else "a Final-Recipient address"
        return f"{where}: a delivery-status block without {missing}; skipped"
    if found.group(1) == "2":
        return None
    try:
        address = normalize_email(recipient)
    except ValueError as e:
        return f"{where}: {recipient!r} is not an email address ({one_line(e)}); skipped"
    diagnostic = one_line(block.get("Diagnostic-Code", "")) or one_line(
        block.get("Action", "failed")
    )
    return Bounce(
        address=address,
        kind="hard" if found.group(1) == "5" else "soft",
        status=found.group(0),
        diagnostic=diagnostic,
        report=where,
    )
