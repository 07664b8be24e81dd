"""The send plan as an iCalendar file, so the writer sees each issue in any calendar app."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from icalendar import Calendar, Event

from . import __version__
from .outbox import IssueStatus, State

EVENT_MINUTES = 15


def plan_calendar(issues: list[IssueStatus], *, now: datetime, site_url: str) -> bytes:
    """One VEVENT per issue at its send time (UTC), with a stable UID so re-imports update it."""
    domain = urlsplit(site_url).hostname or "newsletter.invalid"
    cal = Calendar()
    cal.add("prodid", f"-//newsletter {__version__}//send plan//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "Newsletter send plan")
    for issue in issues:
        event = Event()
        event.add("uid", f"{issue.series_slug}-{issue.number}@{domain}")
        event.add("dtstamp", now)
        event.add("dtstart", issue.send_at)
        event.add("dtend", issue.send_at + timedelta(minutes=EVENT_MINUTES))
        event.add("summary", f"Newsletter: {issue.subject}")
        event.add("description", _description(issue))
        event.add("categories", ["newsletter"])
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    data: bytes = cal.to_ical()
    return data


def _description(issue: IssueStatus) -> str:
    lines = [
        f"{issue.series_title}: issue {issue.number}, {issue.title}",
        f"Send time zone: {issue.timezone}",
    ]
    if issue.materialized:
        sent = issue.count(State.SENT)
        failed = issue.count(State.FAILED_PERMANENT)
        lines.append(f"Sent {sent}, waiting {issue.waiting}, failed {failed}")
    return "\n".join(lines)
