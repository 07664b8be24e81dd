"""The operations people script against: read a series, plan it, queue it, see where it stands,
send one issue to yourself, unsubscribe someone.

The command line is a thin layer over these, and so are the benchmarks and the test helpers.
Each takes the settings and `now` and returns values: nothing here prints, exits or reads the
clock. Values a caller passes on from the command line (a start date, a time of day, an issue
number) are checked here, and a mistake is a `UsageError` that names the flag.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .config import NewsletterSettings, Settings, parse_date, parse_every, parse_time, parse_zone
from .errors import (
    ConfigError,
    DeliveryError,
    NewsletterError,
    PostError,
    SubscriberError,
    UsageError,
)
from .links import is_placeholder, unsubscribe_base_url
from .model import Issue, Post, Series, blocks_text
from .outbox import (
    IssueStatus,
    Outbox,
    PlannedIssue,
    ScheduleResult,
    SeriesPlan,
    SeriesState,
    State,
    has_outbox,
    open_outbox,
    outbox_path,
    outbox_where,
    post_identity,
    same_post,
)
from .schedule_plan import next_weekday, plan_send_times

if TYPE_CHECKING:
    from .preview import ReaderSummary

# --- reading -------------------------------------------------------------------------------


def load_series(
    path: Path | str,
    settings: Settings,
    *,
    fmt: str | None = None,
    strict: bool = False,
    url: str | None = None,
) -> Series:
    """Read the post at `path` (a file or a URL) and split it into its series: the one place a
    post is read.

    `url` is the post's address on the web, for a source that does not say (copied text).
    """
    from .readers import read_post
    from .series import split_post

    post = read_post(str(path), fmt, strict=strict)
    check_post_size(post)
    if url:
        post = dataclasses.replace(post, url=url)
    n = settings.newsletter
    return split_post(post, name=n.series_name, subject=n.subject)


POST_LIMIT = 1024 * 1024  # bytes of text in one post: a series of emails Gmail does not clip


def check_post_size(post: Post) -> None:
    """Refuse a post far bigger than any series of emails can carry, before it is rendered
    (a 10 MB word takes the renderer half a minute to find too big)."""
    parts = [post.title, blocks_text(post.intro), blocks_text(post.conclusion)]
    parts += [f"{s.heading}\n{blocks_text(s.blocks)}" for s in post.sections]
    size = sum(len(p.encode("utf-8")) for p in parts)
    if size > POST_LIMIT:
        raise PostError(
            f"{post.source}: the post holds {size / 1024 / 1024:.1f} MB of text; a series takes "
            f"posts up to {POST_LIMIT // 1024 // 1024} MB (each email up to "
            "102 KB of HTML): split it into several posts"
        )


def import_post(source: str, *, fmt: str | None = None) -> tuple[Post, str]:
    """The post at `source` and its clean Markdown, for the writer to check and correct."""
    from .post_markdown import post_markdown
    from .readers import read_post

    post = read_post(source, fmt)
    return post, post_markdown(post)


def check_new_file(path: Path, *, replace: bool = False) -> None:
    """Never write over a file the writer may have corrected, unless asked to."""
    if path.exists() and not replace:
        raise UsageError(f"{path} exists: choose another name, or say --force to replace it")


def write_new_file(path: Path, text: str, *, replace: bool = False) -> None:
    check_new_file(path, replace=replace)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise NewsletterError(f"{path}: cannot write ({e.strerror})") from None


def warnings(series: Series, settings: Settings, *, links: bool = True) -> list[str]:
    """What the writer should hear before anything goes out: the post's own warnings, and with
    `links`, that the emails and captions would link to a placeholder site."""
    found = [str(w) for w in series.post.warnings]
    site = settings.newsletter.site_url
    if links and not series.post.url and is_placeholder(site):
        found.append(
            f"{series.post.source}: warning: links go to {site}, a placeholder: set [newsletter] "
            "site_url in newsletter.toml, or give the post's own address with --url"
        )
    return found


def home_page_warning(series: Series, settings: Settings) -> list[str]:
    """For `build`, `preview` and `schedule`: a post with no URL of its own sends "Read the
    whole post" to the site's home page (a placeholder site is warned about already)."""
    site = settings.newsletter.site_url
    if series.post.url or is_placeholder(site):
        return []
    return [
        f'{series.post.source}: warning: the post has no URL of its own, so "Read the whole '
        f"post\" goes to the site's home page ({site}): give the post's address with --url or "
        "front matter url"
    ]


