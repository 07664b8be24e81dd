"""List hygiene: bounce reports onto the suppression list, who is on it and why, and taking an
address off it again.

Service-layer operations like those in `service`: they take the settings (and `now`), work on the
outbox through its public `suppress` and `transaction`, and return values; nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from .bounces import REASON_PREFIX, Bounce, Reading, read_mailbox
from .config import Settings
from .errors import SubscriberError
from .outbox import has_outbox, open_outbox, parse_ts, ts
from .subscribers import email_key, normalize_email

Status = Literal["suppressed", "bounced", "failed"]


@dataclass(frozen=True)
class BounceOutcome:
    reading: Reading
    suppressed: tuple[Bounce, ...]  # hard bounces newly put on the list (one per address)
    already: tuple[Bounce, ...]  # hard bounces for addresses on the list already
    cancelled: int  # queued deliveries cancelled for the newly suppressed


def apply_bounces(settings: Settings, mailbox: Path, now: datetime) -> BounceOutcome:
    """Suppress every address a report hard-bounced (5.x.x), with its code and reason; soft
    bounces (4.x.x) are only counted: the mailer retries those itself."""
    reading = read_mailbox(mailbox)  # the whole mailbox is read before anything changes
    first: dict[str, Bounce] = {}
    for bounce in reading.hard:
        first.setdefault(email_key(bounce.address), bounce)
    suppressed: list[Bounce] = []
    already: list[Bounce] = []
    cancelled = 0
    if first:
        with open_outbox(settings) as outbox:
            for bounce in first.values():
                added, n = outbox.suppress(bounce.address, reason=bounce.reason, now=now)
                (suppressed if added else already).append(bounce)
                cancelled += n
    return BounceOutcome(reading, tuple(suppressed), tuple(already), cancelled)


@dataclass(frozen=True)
class ListedAddress:
    """One address the list keeps away from, or that keeps failing; `issue` for failures."""

    email: str
    status: Status
    reason: str
    since: datetime
    code: int | None = None
    issue: str | None = None  # "series-slug #N", the last issue that failed

    def as_json(self) -> dict[str, object]:
        return {
            "email": self.email,
            "status": self.status,
            "reason": self.reason,
            "since": self.since.isoformat(),
            "code": self.code,
            "issue": self.issue,
        }


def listed_addresses(settings: Settings) -> list[ListedAddress]:
    """The suppressed (unsubscribed, or suppressed for a reason), the bounced (a report's 5.x.x)
    and the failed (a permanent failure, not suppressed) addresses, each with its reason."""
    if not has_outbox(settings):
        return []
    listed: list[ListedAddress] = []
    with open_outbox(settings, create=False) as outbox, outbox.transaction() as c:
        for address, reason, created in c.execute(
            "SELECT email, reason, created_at FROM suppression ORDER BY created_at, email_key"
        ):
            status: Status = "bounced" if reason.startswith(REASON_PREFIX + " ") else "suppressed"
            listed.append(ListedAddress(address, status, reason, parse_ts(created)))
        seen: set[str] = set()
        for key, address, code, answer, updated, slug, number in c.execute(
            "SELECT d.email_key, d.email, d.code, d.answer, d.updated_at, s.slug, i.number"
            " FROM deliveries d JOIN issues i ON i.id = d.issue_id"
            " JOIN series s ON s.id = i.series_id"
            " WHERE d.state = 'failed-permanent' AND NOT EXISTS"
            " (SELECT 1 FROM suppression x WHERE x.email_key = d.email_key)"
            " ORDER BY d.updated_at DESC, d.id DESC"
        ):
            if key in seen:  # the latest failure of each address
                continue
            seen.add(key)
            listed.append(
                ListedAddress(
                    address,
                    "failed",
                    " ".join((answer or "no answer recorded").split()),
                    parse_ts(updated),
                    code=code,
                    issue=f"{slug} #{number}",
                )
            )
    return listed


@dataclass(frozen=True)
class Resubscribed:
    address: str
    reason: str | None  # why it was on the list; None when it was not


def resubscribe(settings: Settings, given: str) -> Resubscribed:
    """Take an address off the suppression list, so the next issues go to it again (deliveries
    already cancelled stay cancelled)."""
    try:
        address = normalize_email(given)
    except ValueError as e:
        raise SubscriberError(f"{given.strip()!r} is not an email address ({e})") from None
    if not has_outbox(settings):
        return Resubscribed(address, None)
    with open_outbox(settings, create=False) as outbox, outbox.transaction() as c:
        row = c.execute(
            "SELECT reason FROM suppression WHERE email_key = ?", (email_key(address),)
        ).fetchone()
        if row is not None:
            c.execute("DELETE FROM suppression WHERE email_key = ?", (email_key(address),))
    return Resubscribed(address, None if row is None else str(row[0]))


Decision = Literal["sent", "resend"]


@dataclass(frozen=True)
class Unanswered:
    """A delivery whose body went out with no final reply after it: the reader may have it."""

    email: str
    issue: str  # "series-slug #N"
    message_id: str
    detail: str
    since: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "email": self.email,
            "issue": self.issue,
            "message_id": self.message_id,
            "detail": self.detail,
            "since": self.since.isoformat(),
        }


_UNANSWERED = (
    "SELECT d.id, d.email, s.slug, i.number, d.message_id, d.answer, d.updated_at"
    " FROM deliveries d JOIN issues i ON i.id = d.issue_id JOIN series s ON s.id = i.series_id"
    " WHERE d.state = 'unknown'"
)


def settle_unknown(
    settings: Settings,
    now: datetime,
    *,
    decision: Decision | None = None,
    series: str | None = None,
    number: int | None = None,
) -> list[Unanswered]:
    """The `unknown` deliveries (of `series`, issue `number`), and with a `decision` the writer's
    word on them: "sent" records them sent; "resend" queues them again with the same Message-ID,
    so a receiver that has the first copy can recognise the second."""
    if not has_outbox(settings):
        return []
    found: list[Unanswered] = []
    query, args = _UNANSWERED, list[object]()
    for column, value in (("s.slug", series), ("i.number", number)):
        if value is not None:
            query, args = f"{query} AND {column} = ?", [*args, value]
    with open_outbox(settings, create=False) as outbox, outbox.transaction() as c:
        for row_id, address, slug, issue, message_id, answer, updated in c.execute(
            query + " ORDER BY d.updated_at, d.id", args
        ).fetchall():
            found.append(
                Unanswered(
                    address, f"{slug} #{issue}", message_id or "", answer or "", parse_ts(updated)
                )
            )
            if decision == "sent":
                c.execute(
                    "UPDATE deliveries SET state = 'sent', sent_at = ?, updated_at = ?,"
                    " answer = 'marked sent by the writer: ' || COALESCE(answer, '') WHERE id = ?",
                    (ts(now), ts(now), row_id),
                )
            elif decision == "resend":
                c.execute(
                    "UPDATE deliveries SET state = 'pending', next_try = NULL, updated_at = ?"
                    " WHERE id = ?",
                    (ts(now), row_id),
                )
    return found
