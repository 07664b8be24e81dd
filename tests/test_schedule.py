"""Send times: local wall-clock in the writer's zone, stored in UTC, stable across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from newsletter.config import parse_date, parse_time, parse_zone
from newsletter.ical import plan_calendar
from newsletter.outbox import IssueStatus, Outbox
from newsletter.schedule_plan import format_local, plan_send_times
from tests.helpers import SAMPLE
from tests.smtpd import SmtpTestServer
from tests.workspace import ACCEPT, BEFORE, ISSUE_1, ISSUE_2, Workspace, iso, one_line_error

NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_new_york_0900_across_the_march_change() -> None:
    # Clocks go forward on Sunday 2025-03-09: EST (UTC-5) before, EDT (UTC-4) after.
    times = plan_send_times(date(2025, 2, 24), time(9, 0), NEW_YORK, 5)
    assert [t.utc for t in times] == [
        utc(2025, 2, 24, 14, 0),
        utc(2025, 3, 3, 14, 0),
        utc(2025, 3, 10, 13, 0),
        utc(2025, 3, 17, 13, 0),
        utc(2025, 3, 24, 13, 0),
    ]
    assert {(t.local.hour, t.local.minute) for t in times} == {(9, 0)}
    assert [t.local.weekday() for t in times] == [0] * 5
    assert [t.number for t in times] == [1, 2, 3, 4, 5]
    assert format_local(times[2].utc, NEW_YORK) == "Mon 2025-03-10 09:00 EDT"


def test_new_york_0900_across_the_november_change() -> None:
    # Clocks go back on Sunday 2025-11-02.
    times = plan_send_times(date(2025, 10, 20), time(9, 0), NEW_YORK, 5)
    assert [t.utc.hour for t in times] == [13, 13, 14, 14, 14]
    assert [t.utc.date() for t in times] == [
        date(2025, 10, 20),
        date(2025, 10, 27),
        date(2025, 11, 3),
        date(2025, 11, 10),
        date(2025, 11, 17),
    ]


def test_every_two_weeks_in_london() -> None:
    times = plan_send_times(date(2025, 3, 17), time(7, 30), ZoneInfo("Europe/London"), 3, 2)
    # BST starts 2025-03-30.
    assert [t.utc for t in times] == [
        utc(2025, 3, 17, 7, 30),
        utc(2025, 3, 31, 6, 30),
        utc(2025, 4, 14, 6, 30),
    ]


def test_a_time_in_the_spring_gap_moves_forward_not_back() -> None:
    (slot,) = plan_send_times(date(2025, 3, 9), time(2, 30), NEW_YORK, 1)
    assert slot.utc == utc(2025, 3, 9, 7, 30)
    assert slot.local.strftime("%H:%M %Z") == "03:30 EDT"


def test_an_ambiguous_autumn_time_takes_the_first_occurrence() -> None:
    (slot,) = plan_send_times(date(2025, 11, 2), time(1, 30), NEW_YORK, 1)
    assert slot.utc == utc(2025, 11, 2, 5, 30)


@pytest.mark.parametrize(
    ("fn", "value", "message"),
    [
        (parse_date, "2025-13-01", "--start '2025-13-01' is not a date; write it as YYYY-MM-DD"),
        (parse_date, "next monday", "YYYY-MM-DD"),
        (parse_time, "9am", "--at '9am' is not a time of day; write it as HH:MM"),
        (parse_time, "24:00", "HH:MM"),
        (parse_zone, "Mars/Olympus", "--tz 'Mars/Olympus' is not an IANA time zone"),
        (parse_zone, "../etc/passwd", "not an IANA time zone"),
    ],
)
def test_bad_inputs_say_what_to_write(fn: object, value: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        fn(value)  # type: ignore[operator]
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_every_must_be_at_least_one_week() -> None:
    with pytest.raises(ValueError, match="both must be positive"):
        plan_send_times(date(2025, 1, 6), time(9), NEW_YORK, 3, 0)


def test_parse_ok() -> None:
    assert parse_date(" 2025-03-03 ") == date(2025, 3, 3)
    assert parse_time("7:05") == time(7, 5)
    assert parse_zone("America/New_York").key == "America/New_York"


def test_calendar_has_one_event_per_issue_in_utc() -> None:
    times = plan_send_times(date(2025, 2, 24), time(9, 0), NEW_YORK, 5)
    issues = [
        IssueStatus(
            series_slug="massage",
            series_title="Massage for the Mental Health of IT",
            timezone="America/New_York",
            number=t.number,
            title=f"Issue {t.number}",
            subject=f"Massage, {t.number} of 5: Issue {t.number}",
            send_at=t.utc,
            materialized=t.number == 1,
            counts={"sent": 3, "failed-permanent": 1} if t.number == 1 else {},
        )
        for t in times
    ]
    data = plan_calendar(issues, now=utc(2025, 2, 1), site_url="https://example.com/blog")
    cal = Calendar.from_ical(data)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 5
    starts = [e.decoded("dtstart") for e in events]
    assert starts == [t.utc for t in times]
    assert starts[2].utcoffset().total_seconds() == 0
    assert [str(e["uid"]) for e in events] == [f"massage-{n}@example.com" for n in range(1, 6)]
    assert str(events[0]["summary"]) == "Newsletter: Massage, 1 of 5: Issue 1"
    assert "Sent 3, waiting 0, failed 1" in str(events[0]["description"])
    assert b"DTSTART:20250310T130000Z" in data
    assert data.startswith(b"BEGIN:VCALENDAR\r\n")


# -- through the command line ---------------------------------------------------------------


def test_schedule_refuses_a_second_time_and_replace_keeps_what_was_sent(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(2)
    ws.schedule()
    code, _, err = ws.cli("schedule", SAMPLE, *ACCEPT, "--start", "2025-04-07", now=BEFORE)
    line = one_line_error(code, err.splitlines()[-1] + "\n")
    assert (
        "is already scheduled as 'massage-for-the-mental-health-of-it'"
        " (5 issues, first 2025-03-03 14:00 UTC)"
    ) in line
    assert "--replace" in line
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    code, out, err = ws.cli(
        "schedule", SAMPLE, *ACCEPT, "--start", "2025-04-07", "--at", "07:30",
        "--tz", "Europe/London", "--replace", now=iso(ISSUE_1),
    )  # fmt: skip
    assert code == 0, err
    assert "sending had begun: kept as it was" in out
    assert "replaced 4 issue(s) not sent yet" in out
    with Outbox.open(ws.outbox) as ob:
        times = [s.send_at for s in ob.status()]
    assert times[0] == ISSUE_1
    assert times[1:] == [
        utc(2025, 4, 14, 6, 30),
        utc(2025, 4, 21, 6, 30),
        utc(2025, 4, 28, 6, 30),
        utc(2025, 5, 5, 6, 30),
    ]
    assert len(smtp_server.messages) == 2


def test_a_start_in_the_past_with_catch_up_says_how_many_are_due(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    code, out, err = ws.cli(
        "schedule", SAMPLE, *ACCEPT, "--start", "2025-03-03", "--every", "2",
        "--tz", "America/New_York", "--catch-up", now="2025-03-20T00:00:00+00:00",
    )  # fmt: skip
    assert code == 0, err
    assert "every 2 weeks at 09:00 America/New_York" in out
    assert "Mon 2025-03-17 09:00 EDT  (2025-03-17 13:00 UTC)" in out
    assert "2 issues already due: 'newsletter run' sends them one per run" in out


def test_without_start_the_series_begins_on_the_next_weekday_of_the_settings(
    tmp_path: Path,
) -> None:
    """Workspace says Mondays at 09:00 New York; Monday 2025-03-03 at 10:00 there is too late."""
    ws = Workspace(tmp_path, None)
    code, out, err = ws.cli("schedule", SAMPLE, *ACCEPT, now="2025-03-03T15:00:00+00:00")
    assert code == 0, err
    assert "   1. Mon 2025-03-10 09:00 EDT  (2025-03-10 13:00 UTC)" in out
    code, out, err = ws.cli(
        "schedule", SAMPLE, *ACCEPT, "--replace", now="2025-03-05T15:00:00+00:00"
    )  # a Wednesday: the coming Monday
    assert code == 0, err
    assert "   1. Mon 2025-03-10 09:00 EDT" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--start", "03/03/2025"), "--start '03/03/2025' is not a date"),
        (("--start", "2025-03-03", "--tz", "New York"), "--tz 'New York' is not an IANA"),
        (("--start", "2025-03-03", "--at", "9pm"), "--at '9pm' is not a time of day"),
        (("--start", "2025-03-03", "--every", "0"), "--every 0"),
    ],
)
def test_schedule_input_errors_are_one_line(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    ws = Workspace(tmp_path, None)
    code, _, err = ws.cli("schedule", SAMPLE, *ACCEPT, *args, now=BEFORE)
    assert expected in one_line_error(code, err, status=2)
    assert not ws.outbox.exists() or ws.counts() == {}


def test_status_and_calendar_with_nothing_scheduled(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    code, out, _ = ws.cli("status", now=BEFORE)
    assert code == 0 and "nothing scheduled yet" in out
    code, out, _ = ws.cli("calendar", now=BEFORE)
    assert code == 0 and "nothing scheduled yet" in out
    assert not ws.outbox.exists()
    # Only `schedule` makes an outbox: a run without one says so, and makes none.
    code, out, err = ws.cli("run", "--once", now=BEFORE)
    assert "no outbox yet; queue a series with 'newsletter schedule'" in one_line_error(code, err)
    assert not ws.outbox.exists()


def test_calendar_command_writes_an_ics_file(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, None)
    ws.schedule()
    ics = tmp_path / "plan.ics"
    code, out, err = ws.cli("calendar", "--ics", ics, now=BEFORE)
    assert code == 0, err
    assert "Mon 2025-03-10 09:00 EDT  (2025-03-10 13:00 UTC)" in out
    assert f"wrote 5 event(s) to {ics}" in out
    events = list(Calendar.from_ical(ics.read_bytes()).walk("VEVENT"))
    assert [e.decoded("dtstart") for e in events][:2] == [ISSUE_1, ISSUE_2]
    code, _, err = ws.cli("calendar", "--ics", tmp_path / "no" / "plan.ics", now=BEFORE)
    assert "cannot write the calendar" in one_line_error(code, err)