def issue(series: Series, number: int) -> Issue:
    """Issue `number` of the series; a number it does not have is a usage error."""
    found = next((i for i in series.issues if i.number == number), None)
    if found is None:
        raise UsageError(
            f"{series.post.source}: there is no issue {number}: choose one of "
            f"1-{len(series.issues)}"
        )
    return found


def captions(
    series: Series,
    settings: Settings,
    *,
    number: int | None = None,
    platforms: tuple[str, ...] | None = None,
) -> list[tuple[Issue, dict[str, str]]]:
    """Each issue's captions (only issue `number`, only `platforms`, when given)."""
    from .captions import PLATFORMS, captions_for_issue

    issues = series.issues if number is None else (issue(series, number),)
    chosen = platforms or PLATFORMS
    return [(i, captions_for_issue(series, i, settings, chosen)) for i in issues]


# --- the send plan -------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """When a series goes out: issue 1's date, the local time, the zone, weeks between issues."""

    start: date
    at: time
    zone: ZoneInfo
    every: int


def timing(
    settings: Settings,
    now: datetime,
    *,
    start: str | None = None,
    at: str | None = None,
    tz: str | None = None,
    every: int | None = None,
) -> Timing:
    """The flags given, else `[schedule]`; by default from the next `[schedule] weekday` (never
    today, whose send time may already have passed)."""
    try:
        at_ = parse_time(at, "--at") if at is not None else settings.schedule.at
        zone = parse_zone(tz, "--tz") if tz is not None else settings.schedule.zone
        weeks = parse_every(every, "--every") if every is not None else settings.schedule.every
        if start is not None:
            day = parse_date(start, "--start")
        else:
            day = next_weekday(now.astimezone(zone).date(), settings.schedule.weekday)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return Timing(start=day, at=at_, zone=zone, every=weeks)


@dataclass(frozen=True)
class SendPlan:
    """When each issue goes out: what the outbox holds, or the plan `schedule` would make.

    `timing` is set for a plan not queued yet; `exists` says whether there is an outbox at all.
    """

    outbox: str  # the file, or the database URL without a password
    issues: tuple[IssueStatus, ...]
    queued: bool
    exists: bool
    timing: Timing | None = None


def planned(series: Series, when: Timing) -> tuple[IssueStatus, ...]:
    """The series' issues at the times `when` gives them, as the outbox would list them."""
    try:
        times = plan_send_times(when.start, when.at, when.zone, len(series.issues), when.every)
    except (OverflowError, ValueError):  # date.max is 9999-12-31
        raise UsageError(
            f"issue 1 on {when.start} and one every {when.every} week(s) puts the last of "
            f"{len(series.issues)} issues past the year 9999: choose an earlier --start or a "
            "smaller --every"
        ) from None
    return tuple(
        IssueStatus(
            series_slug=series.slug,
            series_title=series.title,
            timezone=when.zone.key,
            number=i.number,
            title=i.title,
            subject=i.subject,
            send_at=t.utc,
            materialized=False,
        )
        for i, t in zip(series.issues, times, strict=True)
    )


def send_plan(settings: Settings, now: datetime, series: Series | None = None) -> SendPlan:
    """Every queued issue; with `series`, its own, or when it is not queued, the plan that
    `schedule` would make for it from the settings."""
    where = outbox_where(settings)
    queued: tuple[IssueStatus, ...] = ()
    exists = has_outbox(settings)
    if exists:
        with open_outbox(settings, create=False) as outbox:
            queued = tuple(outbox.status())
    if series is None:
        return SendPlan(where, queued, queued=True, exists=exists)
    source = post_identity(series.post.source)
    mine = tuple(st for st in queued if same_post(st.series_source, source))
    if mine:
        return SendPlan(where, mine, queued=True, exists=True)
    when = timing(settings, now)
    return SendPlan(where, planned(series, when), queued=False, exists=exists, timing=when)


@dataclass(frozen=True)
class Queued:
    """What `queue_series` did: the issues at their new times, and what the outbox kept."""

    outbox: str
    timing: Timing
    issues: tuple[IssueStatus, ...]
    result: ScheduleResult
    warnings: tuple[str, ...]  # from rendering (an email close to Gmail's clipping size)


