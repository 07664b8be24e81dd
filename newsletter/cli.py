"""Command line: argument parsing and user-facing errors only; the work happens in the stages.

Exit status: 0 success, 1 a user error (one line on stderr, no traceback), 2 a usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from . import __version__
from .config import Settings, load_settings
from .errors import ConfigError, NewsletterError

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

    from .model import Series
    from .preview import CalendarRow
    from .runner import RunReport

_Server = TypeVar("_Server", bound="ThreadingHTTPServer")


# RFC 2606's names for examples: nobody's real site.
PLACEHOLDER_HOSTS = frozenset({"example.com", "example.org", "example.net", "www.example.com"})


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2


Handler = Callable[[argparse.Namespace, Settings], int]


def _add_post(p: argparse.ArgumentParser, optional: bool = False) -> None:
    if optional:
        p.add_argument("post", nargs="?", help="the post (.md, .markdown or .txt)")
    else:
        p.add_argument("post", help="the post (.md, .markdown or .txt)")
    p.add_argument(
        "--format",
        choices=["markdown", "text"],
        help="how to read the post (default: by file extension)",
    )
    p.add_argument("--strict", action="store_true", help="treat warnings about the text as errors")
    p.add_argument(
        "--url",
        type=_post_url,
        help="the post's address on the web, for its links (scraped text does not say)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsletter",
        description="Turn one blog post into a weekly email series and its social posts.",
    )
    parser.add_argument("--version", action="version", version=f"newsletter {__version__}")
    parser.add_argument(
        "--config", metavar="PATH", help="settings file (default: ./newsletter.toml if present)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("split", help="show the series plan: issues, titles, references")
    p.description = "Split a post into a weekly series and print the plan."
    _add_post(p)
    p.add_argument("--json", action="store_true", help="print the plan as JSON")

    p = sub.add_parser("build", help="write every issue's HTML, text, .eml and captions")
    p.description = "Write series.json, captions and one folder per issue with its email files."
    _add_post(p)
    p.add_argument(
        "-o", "--output", metavar="DIR", default="build", help="parent folder (default: build)"
    )

    p = sub.add_parser("captions", help="print social captions, ready to paste")
    p.description = "Print each issue's social captions."
    _add_post(p)
    p.add_argument("--issue", type=int, metavar="N", help="only issue N")
    p.add_argument("--platform", metavar="NAME", help="only this platform (x, bluesky, ...)")
    p.add_argument("--json", action="store_true", help="print as JSON")

    p = sub.add_parser("preview", help="preview the series in the browser")
    p.description = "Serve a local preview of every issue, its text and captions."
    _add_post(p, optional=True)
    p.add_argument("--port", type=_port, default=8025, help="port on 127.0.0.1 (default 8025)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")

    p = sub.add_parser("schedule", help="queue the series, one issue every N weeks")
    p.description = "Render the series once and queue one issue per week in the outbox."
    _add_post(p)
    p.add_argument(
        "--start",
        metavar="DATE",
        help="date of issue 1, YYYY-MM-DD (default: the next [schedule] weekday)",
    )
    p.add_argument("--at", metavar="HH:MM", help="local send time (default from settings)")
    p.add_argument("--tz", metavar="AREA/CITY", help="time zone (default from settings)")
    p.add_argument("--every", type=int, metavar="N", help="weeks between issues (default 1)")
    p.add_argument("--replace", action="store_true", help="replace an already queued series")

    p = sub.add_parser("status", help="what is queued, sent, failed, per issue")
    p.description = "Show each queued issue: when, and how many sent, pending, failed."
    p.add_argument("--json", action="store_true", help="print as JSON")

    p = sub.add_parser("calendar", help="the send plan; as iCalendar with --ics")
    p.description = "Show the send plan, or write it as an iCalendar file."
    p.add_argument("--ics", metavar="FILE", help="write the plan as an iCalendar file")

    p = sub.add_parser("run", help="send what is due")
    p.description = "Send what is due: a loop that wakes every poll interval, or one pass."
    p.add_argument("--once", action="store_true", help="one pass, then exit (for cron/systemd)")
    p.add_argument("--dry-run", action="store_true", help="write .eml files instead of sending")
    p.add_argument("--out", metavar="DIR", default="outbox-dry-run", help="folder for --dry-run")

    p = sub.add_parser("send-test", help="send one issue now to one address")
    p.description = "Send one issue to one address now, outside the outbox."
    _add_post(p)
    p.add_argument("--issue", type=int, required=True, metavar="N")
    p.add_argument("--to", required=True, metavar="ADDRESS")

    p = sub.add_parser("unsubscribe", help="add an address to the suppression list")
    p.description = "Never send to this address again."
    p.add_argument("address")

    p = sub.add_parser("unsubscribe-server", help="answer the unsubscribe links (behind HTTPS)")
    p.description = (
        "Answer the personal unsubscribe links: GET shows a page with a button, POST (that "
        "button, or a mail provider's one-click request) unsubscribes. Put it behind your HTTPS "
        "reverse proxy."
    )
    p.add_argument("--port", type=_port, default=8026, help="port (default 8026)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    return parser


def _post_url(value: str) -> str:
    """An absolute http(s) address, so the emails' and captions' links work."""
    from urllib.parse import urlsplit

    parts = urlsplit(value.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or any(c.isspace() for c in value.strip())
    ):
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) address")
    return value.strip()


def _port(value: str) -> int:
    """A TCP port number, so a typo is a usage error rather than a traceback from bind()."""
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (0-65535)")
    return port


def _load(args: argparse.Namespace, settings: Settings, *, links: bool = True) -> Series:
    """Load and split the post named on the command line, printing text warnings on stderr.

    With `links`, also warn when the emails and captions would link to a placeholder site:
    a writer who has not set `site_url` yet should hear it before anything goes out.
    """
    from urllib.parse import urlsplit

    from .post import load_post
    from .series import split_post

    post = load_post(Path(args.post), fmt=args.format, strict=args.strict)
    if args.url:
        post = dataclasses.replace(post, url=args.url)
    for w in post.warnings:
        print(w, file=sys.stderr)
    site = settings.newsletter.site_url
    host = (urlsplit(site).hostname or "").lower()
    if links and not post.url and (host in PLACEHOLDER_HOSTS or host.endswith(".example")):
        print(
            f"{post.source}: warning: links go to {site}, a placeholder: set [newsletter] "
            "site_url in newsletter.toml, or give the post's own address with --url",
            file=sys.stderr,
        )
    return split_post(post, settings)


def cmd_split(args: argparse.Namespace, settings: Settings) -> int:
    from .series import series_json

    series = _load(args, settings, links=False)
    if args.json:
        print(json.dumps(series_json(series), indent=2, ensure_ascii=False))
        return 0
    print(f"{series.post.title}" + (f" by {series.post.author}" if series.post.author else ""))
    for issue in series.issues:
        refs = f"  [{len(issue.references)} reference(s)]" if issue.references else ""
        print(f"{issue.number:>3}. {issue.title}{refs}")
        print(f"     subject:   {issue.subject}")
        print(f"     preheader: {issue.preheader}")
    return 0


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from .build import write_build

    series = _load(args, settings)
    folder, warnings = write_build(series, settings, Path(args.output))
    _warn(series, warnings)
    print(f"wrote {len(series.issues)} issues to {folder}")
    return 0


def _warn(series: Series, warnings: Iterable[str]) -> None:
    """Render warnings (each names its issue) on stderr, after the post they come from."""
    for warning in warnings:
        print(f"{series.post.source}: warning: {warning}", file=sys.stderr)


def _now() -> datetime:
    """The current time, or NEWSLETTER_NOW (ISO, with its offset) for tests and rehearsals."""
    import os
    from datetime import UTC, datetime

    value = os.environ.get("NEWSLETTER_NOW", "").strip()
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise NewsletterError(
            f"NEWSLETTER_NOW={value!r} is not an ISO time; use e.g. 2025-03-10T14:00:00+00:00"
        ) from None
    if moment.tzinfo is None:
        raise NewsletterError(f"NEWSLETTER_NOW={value!r} needs a UTC offset, e.g. +00:00")
    return moment.astimezone(UTC)


def _clock() -> Callable[[], datetime]:
    import os
    from datetime import UTC, datetime

    if os.environ.get("NEWSLETTER_NOW", "").strip():
        fixed = _now()
        return lambda: fixed
    return lambda: datetime.now(UTC)


def cmd_schedule(args: argparse.Namespace, settings: Settings) -> int:
    from .outbox import Outbox, PlannedIssue, SeriesPlan, outbox_path
    from .render import render_series
    from .schedule_plan import (
        format_local,
        next_weekday,
        parse_date,
        parse_time,
        parse_zone,
        plan_send_times,
    )

    at = parse_time(args.at or settings.schedule.time, "--at" if args.at else "[schedule] time")
    zone = parse_zone(
        args.tz or settings.schedule.timezone, "--tz" if args.tz else "[schedule] timezone"
    )
    every = args.every if args.every is not None else settings.schedule.every
    if args.start:
        start = parse_date(args.start)
    else:
        start = next_weekday(_now().astimezone(zone).date(), settings.schedule.weekday)
    series = _load(args, settings)
    emails = render_series(series, settings)
    for email in emails:
        _warn(series, email.warnings)
    times = plan_send_times(start, at, zone, len(series.issues), every)
    plan = SeriesPlan(
        slug=series.slug,
        title=series.title,
        source=series.post.source,
        timezone=zone.key,
        local_time=at.strftime("%H:%M"),
        every_weeks=every,
        issues=tuple(
            PlannedIssue(
                number=issue.number,
                slug=issue.slug,
                title=issue.title,
                send_at=when.utc,
                subject=email.subject,
                preheader=email.preheader,
                html=email.html,
                text=email.text,
            )
            for issue, email, when in zip(series.issues, emails, times, strict=True)
        ),
    )
    path = outbox_path(settings)
    with Outbox.open(path) as outbox:
        result = outbox.schedule(plan, replace=args.replace, now=_now())
    weeks = "every week" if every == 1 else f"every {every} weeks"
    print(
        f"queued '{series.title}' ({series.slug}): {len(times)} issues, {weeks} at "
        f"{at:%H:%M} {zone.key}, in {path}"
    )
    kept = set(result.kept)
    for issue, when in zip(series.issues, times, strict=True):
        note = "  (sending had begun: kept as it was)" if issue.number in kept else ""
        print(
            f"  {issue.number:>2}. {format_local(when.utc, zone)}  ({when.utc:%Y-%m-%d %H:%M} UTC)"
            f"  {issue.title}{note}"
        )
    if result.replaced or result.removed:
        print(
            f"replaced {len(result.replaced)} issue(s) not sent yet"
            + (f", removed {len(result.removed)}" if result.removed else "")
        )
    if result.due_now:
        print(f"{result.due_now} issue(s) already due: the next 'newsletter run' sends them")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from zoneinfo import ZoneInfo

    from .outbox import Outbox, outbox_path
    from .schedule_plan import format_local

    path = outbox_path(settings)
    if not path.exists():
        if args.json:
            print(json.dumps({"outbox": str(path), "issues": []}, indent=2))
        else:
            print(f"nothing scheduled yet (no outbox at {path})")
        return 0
    now = _now()
    with Outbox.open(path, create=False) as outbox:
        issues = outbox.status()
    rows = []
    for st in issues:
        rows.append(
            {
                "series": st.series_slug,
                "number": st.number,
                "title": st.title,
                "send_at": st.send_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "local": format_local(st.send_at, ZoneInfo(st.timezone)),
                "timezone": st.timezone,
                "state": st.phase(now),
                "sent": st.count("sent"),
                "pending": st.count("pending") + st.count("sending"),
                "retrying": st.count("failed-temporary"),
                "failed": st.count("failed-permanent"),
                "suppressed": st.count("suppressed"),
            }
        )
    if args.json:
        print(json.dumps({"outbox": str(path), "issues": rows}, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print(f"nothing scheduled in {path}")
        return 0
    print(
        f"{'':>4} {'send time':<25} {'state':<9} {'sent':>6} {'pending':>7} {'retry':>6} "
        f"{'failed':>6}  title"
    )
    series = None
    for r in rows:
        if r["series"] != series:
            series = r["series"]
            print(f"{series}:")
        print(
            f"{r['number']:>4} {r['local']:<25} {r['state']:<9} {r['sent']:>6} {r['pending']:>7} "
            f"{r['retrying']:>6} {r['failed']:>6}  {r['title']}"
        )
    return 0


def cmd_calendar(args: argparse.Namespace, settings: Settings) -> int:
    from zoneinfo import ZoneInfo

    from .ical import plan_calendar
    from .outbox import Outbox, outbox_path
    from .schedule_plan import format_local

    path = outbox_path(settings)
    issues = []
    if path.exists():
        with Outbox.open(path, create=False) as outbox:
            issues = outbox.status()
    if not issues:
        print(f"nothing scheduled yet (outbox: {path})")
    for st in issues:
        local = format_local(st.send_at, ZoneInfo(st.timezone))
        print(
            f"{local}  ({st.send_at:%Y-%m-%d %H:%M} UTC)  {st.series_slug} #{st.number}: {st.title}"
        )
    if args.ics:
        target = Path(args.ics)
        data = plan_calendar(issues, now=_now(), site_url=settings.newsletter.site_url)
        try:
            target.write_bytes(data)
        except OSError as e:
            raise NewsletterError(f"{target}: cannot write the calendar ({e.strerror})") from None
        print(f"wrote {len(issues)} event(s) to {target}")
    return 0


def _print_report(report: RunReport, *, quiet_when_idle: bool = False) -> None:
    for series_slug, number, recipients in report.started:
        print(f"started {series_slug} issue {number}: {recipients} recipient(s)")
    if report.warning_count > len(report.warnings):
        print(
            f"newsletter: {report.warning_count - len(report.warnings)} more warning(s) about "
            "the subscriber list not shown",
            file=sys.stderr,
        )
    if report.recovered:
        print(
            f"resent {report.recovered} message(s) left in flight by an interrupted run "
            "(these few may arrive twice)"
        )
    if report.attempted or not quiet_when_idle:
        if report.attempted:
            print(f"sent {report.sent}, will retry {report.retrying}, failed {report.failed}")
        elif not report.started:
            print("nothing due")
    if report.stopped:
        print("stopped: the rest waits in the outbox for the next run")
    sys.stdout.flush()


def _next_up(settings: Settings, now: datetime) -> str:
    """What the next pass will find: for a cron user wondering why nothing went out."""
    from zoneinfo import ZoneInfo

    from .outbox import Outbox, outbox_path
    from .schedule_plan import format_local

    with Outbox.open(outbox_path(settings), create=False) as outbox:
        queued = outbox.status()
    if not queued:
        return "nothing scheduled yet: queue a series with 'newsletter schedule POST'"
    later = [st for st in queued if not st.materialized and st.send_at > now]
    if not later:
        return "nothing left to send: every scheduled issue has started"
    st = later[0]
    return (
        f"next: {st.series_slug} issue {st.number} ({st.title}) on "
        f"{format_local(st.send_at, ZoneInfo(st.timezone))}"
    )


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    import logging
    import signal
    import threading

    from .runner import dry_run, run_loop, run_once

    clock = _clock()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("newsletter: %(message)s"))
    runner_log = logging.getLogger("newsletter.runner")
    runner_log.addHandler(handler)
    level = runner_log.level
    runner_log.setLevel(logging.DEBUG if args.debug else logging.INFO)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        print("newsletter: stopping after the message(s) in flight", file=sys.stderr)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if args.dry_run:
            report = dry_run(settings, clock(), Path(args.out), clock=clock)
            print(f"wrote {report.written} message(s) to {args.out} (dry run: nothing sent)")
        elif args.once:
            now = clock()
            report = run_once(settings, now, clock=clock, stop=stop)
            _print_report(report)
            if not report.attempted and not report.started:
                print(_next_up(settings, now))
        else:
            print(
                f"running: checking the outbox every {settings.schedule.poll_seconds} s; "
                "Ctrl-C or SIGTERM stops after the message(s) in flight",
                flush=True,
            )
            run_loop(
                settings,
                clock=clock,
                stop=stop,
                on_report=lambda r: _print_report(r, quiet_when_idle=True),
                on_error=lambda e: print(f"newsletter: error: {e}", file=sys.stderr, flush=True),
            )
            print("stopped")
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        runner_log.removeHandler(handler)
        runner_log.setLevel(level)
    return 0


def cmd_unsubscribe(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from .errors import SubscriberError
    from .outbox import Outbox, outbox_path
    from .subscribers import normalize_email
    from .unsubscribe import address_from_url, load_secret

    given = args.address.strip()
    with Outbox.open(outbox_path(settings)) as outbox:
        if "?" in given and "t=" in given:
            address = address_from_url(given, load_secret(outbox, os.environ))
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
        added, cancelled = outbox.suppress(address, reason=reason, now=_now())
    if added:
        print(
            f"unsubscribed {address}: never sent to again"
            + (f" ({cancelled} queued message(s) cancelled)" if cancelled else "")
        )
    else:
        print(f"{address} was already unsubscribed")
    return 0


def cmd_unsubscribe_server(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from .outbox import Outbox, outbox_path
    from .unsubscribe import base_url, load_secret
    from .unsubscribe_server import Suppression, UnsubscribeServer, endpoint

    with Outbox.open(outbox_path(settings)) as outbox:  # the sender's secret: sent links verify
        site = endpoint(settings, load_secret(outbox, os.environ))

    def report(done: Suppression) -> None:
        if done.added:
            cancelled = f" ({done.cancelled} queued message(s) cancelled)" if done.cancelled else ""
            print(f"unsubscribed {done.address}{cancelled}", flush=True)
        else:
            print(f"{done.address} was already unsubscribed", flush=True)

    server = _listen(
        args,
        "unsubscribe links",
        lambda address: UnsubscribeServer(
            address,
            site,
            clock=_clock(),
            on_unsubscribe=report,
            on_error=lambda message: print(f"newsletter: error: {message}", file=sys.stderr),
        ),
    )
    print(f"Serving {base_url(settings)} at {server.url} (Ctrl-C to stop)", flush=True)
    _serve(server)
    return 0


def _listen(
    args: argparse.Namespace, what: str, make: Callable[[tuple[str, int]], _Server]
) -> _Server:
    """Bind `--host`:`--port`; a port in use is one line, and any address but loopback a warning."""
    try:
        server = make((args.host, args.port))
    except OSError as e:
        raise ConfigError(
            f"cannot serve {what} on {args.host}:{args.port} ({e.strerror}); try another --port"
        ) from None
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"newsletter: warning: {what} can be reached from {args.host}", file=sys.stderr)
    return server


def _serve(server: ThreadingHTTPServer) -> None:
    """Serve until Ctrl-C or SIGTERM (how systemd stops a service); requests in flight finish."""
    import signal

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped", flush=True)
        finally:
            signal.signal(signal.SIGTERM, previous)


def _preview_calendar(series: Series, settings: Settings) -> tuple[tuple[CalendarRow, ...], str]:
    """The series' send plan from the outbox, or the plan `schedule` would make from today."""
    from zoneinfo import ZoneInfo

    from .outbox import Outbox, outbox_path
    from .preview import CalendarRow
    from .schedule_plan import format_local, next_weekday, parse_time, parse_zone, plan_send_times

    path = outbox_path(settings)
    now = _now()
    if path.exists():
        with Outbox.open(path, create=False) as outbox:
            queued = [st for st in outbox.status() if st.series_slug == series.slug]
        if queued:
            rows = tuple(
                CalendarRow(
                    st.number,
                    st.title,
                    format_local(st.send_at, ZoneInfo(st.timezone)),
                    st.phase(now) + (f" ({st.count('sent')} sent)" if st.count("sent") else ""),
                )
                for st in queued
            )
            return rows, f"Queued in {path}."
    zone = parse_zone(settings.schedule.timezone, "[schedule] timezone")
    at = parse_time(settings.schedule.time, "[schedule] time")
    start = next_weekday(now.astimezone(zone).date(), settings.schedule.weekday)
    plan = plan_send_times(start, at, zone, len(series.issues), settings.schedule.every)
    rows = tuple(
        CalendarRow(t.number, issue.title, format_local(t.local, zone), "not scheduled")
        for t, issue in zip(plan, series.issues, strict=True)
    )
    note = (
        f"Not scheduled yet. Starting next {settings.schedule.weekday.capitalize()} it would be: "
        f"newsletter schedule {series.post.source} --start {start.isoformat()}"
    )
    return rows, note


