"""When each issue goes out: local wall-clock times in the writer's zone, stored in UTC.

Pure functions. The week is added to the local date, not to a UTC instant, so 09:00 in New York
stays 09:00 in New York across the March and November clock changes (the UTC hour moves instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .config import WEEKDAYS


@dataclass(frozen=True)
class SendTime:
    """One issue's slot: `local` is aware in the writer's zone, `utc` the same instant in UTC."""

    number: int
    local: datetime
    utc: datetime


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of `at` on `day` in `zone`.

    A time inside the spring-forward gap (02:30 on the changeover night) does not exist; it is
    read with the offset before the change, so it lands one hour later on the new clock. A time
    that happens twice in autumn takes its first occurrence.
    """
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def plan_send_times(
    start: date, at: time, zone: ZoneInfo, count: int, every_weeks: int = 1
) -> list[SendTime]:
    """`count` send times, one every `every_weeks` weeks from `start`, same local time each."""
    if count < 0 or every_weeks < 1:
        raise ValueError(f"{count} issues every {every_weeks} week(s): both must be positive")
    times = []
    for i in range(count):
        day = start + timedelta(weeks=every_weeks * i)
        utc = local_to_utc(day, at, zone)
        times.append(SendTime(number=i + 1, local=utc.astimezone(zone), utc=utc))
    return times


def format_local(moment: datetime, zone: ZoneInfo) -> str:
    """'Mon 2025-03-10 09:00 EDT': the way the writer reads a send time."""
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")


def next_weekday(today: date, weekday: str) -> date:
    """The first `weekday` after `today` (a week ahead when today is that day: never today,
    whose send time may already have passed)."""
    ahead = (WEEKDAYS.index(weekday) - today.weekday()) % 7 or 7
    return today + timedelta(days=ahead)