def placeholders(series: Series, settings: Settings) -> list[str]:
    """The settings that still hold the examples' values, each as `[section] key = value`: mail
    from example.com, links to a placeholder site, the example postal address."""
    n = settings.newsletter
    found = []
    for key, value in (("from", n.from_addr), ("reply_to", n.reply_to)):
        address = parseaddr(value)[1]
        if address and is_placeholder("mailto://" + address.rpartition("@")[2]):
            found.append(f"{key} = {address}")
    if not series.post.url and is_placeholder(n.site_url):
        found.append(f"site_url = {n.site_url}")
    unsubscribe = unsubscribe_base_url(settings)
    if is_placeholder(unsubscribe):
        found.append(f"the unsubscribe link {unsubscribe} (set site_url or unsubscribe_url)")
    mailto = parseaddr(n.unsubscribe_mailto.removeprefix("mailto:"))[1]
    if mailto and is_placeholder("mailto://" + mailto.rpartition("@")[2].split("?")[0]):
        found.append(f"unsubscribe_mailto = {mailto}")
    if n.postal_address.strip() == NewsletterSettings.postal_address:
        found.append(f"postal_address = {n.postal_address!r}")
    return found


def due_at_once(issues: tuple[IssueStatus, ...], now: datetime) -> int:
    """How many of `issues` the next run would start together."""
    return sum(1 for st in issues if st.send_at <= now)


def check_schedule(
    series: Series,
    settings: Settings,
    when: Timing,
    now: datetime,
    *,
    accept_placeholders: bool = False,
    accept_warnings: bool = False,
    catch_up: bool = False,
) -> None:
    """Refuse, in one line that says why and which flag overrides it, to queue a series that
    would surprise its writer: placeholder settings, known damage in the post, or a start date
    that makes several issues due at once."""
    found = [] if accept_placeholders else placeholders(series, settings)
    if found:
        where = settings.source if settings.from_file else "no newsletter.toml"
        raise ConfigError(
            f"{where}: not scheduling: [newsletter] still holds placeholders: {'; '.join(found)}. "
            "Set them in newsletter.toml (see newsletter.example.toml), or say "
            "--accept-placeholders to queue anyway"
        )
    warned = series.post.warnings
    if warned and not accept_warnings:
        listed = "; ".join(f"line {w.line}: {w.message}" for w in warned)
        raise PostError(
            f"{series.post.source}: not scheduling: {len(warned)} unresolved warning(s): {listed}. "
            "Fix the post (or 'newsletter import' it and edit the Markdown), or say "
            "--accept-warnings to queue it as it is"
        )
    due = due_at_once(planned(series, when), now)
    if due > 1 and not catch_up:
        slot = timing(settings, now, at=when.at.strftime("%H:%M"), tz=when.zone.key)
        raise UsageError(
            f"--start {when.start.isoformat()} is in the past: {due} issues would be due at once "
            f"and the next run would send them together. Leave out --start to begin at the next "
            f"slot ({slot.start:%a %Y-%m-%d}), give a later date, or say --catch-up to send the "
            "missed issues one per run"
        )


def queue_series(
    series: Series,
    settings: Settings,
    when: Timing,
    *,
    now: datetime,
    replace: bool = False,
    catch_up: bool = False,
) -> Queued:
    """Render every issue once and queue the series in the outbox at the times `when` gives.

    With `replace`, a series already queued has its issues not yet started replaced; an issue
    that has started keeps its time, zone and text. With `catch_up`, issues already due are
    started one per run, oldest first. `issues` are the series' issues as the outbox now holds
    them.
    """
    from .render import render_series

    issues = planned(series, when)
    dates = [i.send_at.astimezone(when.zone).date() for i in issues]
    emails = render_series(series, settings, dates=dates)
    plan = SeriesPlan(
        slug=series.slug,
        title=series.title,
        source=post_identity(series.post.source),
        timezone=when.zone.key,
        local_time=when.at.strftime("%H:%M"),
        every_weeks=when.every,
        catch_up=catch_up,
        issues=tuple(
            PlannedIssue(
                number=i.number, slug=issue.slug, title=i.title, send_at=i.send_at, email=email
            )
            for i, issue, email in zip(issues, series.issues, emails, strict=True)
        ),
    )
    with open_outbox(settings) as outbox:
        result = outbox.schedule(plan, replace=replace, now=now)
        stored = tuple(st for st in outbox.status() if st.series_slug == result.series_slug)
    found = tuple(w for email in emails for w in email.warnings)
    return Queued(
        outbox.where, when, tuple(sorted(stored, key=lambda st: st.number)), result, found
    )