def cmd_preview(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from .preview import PreviewServer, build_pages, preview_data

    if not args.post:
        raise NewsletterError("name the post to preview: newsletter preview posts/<post>")
    post_path = Path(args.post)

    def mtime() -> float:
        try:
            return os.stat(post_path).st_mtime
        except OSError:
            return 0.0

    seen = [mtime()]

    def build() -> dict[str, tuple[str, bytes]]:
        series = _load(args, settings)
        rows, note = _preview_calendar(series, settings)
        return build_pages(preview_data(series, settings, rows, note))

    def stale() -> bool:
        current = mtime()
        changed = current != seen[0]
        seen[0] = current
        return changed

    server = _listen(args, "the preview", lambda address: PreviewServer(address, build, stale))
    print(f"Previewing {post_path} at {server.url} (Ctrl-C to stop)", flush=True)
    _serve(server)
    return 0


def cmd_captions(args: argparse.Namespace, settings: Settings) -> int:
    from .captions import PLATFORMS, caption_for, caption_length, limit_for

    platforms = PLATFORMS
    if args.platform is not None:
        name = args.platform.strip().lower()
        if name not in PLATFORMS:
            raise NewsletterError(
                f"unknown platform {args.platform!r}: choose one of {', '.join(PLATFORMS)}"
            )
        platforms = (name,)
    series = _load(args, settings)
    issues = series.issues
    if args.issue is not None:
        issues = tuple(i for i in series.issues if i.number == args.issue)
        if not issues:
            raise NewsletterError(
                f"{series.post.source}: there is no issue {args.issue}: choose one of "
                f"1-{len(series.issues)}"
            )
    table = [(i, {p: caption_for(series, i, p, settings) for p in platforms}) for i in issues]
    if args.json:
        data = {"issues": [{"number": i.number, "captions": c} for i, c in table]}
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif len(table) == 1 and len(platforms) == 1:
        print(table[0][1][platforms[0]])  # exactly the caption, for piping into a clipboard
    else:
        parts = []
        for issue, captions in table:
            parts.append(f"== Issue {issue.number} of {issue.total}: {issue.title} ==")
            for p, text in captions.items():
                used, limit = caption_length(p, text), limit_for(p, settings)
                parts.append(f"-- {p}: {used} of {limit} --\n{text}")
        print("\n\n".join(parts))
    return 0


def cmd_send_test(args: argparse.Namespace, settings: Settings) -> int:
    """Send one issue to one address now, outside the outbox: to see it in a real inbox."""
    import os
    from email.utils import parseaddr

    from .errors import DeliveryError
    from .mailer import SmtpConnection
    from .message import build_message
    from .outbox import Outbox, outbox_path
    from .render import render_issue
    from .subscribers import normalize_email
    from .unsubscribe import load_secret, unsubscribe_mailto, unsubscribe_url

    name, given = parseaddr(args.to)
    try:
        to_addr = normalize_email(given or args.to)
    except ValueError as e:
        raise NewsletterError(f"--to {args.to!r} is not an email address ({e})") from None
    from_addr = parseaddr(settings.newsletter.from_addr)[1]
    if not from_addr:
        raise NewsletterError(
            f"{settings.source}: [newsletter] from = {settings.newsletter.from_addr!r} has no "
            'address; use e.g. "Name <you@example.com>"'
        )
    connection = SmtpConnection(settings)  # bad SMTP settings fail before any rendering
    series = _load(args, settings)
    issue = next((i for i in series.issues if i.number == args.issue), None)
    if issue is None:
        raise NewsletterError(
            f"{series.post.source}: there is no issue {args.issue}: choose one of "
            f"1-{len(series.issues)}"
        )
    rendered = render_issue(series, issue, settings)
    _warn(series, rendered.warnings)
    with Outbox.open(outbox_path(settings)) as outbox:  # holds the generated secret, if any
        secret = load_secret(outbox, os.environ)
    msg = build_message(
        rendered,
        settings,
        to_addr=to_addr,
        to_name=name or None,
        unsubscribe_url=unsubscribe_url(settings, to_addr, secret),
        unsubscribe_mailto=unsubscribe_mailto(settings),
        date=_now(),
    )
    s = settings.smtp
    with connection:
        result = connection.send(msg, from_addr, to_addr)
    if not result.ok:
        answer = f"{result.code} {result.detail}" if result.code else result.detail
        raise DeliveryError(
            f"{s.host}:{s.port} did not take issue {issue.number} for {to_addr} "
            f"({result.status} failure): {answer}"
        )
    print(
        f"sent issue {issue.number} of {issue.total} ({rendered.subject!r}) to {to_addr} via "
        f"{s.host}:{s.port} ({s.security}): {result.code} {result.detail}"
    )
    return 0


COMMANDS: dict[str, Handler] = {
    "split": cmd_split,
    "build": cmd_build,
    "captions": cmd_captions,
    "preview": cmd_preview,
    "schedule": cmd_schedule,
    "status": cmd_status,
    "calendar": cmd_calendar,
    "run": cmd_run,
    "unsubscribe": cmd_unsubscribe,
    "unsubscribe-server": cmd_unsubscribe_server,
    "send-test": cmd_send_test,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        handler = COMMANDS[args.command]
        return handler(args, settings)
    except NewsletterError as e:
        if args.debug:
            raise
        print(f"newsletter: error: {e}", file=sys.stderr)
        return ExitStatus.ERROR
    except KeyboardInterrupt:
        print("newsletter: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return ExitStatus.OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