@dataclass(frozen=True)
class Unscheduled:
    """What `unschedule` did: issues cancelled, and issues left alone because they had begun."""

    outbox: str
    slug: str
    cancelled: tuple[int, ...]
    started: tuple[int, ...]


def unschedule(settings: Settings, slug: str, now: datetime) -> Unscheduled:
    """Cancel the issues of series `slug` not yet started; those that have begun go on."""
    with open_outbox(settings, create=False) as outbox:
        cancelled, started = outbox.unschedule(slug, now=now)
    return Unscheduled(outbox.where, slug, cancelled, started)


# --- where things stand --------------------------------------------------------------------


@dataclass(frozen=True)
class StatusRow:
    """One queued issue as `status --json` shows it (the keys are the stable JSON shape)."""

    series: str
    number: int
    title: str
    send_at: str
    local: str
    timezone: str
    state: str
    sent: int
    pending: int
    retrying: int
    failed: int
    suppressed: int
    unknown: int = 0  # the body went out and no final reply came: the reader may have it
    reason: str | None = None  # state "failed": why the issue could not be built


@dataclass(frozen=True)
class SeriesRow:
    """One series as `status --json` shows it under "series"."""

    slug: str
    title: str
    state: SeriesState
    issues: int
    started: int  # issues whose sending has begun
    cancelled: int
    next: str | None  # the next issue's local send time, when one is still to start
    failed: int = 0  # issues that could not be built (nothing of them sent)


@dataclass(frozen=True)
class Status:
    outbox: str
    exists: bool
    rows: tuple[StatusRow, ...]
    series: tuple[SeriesRow, ...] = ()

    def json(self) -> dict[str, Any]:
        """The stable shape of `newsletter status --json`."""
        return {
            "outbox": str(self.outbox),
            "series": [dataclasses.asdict(r) for r in self.series],
            "issues": [dataclasses.asdict(r) for r in self.rows],
        }


def series_state(issues: tuple[IssueStatus, ...], now: datetime) -> SeriesState:
    """scheduled (nothing started), sending (an issue is due or going out), started (some sent,
    more to come), done (every issue sent), cancelled (unscheduled: the rest will not go)."""
    phases = [
        "done" if p == "unknown" else p for p in (st.phase(now) for st in issues) if p != "failed"
    ]
    if any(p in ("due", "sending") for p in phases):
        return "sending"
    if "cancelled" in phases:
        return "cancelled"
    if all(p == "done" for p in phases):
        return "done"
    return "started" if "done" in phases else "scheduled"


def _series_rows(issues: tuple[IssueStatus, ...], now: datetime) -> tuple[SeriesRow, ...]:
    slugs = list(dict.fromkeys(st.series_slug for st in issues))
    rows = []
    for slug in slugs:
        mine = tuple(st for st in issues if st.series_slug == slug)
        later = [st for st in mine if not st.materialized and not st.cancelled and not st.failed]
        rows.append(
            SeriesRow(
                slug=slug,
                title=mine[0].series_title,
                state=series_state(mine, now),
                issues=len(mine),
                started=sum(1 for st in mine if st.materialized),
                cancelled=sum(1 for st in mine if st.cancelled),
                next=later[0].local if later else None,
                failed=sum(1 for st in mine if st.failed),
            )
        )
    return tuple(rows)


def status(settings: Settings, now: datetime) -> Status:
    """Every queued issue at `now`: its phase and its deliveries counted by state, and each
    series with its state."""
    plan = send_plan(settings, now)
    rows = tuple(
        StatusRow(
            series=st.series_slug,
            number=st.number,
            title=st.title,
            send_at=st.send_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            local=st.local,
            timezone=st.timezone,
            state=st.phase(now),
            sent=st.count(State.SENT),
            pending=st.count(State.PENDING) + st.count(State.SENDING),
            retrying=st.count(State.FAILED_TEMPORARY),
            failed=st.count(State.FAILED_PERMANENT),
            suppressed=st.count(State.SUPPRESSED),
            unknown=st.count(State.UNKNOWN),
            reason=st.failed,
        )
        for st in plan.issues
    )
    return Status(plan.outbox, plan.exists, rows, _series_rows(plan.issues, now))


def next_up(settings: Settings, now: datetime) -> str:
    """What the next pass will find: for a cron user wondering why nothing went out."""
    queued = send_plan(settings, now).issues
    if not queued:
        return "nothing scheduled yet: queue a series with 'newsletter schedule POST'"
    later = [
        st
        for st in queued
        if not st.materialized and not st.cancelled and not st.failed and st.send_at > now
    ]
    if not later:
        return "nothing left to send: every scheduled issue has started"
    st = later[0]
    return f"next: {st.series_slug} issue {st.number} ({st.title}) on {st.local}"


def calendar(plan: SendPlan, settings: Settings, now: datetime) -> bytes:
    """The plan as an iCalendar file, one event per issue (cancelled ones left out)."""
    from .ical import plan_calendar

    going = [st for st in plan.issues if not st.cancelled]
    return plan_calendar(going, now=now, site_url=settings.newsletter.site_url)


# --- the preview ---------------------------------------------------------------------------


def reader_summary(series: Series, fmt: str | None = None) -> ReaderSummary:
    """Which reader read the post (`fmt` as given on the command line, else by its kind) and
    what it found: the preview shows it so the writer knows what the tool saw."""
    from .preview import ReaderSummary
    from .readers import detect_format
    from .readers.fetch import is_url

    post = series.post
    reader = fmt or ("html" if is_url(post.source) else detect_format(post.source))
    return ReaderSummary(
        reader=reader,
        source=post.source,
        title=post.title,
        author=post.author,
        url=post.url,
        date=post.date,
        sections=len(post.sections),
        intro=bool(post.intro),
        conclusion=bool(post.conclusion),
        references=len(post.references),
        warnings=len(post.warnings),
    )


def preview_watch(post: str, settings: Settings, config: str | None) -> list[Path]:
    """The files the preview is made of, to rebuild it when one changes: the post, the settings
    file (also before it exists), the template overrides and the built-in templates, and the
    outbox (the calendar)."""
    from importlib import resources

    from .readers.fetch import is_url

    outbox = outbox_path(settings)
    found = [Path(config or "newsletter.toml"), settings.path(settings.newsletter.templates)]
    found += [outbox, outbox.with_name(outbox.name + "-wal")]
    builtin = resources.files("newsletter").joinpath("templates")
    if isinstance(builtin, Path):
        found.append(builtin)
    return ([] if is_url(post) else [Path(post)]) + found


def preview_pages(
    series: Series, settings: Settings, now: datetime, *, fmt: str | None = None
) -> dict[str, tuple[str, bytes]]:
    """Every page of the preview: each issue rendered, its captions, what the reader found, and
    the send calendar as the outbox holds it now."""
    from .preview import CalendarRow, build_pages, preview_data

    plan = send_plan(settings, now, series)
    if plan.queued:
        rows = tuple(
            CalendarRow(
                st.number,
                st.title,
                st.local,
                st.phase(now) + (f" ({st.count(State.SENT)} sent)" if st.count(State.SENT) else ""),
            )
            for st in plan.issues
        )
        note = f"Queued in {plan.outbox}."
    else:
        assert plan.timing is not None
        rows = tuple(
            CalendarRow(st.number, st.title, st.local, "not scheduled") for st in plan.issues
        )
        note = (
            f"Not scheduled yet. Starting next {settings.schedule.weekday.capitalize()} it would "
            f"be: newsletter schedule {series.post.source} --start {plan.timing.start.isoformat()}"
        )
    return build_pages(preview_data(series, settings, rows, note, reader_summary(series, fmt)))


# --- one issue to yourself -----------------------------------------------------------------


@dataclass(frozen=True)
class TestSent:
    """What `send_test` sent and how the server answered."""

    issue: Issue
    subject: str
    to: str
    server: str  # host:port (security)
    answer: str
    warnings: tuple[str, ...]


def check_send_test(settings: Settings, to: str) -> tuple[str | None, str, str]:
    """(name, address, envelope sender) for a test send to `to`, once the SMTP settings are known
    to be usable: a mistake there shows before any rendering."""
    from .mailer import SmtpConnection
    from .subscribers import normalize_email

    name, given = parseaddr(to)
    try:
        address = normalize_email(given or to)
    except ValueError as e:
        raise UsageError(f"--to {to!r} is not an email address ({e})") from None
    from_addr = parseaddr(settings.newsletter.from_addr)[1]
    if not from_addr:
        raise NewsletterError(
            f"{settings.source}: [newsletter] from = {settings.newsletter.from_addr!r} has no "
            'address; use e.g. "Name <you@example.com>"'
        )
    SmtpConnection(settings)
    return name or None, address, from_addr


def send_test(
    series: Series,
    settings: Settings,
    *,
    number: int,
    to: str,
    now: datetime,
    environ: Mapping[str, str] | None = None,
) -> TestSent:
    """Send issue `number` to `to` now, outside the outbox: to see it in a real inbox."""
    from .mailer import SmtpConnection
    from .message import outgoing
    from .render import render_issue
    from .unsubscribe import unsubscribe_url

    name, address, from_addr = check_send_test(settings, to)
    chosen = issue(series, number)
    rendered = render_issue(series, chosen, settings)
    secret = signing_secret(settings, environ)
    msg = outgoing(
        rendered,
        settings,
        to_addr=address,
        to_name=name,
        unsubscribe_url=unsubscribe_url(settings, address, secret),
        date=now,
    )
    s = settings.smtp
    with SmtpConnection(settings) as connection:
        result = connection.send(msg, from_addr, address)
    if not result.ok:
        answer = f"{result.code} {result.detail}" if result.code else result.detail
        raise DeliveryError(
            f"{s.host}:{s.port} did not take issue {chosen.number} for {address} "
            f"({result.status} failure): {answer}"
        )
    return TestSent(
        issue=chosen,
        subject=rendered.subject,
        to=address,
        server=f"{s.host}:{s.port} ({s.security})",
        answer=f"{result.code} {result.detail}",
        warnings=rendered.warnings,
    )


# --- moving the outbox ---------------------------------------------------------------------


@dataclass(frozen=True)
class Copied:
    """What `outbox copy` moved: rows per table, from where to where (no password shown)."""

    source: str
    target: str
    rows: dict[str, int]


def copy_outbox(settings: Settings, to: str) -> Copied:
    """Move the outbox the settings name (the SQLite file, usually) into the empty PostgreSQL
    database at `to`, in one transaction; the writer then sets [outbox] url."""
    from .config import check_outbox_url

    try:
        url = check_outbox_url(to, "--to")
    except ValueError as e:
        raise UsageError(str(e)) from None
    with open_outbox(settings, create=False) as source, Outbox.connect(url) as target:
        if source.where == target.where:
            raise UsageError(f"--to {target.where} is the outbox itself; name another database")
        rows = source.copy_into(target)
    return Copied(source.where, target.where, rows)


# --- unsubscribing -------------------------------------------------------------------------


def signing_secret(settings: Settings, environ: Mapping[str, str] | None = None) -> bytes:
    """The key that signs unsubscribe links: NEWSLETTER_SECRET, else the outbox's own."""
    from .unsubscribe import load_secret

    with open_outbox(settings) as outbox:
        return load_secret(outbox, os.environ if environ is None else environ)


@dataclass(frozen=True)
class Unsubscribed:
    address: str
    added: bool  # False: it was on the list already
    cancelled: int  # queued deliveries cancelled


def unsubscribe(
    settings: Settings, given: str, now: datetime, environ: Mapping[str, str] | None = None
) -> Unsubscribed:
    """Put an address, or the address a personal unsubscribe link was made for, on the
    suppression list, cancelling what is queued for it."""
    from .subscribers import normalize_email
    from .unsubscribe import address_from_url

    given = given.strip()
    if "?" in given and "t=" in given:
        address = address_from_url(given, signing_secret(settings, environ))
        if address is None:
            raise NewsletterError(
                "that unsubscribe link's token does not match its address (forged, cut "
                "short, or signed with another secret): nothing changed"
            )
        reason = "link"
    else:
        try:
            address = normalize_email(given)
        except ValueError as e:
            raise SubscriberError(f"{given!r} is not an email address ({e})") from None
        reason = "command"
    with open_outbox(settings) as outbox:
        added, cancelled = outbox.suppress(address, reason=reason, now=now)
    return Unsubscribed(address, added, cancelled)
