"""Command line: argument parsing, one call into the library per command, and printing.

The work happens in `service` and the stages. Exit status: 0 success, 1 an error (one line on
stderr naming the file, setting or host at fault; the traceback only with --debug), 2 a usage
error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import __version__, service
from .config import Settings, load_settings
from .errors import ConfigError, NewsletterError, UsageError

if TYPE_CHECKING:
    import threading
    from http.server import ThreadingHTTPServer

    from .model import Issue, Series
    from .runner import RunReport

_Server = TypeVar("_Server", bound="ThreadingHTTPServer")


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


Handler = Callable[[argparse.Namespace, Settings], ExitStatus]


# --- arguments -----------------------------------------------------------------------------


def _add_post(p: argparse.ArgumentParser, optional: bool = False) -> None:
    what = "the post: a .md, .html or .txt file, or the page's http(s) URL"
    p.add_argument("post", metavar="POST", nargs="?" if optional else None, help=what)
    p.add_argument(
        "--format",
        choices=["markdown", "html", "text"],
        help="how to read the post (default: by file extension; a URL is read as html)",
    )
    p.add_argument("--strict", action="store_true", help="treat warnings about the text as errors")
    p.add_argument(
        "--url",
        type=_post_url,
        help="the post's address on the web, for its links (scraped text does not say)",
    )


def _add_global(p: argparse.ArgumentParser, *, top: bool = False) -> None:
    """--config and --debug, accepted before the command name and after it.

    On a command's own parser they default to SUPPRESS, so they only override the value given
    before the command when they are given again after it.
    """
    default: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    p.add_argument(
        "--config",
        metavar="PATH",
        help="settings file (default: ./newsletter.toml if present)",
        **default,
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks", **default)


def _add_server(p: argparse.ArgumentParser, port: int) -> None:
    p.add_argument("--port", type=_port, default=port, help=f"port (default {port})")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")


@dataclass(frozen=True)
class Option:
    """One add_argument call: its flags (or positional name) and keywords."""

    flags: tuple[str, ...]
    keywords: dict[str, Any]


def opt(*flags: str, **keywords: Any) -> Option:
    return Option(flags, keywords)


@dataclass(frozen=True)
class Command:
    """A subcommand: its handler (whose docstring is its help), options, and shared arguments."""

    name: str
    handler: Handler
    options: tuple[Option, ...]
    post: str | None  # "required" or "optional": the POST argument and its reading options
    port: int | None  # a server's default port: --host and --port

    @property
    def summary(self) -> str:
        return (self.handler.__doc__ or "").strip().split("\n")[0]

    @property
    def description(self) -> str:
        rest = (self.handler.__doc__ or "").strip().partition("\n")[2]
        return " ".join(rest.split()) or self.summary


COMMANDS: dict[str, Command] = {}


def command(
    *options: Option, post: str | None = None, port: int | None = None
) -> Callable[[Handler], Handler]:
    """Register `cmd_<name>` as the subcommand <name>, in the order of this file."""

    def register(handler: Handler) -> Handler:
        name = handler.__name__.removeprefix("cmd_").replace("_", "-")
        COMMANDS[name] = Command(name, handler, options, post, port)
        return handler

    return register


JSON = opt("--json", action="store_true", help="print as JSON")
MAX_WORKERS = 32  # sender processes for `run --workers`; more than the cores only waits


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsletter",
        description="Turn one blog post into a weekly email series and its social posts.",
    )
    parser.add_argument("--version", action="version", version=f"newsletter {__version__}")
    _add_global(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for c in COMMANDS.values():
        p = sub.add_parser(c.name, help=c.summary, description=c.description)
        _add_global(p)
        if c.post is not None:
            _add_post(p, optional=c.post == "optional")
        if c.port is not None:
            _add_server(p, c.port)
        for o in c.options:
            p.add_argument(*o.flags, **o.keywords)
    return parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every command the parser knows, by name: for help and for tests built from the list."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}  # pragma: no cover - the parser always has its commands


def _post_url(value: str) -> str:
    """An absolute http(s) address, so the emails' and captions' links work."""
    from .links import http_url

    try:
        return http_url(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _port(value: str) -> int:
    """A TCP port number, so a typo is a usage error rather than a traceback from bind()."""
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (0-65535)")
    return port


# --- the edge: clock, warnings, servers ----------------------------------------------------


def _now() -> datetime:
    """The current time, or NEWSLETTER_NOW (ISO, with its offset) for tests and rehearsals."""
    import os
    from datetime import UTC

    value = os.environ.get("NEWSLETTER_NOW", "").strip()
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"NEWSLETTER_NOW={value!r} is not an ISO time; use e.g. 2025-03-10T14:00:00+00:00"
        ) from None
    if moment.tzinfo is None:
        raise ConfigError(f"NEWSLETTER_NOW={value!r} needs a UTC offset, e.g. +00:00")
    return moment.astimezone(UTC)


def _clock() -> Callable[[], datetime]:
    """The clock for a long run: NEWSLETTER_NOW stands still, the real one moves."""
    import os

    if os.environ.get("NEWSLETTER_NOW", "").strip():
        fixed = _now()
        return lambda: fixed
    return _now


def _warn(lines: Iterable[str]) -> None:
    for line in lines:
        print(line, file=sys.stderr)


def _load(args: argparse.Namespace, settings: Settings, *, links: bool = True) -> Series:
    """The post named on the command line, split; its warnings go to stderr."""
    series = service.load_series(
        args.post, settings, fmt=args.format, strict=args.strict, url=args.url
    )
    _warn(service.warnings(series, settings, links=links))
    return series


def _warn_render(series: Series, warnings: Iterable[str]) -> None:
    """Render warnings (each names its issue), after the post they come from."""
    _warn(f"{series.post.source}: warning: {w}" for w in warnings)


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


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or a first Ctrl-C (the message in flight finishes); a second
    Ctrl-C interrupts at once."""
    import signal
    import threading

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        print("newsletter: stopping after the message(s) in flight", file=sys.stderr)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def _runner_log(debug: bool) -> Iterator[None]:
    """The runner's log lines on stderr while a run lasts (every message with --debug)."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("newsletter: %(message)s"))
    log = logging.getLogger("newsletter.runner")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if debug else logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


# --- printing ------------------------------------------------------------------------------


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _print_plan(series: Series) -> None:
    author = f" by {series.post.author}" if series.post.author else ""
    print(f"{series.post.title}{author}")
    for issue in series.issues:
        refs = f"  [{len(issue.references)} reference(s)]" if issue.references else ""
        print(f"{issue.number:>3}. {issue.title}{refs}")
        print(f"     subject:   {issue.subject}")
        print(f"     preheader: {issue.preheader}")


def _print_queued(queued: service.Queued, series: Series, now: datetime) -> None:
    t, result = queued.timing, queued.result
    weeks = "every week" if t.every == 1 else f"every {t.every} weeks"
    print(
        f"queued '{series.title}' ({result.series_slug}): {len(queued.issues)} issues, {weeks} "
        f"at {t.at:%H:%M} {t.zone.key}, in {queued.outbox}"
    )
    if result.retitled_from is not None:
        print(f"  the same post, retitled: was '{result.retitled_from}' (one series, replaced)")
    kept = set(result.kept)
    for st in queued.issues:
        note = "  (sending had begun: kept as it was)" if st.number in kept else ""
        print(f"  {st.number:>2}. {st.local}  ({st.send_at:%Y-%m-%d %H:%M} UTC)  {st.title}{note}")
    if result.replaced or result.removed:
        removed = f", removed {len(result.removed)}" if result.removed else ""
        print(f"replaced {len(result.replaced)} issue(s) not sent yet{removed}")
    if result.due_now == 1:
        print("1 issue already due: the next 'newsletter run' sends it")
    elif result.due_now:
        print(f"{result.due_now} issues already due: 'newsletter run' sends them one per run")


def _print_status(status: service.Status) -> None:
    if not status.exists:
        print(f"nothing scheduled yet (no outbox at {status.outbox})")
        return
    if not status.rows:
        print(f"nothing scheduled in {status.outbox}")
        return
    for s in status.series:
        upcoming = f", next {s.next}" if s.next else ""
        started = f"{s.started} of {s.issues} issues started"
        cancelled = f", {s.cancelled} cancelled" if s.cancelled else ""
        failed = f", {s.failed} failed" if s.failed else ""
        print(f"{s.slug} ('{s.title}'): {s.state}, {started}{cancelled}{failed}{upcoming}")
    print()
    print(
        f"{'':>4} {'send time':<25} {'state':<9} {'sent':>6} {'pending':>7} {'retry':>6} "
        f"{'failed':>6}  title"
    )
    series = None
    for r in sorted(status.rows, key=lambda r: [s.slug for s in status.series].index(r.series)):
        if r.series != series:
            series = r.series
            print(f"{series}:")
        print(
            f"{r.number:>4} {r.local:<25} {r.state:<9} {r.sent:>6} {r.pending:>7} "
            f"{r.retrying:>6} {r.failed:>6}  {r.title}"
        )
    for r in status.rows:
        if r.reason:
            print(f"{r.series} issue {r.number} failed, nothing sent: {r.reason}")
        if r.unknown:
            print(
                f"{r.series} issue {r.number}: {r.unknown} message(s) got no final reply after "
                "the body (the reader may have it); 'newsletter unknown' "
                "lists them"
            )


def _print_captions(table: list[tuple[Issue, dict[str, str]]], settings: Settings) -> None:
    from .captions import caption_length, limit_for

    parts = []
    for issue, captions in table:
        parts.append(f"== Issue {issue.number} of {issue.total}: {issue.title} ==")
        for p, text in captions.items():
            used, limit = caption_length(p, text), limit_for(p, settings)
            parts.append(f"-- {p}: {used} of {limit} --\n{text}")
    print("\n\n".join(parts))


def _print_failed_issues(report: RunReport) -> None:
    for series_slug, number, why in report.failed_issues:
        print(
            f"newsletter: {series_slug} issue {number} failed, nothing sent: {why}; fix the post "
            "and 'schedule --replace' it (the other issues go on)",
            file=sys.stderr,
        )


def _print_report(report: RunReport, *, quiet_when_idle: bool = False) -> None:
    for series_slug, number, recipients in report.started:
        print(f"started {series_slug} issue {number}: {recipients} recipient(s)")
    _print_failed_issues(report)
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
    if report.attempted:
        unknown = f", no final reply {report.unknown}" if report.unknown else ""
        print(f"sent {report.sent}, will retry {report.retrying}, failed {report.failed}{unknown}")
    elif not report.started and not report.failed_issues and not quiet_when_idle:
        print("nothing due")
    if report.stopped:
        print("stopped: the rest waits in the outbox for the next run")
    sys.stdout.flush()


# --- commands: parse, call, print ----------------------------------------------------------


@command(
    opt("source", help="a .md, .html or .txt file, or the page's http(s) URL"),
    opt("--format", choices=["markdown", "html", "text"], help="how to read it (default: by kind)"),
    opt("-o", "--output", metavar="FILE", help="write here (default: print it)"),
    opt("--force", action="store_true", help="replace FILE if it exists"),
)
def cmd_import(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """any source (URL, .html, .txt, .md) as a clean Markdown post

    Read a post with the reader for its kind and write it as Markdown: front matter, the
    sections as '## ' headings, references, and each warning as a comment where it applies.
    Edit the headings to fix the split; the Markdown reader reads it as written.
    """
    if args.output:
        service.check_new_file(Path(args.output), replace=args.force)
    post, markdown = service.import_post(args.source, fmt=args.format)
    for w in post.warnings:
        print(w, file=sys.stderr)
    if not args.output:
        sys.stdout.write(markdown)
        return ExitStatus.OK
    service.write_new_file(Path(args.output), markdown, replace=args.force)
    print(f"wrote {args.output}: {len(post.sections)} sections; check the headings, then run")
    print(f"  newsletter split {args.output}")
    return ExitStatus.OK


@command(opt("--json", action="store_true", help="print the plan as JSON"), post="required")
def cmd_split(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """show the series plan: issues, titles, references

    Split a post into a weekly series and print the plan.
    """
    from .series import series_json

    series = _load(args, settings, links=False)
    if args.json:
        _print_json(series_json(series))
    else:
        _print_plan(series)
    return ExitStatus.OK


@command(
    opt("-o", "--output", metavar="DIR", default="build", help="parent folder (default: build)"),
    post="required",
)
def cmd_build(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """write every issue's HTML, text, .eml and captions

    Write series.json, captions and one folder per issue with its email files.
    """
    from .build import write_build

    series = _load(args, settings)
    _warn(service.home_page_warning(series, settings))
    folder, warnings = write_build(series, settings, Path(args.output))
    _warn_render(series, warnings)
    print(f"wrote {len(series.issues)} issues to {folder}")
    return ExitStatus.OK


@command(
    opt("--issue", type=int, metavar="N", help="only issue N"),
    opt("--platform", metavar="NAME", help="only this platform (x, bluesky, ...)"),
    JSON,
    post="required",
)
def cmd_captions(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """print social captions, ready to paste

    Print each issue's captions, with their length as each platform counts it.
    """
    from .captions import platforms

    chosen = platforms(args.platform)
    series = _load(args, settings)
    table = service.captions(series, settings, number=args.issue, platforms=chosen)
    if args.json:
        _print_json({"issues": [{"number": i.number, "captions": c} for i, c in table]})
    elif len(table) == 1 and len(chosen) == 1:
        print(table[0][1][chosen[0]])  # exactly the caption, for piping into a clipboard
    else:
        _print_captions(table, settings)
    return ExitStatus.OK


@command(post="required", port=8025)
def cmd_preview(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """preview the series in the browser, live as you edit

    Serve a local preview of every issue, its text and captions, what the reader found and the
    send calendar; the open page updates itself when the post, the settings, a template or the
    outbox changes.
    """
    from .preview import PreviewServer, changed

    current = [settings]

    def build() -> dict[str, tuple[str, bytes]]:
        current[0] = fresh = load_settings(args.config)  # the settings file is watched too
        series = _load(args, fresh)
        _warn(service.home_page_warning(series, fresh))
        return service.preview_pages(series, fresh, _now(), fmt=args.format)

    stale = changed(lambda: service.preview_watch(args.post, current[0], args.config))
    server = _listen(args, "the preview", lambda address: PreviewServer(address, build, stale))
    print(f"Previewing {args.post} at {server.url} (Ctrl-C to stop)", flush=True)
    _serve(server)
    return ExitStatus.OK


@command(
    opt(
        "--start",
        metavar="DATE",
        help="date of issue 1, YYYY-MM-DD (default: the next [schedule] weekday)",
    ),
    opt("--at", metavar="HH:MM", help="local send time (default from settings)"),
    opt("--tz", metavar="AREA/CITY", help="time zone (default from settings)"),
    opt(
        "--every",
        type=int,
        metavar="N",
        help="weeks between issues (default: [schedule] every, 1 when unset)",
    ),
    opt(
        "--replace",
        action="store_true",
        help="replace the issues of a queued series not yet started",
    ),
    opt(
        "--catch-up",
        action="store_true",
        help="with a past --start: send the missed issues one per run, not all at once",
    ),
    opt(
        "--accept-warnings",
        action="store_true",
        help="queue the post even though it has warnings (a lost drop cap, link text with no link)",
    ),
    opt(
        "--accept-placeholders",
        action="store_true",
        help="queue even though settings still hold example.com or the example postal address",
    ),
    post="required",
)
def cmd_schedule(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """queue the series, one issue every N weeks

    Render the series once and queue one issue per week in the outbox. Refuses placeholder
    settings, a post with warnings and a past --start that makes several issues due at once,
    each with the flag that overrides it.
    """
    now = _now()
    when = service.timing(settings, now, start=args.start, at=args.at, tz=args.tz, every=args.every)
    series = _load(args, settings)
    service.check_schedule(
        series,
        settings,
        when,
        now,
        accept_placeholders=args.accept_placeholders,
        accept_warnings=args.accept_warnings,
        catch_up=args.catch_up,
    )
    queued = service.queue_series(
        series, settings, when, now=now, replace=args.replace, catch_up=args.catch_up
    )
    _warn_render(series, queued.warnings)
    _warn(service.home_page_warning(series, settings))  # after the refusals, each one line
    _print_queued(queued, series, now)
    return ExitStatus.OK


@command(
    opt("series", metavar="SERIES", help="the series' name, as 'newsletter status' shows it"),
    opt("--yes", action="store_true", help="do not ask for confirmation"),
)
def cmd_unschedule(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """cancel the issues of a series not yet started

    Cancel every issue of SERIES whose sending has not begun; an issue already going out is left
    alone and named. Asks first, unless --yes.
    """
    now = _now()
    mine = [st for st in service.send_plan(settings, now).issues if st.series_slug == args.series]
    going = [st for st in mine if not st.materialized and not st.cancelled]
    if going and not args.yes:
        numbers = ", ".join(str(st.number) for st in going)
        print(
            f"cancel issue(s) {numbers} of '{args.series}' (first {going[0].local})? [y/N] ",
            end="",
            flush=True,
        )
        answer = sys.stdin.readline()
        if not answer.endswith("\n"):
            print()  # no answer (end of input): end the question's line
        if answer.strip().lower() not in ("y", "yes"):
            raise NewsletterError(
                f"nothing cancelled: '{args.series}' stays queued (--yes skips the question)"
            )
    done = service.unschedule(settings, args.series, now)
    if done.cancelled:
        listed = ", ".join(map(str, done.cancelled))
        print(f"unscheduled '{done.slug}': cancelled issue(s) {listed} in {done.outbox}")
    else:
        print(f"'{done.slug}' has no issue left to cancel")
    if done.started:
        listed = ", ".join(map(str, done.started))
        print(f"left alone: issue(s) {listed} (sending had begun)")
    return ExitStatus.OK


@command(JSON)
def cmd_status(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """what is queued, sent, failed, per issue

    Show each queued issue: when, and how many sent, pending, failed.
    """
    status = service.status(settings, _now())
    if args.json:
        _print_json(status.json())
    else:
        _print_status(status)
    return ExitStatus.OK


@command(opt("--ics", metavar="FILE", help="write the plan as an iCalendar file"))
def cmd_calendar(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """the send plan; as iCalendar with --ics

    Show the send plan, or write it as an iCalendar file.
    """
    now = _now()
    plan = service.send_plan(settings, now)
    if not plan.issues:
        print(f"nothing scheduled yet (outbox: {plan.outbox})")
    for st in plan.issues:
        utc = f"{st.send_at:%Y-%m-%d %H:%M} UTC"
        gone = "  (cancelled)" if st.cancelled else ""
        print(f"{st.local}  ({utc})  {st.series_slug} #{st.number}: {st.title}{gone}")
    if args.ics:
        target = Path(args.ics)
        try:
            target.write_bytes(service.calendar(plan, settings, now))
        except OSError as e:
            raise NewsletterError(f"{target}: cannot write the calendar ({e.strerror})") from None
        print(f"wrote {sum(not st.cancelled for st in plan.issues)} event(s) to {target}")
    return ExitStatus.OK


@command(
    opt("--once", action="store_true", help="one pass, then exit (for cron/systemd)"),
    opt("--dry-run", action="store_true", help="write .eml files instead of sending"),
    opt("--out", metavar="DIR", default="outbox-dry-run", help="folder for --dry-run"),
    opt(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help=f"send from N processes, each with [smtp] connections (1-{MAX_WORKERS})",
    ),
)
def cmd_run(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """send what is due

    Send what is due: a loop that wakes every poll interval, or one pass.
    """
    from .runner import dry_run, run_loop, run_once

    if not 1 <= args.workers <= MAX_WORKERS:
        raise UsageError(f"--workers {args.workers}: give 1 to {MAX_WORKERS} sender processes")
    clock = _clock()
    with _runner_log(args.debug), _stop_on_signals() as stop:
        if args.dry_run:
            report = dry_run(settings, clock(), Path(args.out), clock=clock)
            _print_failed_issues(report)
            print(f"wrote {report.written} message(s) to {args.out} (dry run: nothing sent)")
        elif args.once:
            now = clock()
            report = run_once(settings, now, clock=clock, stop=stop, workers=args.workers)
            _print_report(report)
            if not report.attempted and not report.started:
                print(service.next_up(settings, now))
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
                workers=args.workers,
            )
            print("stopped")
    return ExitStatus.OK


@command(opt("file", metavar="FILE", help="the new backup file (never overwritten)"))
def cmd_backup(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """copy the outbox to a new file, safely while running

    Copy the outbox into FILE with SQLite's online backup, even while a runner is sending; the
    copy is checked before it gets its name. The README says how to restore it.
    """
    from .outbox import open_outbox

    target = Path(args.file)
    with open_outbox(settings, create=False) as outbox:
        series, deliveries = outbox.backup(target)
    print(f"backed up {outbox.where} to {target}: {series} series, {deliveries} deliveries")
    return ExitStatus.OK


@command(
    opt("action", choices=("copy",), help="copy: move the outbox into a PostgreSQL database"),
    opt("--to", required=True, metavar="URL", help="postgresql://user@host:5432/database"),
)
def cmd_outbox(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """move the outbox to PostgreSQL (outbox copy --to URL)

    Copy every series, issue, delivery, the suppression list and the unsubscribe secret into an
    empty PostgreSQL database, in one transaction; the password comes from PGPASSWORD, never the
    URL. Then set [outbox] url to it, so every runner, on any machine, sends from there.
    """
    done = service.copy_outbox(settings, args.to)
    rows = done.rows
    print(
        f"copied {done.source} to {done.target}: {rows['series']} series, {rows['issues']}"
        f" issues, {rows['deliveries']} deliveries, {rows['suppression']} suppressed addresses,"
        f" {rows['meta']} settings (the unsubscribe secret among them)"
    )
    print(f'now set [outbox] url = "{done.target}" in newsletter.toml')
    return ExitStatus.OK


@command(
    opt("--issue", type=int, required=True, metavar="N", help="the issue to send (1 is the first)"),
    opt("--to", required=True, metavar="ADDRESS", help="the address to send it to"),
    post="required",
)
def cmd_send_test(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """send one issue now to one address

    Send one issue to one address now, outside the outbox: to see it in a real inbox.
    """
    service.check_send_test(settings, args.to)  # bad SMTP settings fail before any rendering
    series = _load(args, settings)
    sent = service.send_test(series, settings, number=args.issue, to=args.to, now=_now())
    _warn_render(series, sent.warnings)
    print(
        f"sent issue {sent.issue.number} of {sent.issue.total} ({sent.subject!r}) to {sent.to} "
        f"via {sent.server}: {sent.answer}"
    )
    return ExitStatus.OK


@command(opt("address", help="an address, or a personal unsubscribe link"))
def cmd_unsubscribe(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """add an address to the suppression list

    Never send to this address again.
    """
    done = service.unsubscribe(settings, args.address, _now())
    if not done.added:
        print(f"{done.address} was already unsubscribed")
        return ExitStatus.OK
    cancelled = f" ({done.cancelled} queued message(s) cancelled)" if done.cancelled else ""
    print(f"unsubscribed {done.address}: never sent to again{cancelled}")
    return ExitStatus.OK


@command(JSON)
def cmd_subscribers(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """who is suppressed, bounced or failing, and why

    The addresses the outbox keeps away from or cannot reach: suppressed (unsubscribed, or
    suppressed for a reason), bounced (a bounce report's 5.x.x) and failed (a permanent failure
    that did not suppress them), each with its reason.
    """
    from .hygiene import listed_addresses

    listed = listed_addresses(settings)
    if args.json:
        print(json.dumps({"addresses": [a.as_json() for a in listed]}, ensure_ascii=False))
        return ExitStatus.OK
    if not listed:
        print("no suppressed, bounced or failed addresses")
        return ExitStatus.OK
    for a in listed:
        where = f" (issue {a.issue})" if a.issue else ""
        when = a.since.strftime("%Y-%m-%d %H:%M UTC")
        print(f"{a.status:<10}  {a.email}  {when}{where}: {a.reason}")
    counts = {s: sum(a.status == s for a in listed) for s in ("suppressed", "bounced", "failed")}
    print(", ".join(f"{n} {s}" for s, n in counts.items()))
    return ExitStatus.OK


@command(opt("address", help="the address to send to again"))
def cmd_resubscribe(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """take an address off the suppression list

    Take an address off the suppression list: the issues that go out from now on are sent to
    it again (if it is in the subscriber list); deliveries already cancelled stay cancelled.
    """
    from .hygiene import resubscribe

    done = resubscribe(settings, args.address)
    if done.reason is None:
        print(f"{done.address} was not on the suppression list")
    else:
        print(f"resubscribed {done.address} (it was suppressed: {done.reason})")
    return ExitStatus.OK


@command(
    opt("series", nargs="?", metavar="SERIES", help="only this series ('newsletter status')"),
    opt("issue", nargs="?", type=int, metavar="ISSUE", help="only this issue number"),
    opt("--sent", action="store_true", help="record them sent: the readers have them"),
    opt("--resend", action="store_true", help="send them again, with the same Message-ID"),
    JSON,
)
def cmd_unknown(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """list the messages with no final reply, and settle them

    A message whose body went out with no final reply from the server is `unknown`: the reader
    may have it. `run` retries one once, on a later pass, then leaves it to you: list them, then
    say --sent (the server's log shows them delivered) or --resend (the same Message-ID, so a
    receiver that has the first copy can drop the second).
    """
    from .hygiene import Decision, settle_unknown

    if args.sent and args.resend:
        raise UsageError("say --sent or --resend, not both")
    decision: Decision | None = "sent" if args.sent else "resend" if args.resend else None
    found = settle_unknown(
        settings, _now(), decision=decision, series=args.series, number=args.issue
    )
    if args.json:
        print(json.dumps({"unknown": [u.as_json() for u in found]}, ensure_ascii=False))
        return ExitStatus.OK
    for u in found:
        print(f"{u.issue}  {u.email}  {u.message_id}  {u.since:%Y-%m-%d %H:%M} UTC: {u.detail}")
    if not found:
        print("no message is waiting for a decision")
    elif decision == "sent":
        print(f"recorded {len(found)} message(s) as sent")
    elif decision == "resend":
        print(f"{len(found)} message(s) queued again: the next 'newsletter run' sends them")
    else:
        print(f"{len(found)} message(s) with no final reply: add --sent or --resend")
    return ExitStatus.OK


@command(opt("mailbox", metavar="MAILBOX", help="an mbox file or a Maildir folder"))
def cmd_bounces(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """read bounce reports, suppress hard bounces

    Read the delivery status notifications (RFC 3464) in an mbox file or a Maildir folder:
    each address with a permanent failure (5.x.x) goes on the suppression list with the code
    and the server's reason; temporary failures (4.x.x) are counted, not suppressed. The mailbox
    is not changed, so reading it again is harmless.
    """
    from .hygiene import apply_bounces

    done = apply_bounces(settings, Path(args.mailbox), _now())
    reading = done.reading
    for warning in reading.unreadable:
        print(f"warning: {warning}", file=sys.stderr)
    for b in done.suppressed:
        print(f"suppressed {b.address}: {b.reason}")
    for b in done.already:
        print(f"{b.address} was already on the suppression list ({b.status})")
    for b in reading.soft:
        print(f"soft bounce for {b.address} ({b.status}), not suppressed: {b.diagnostic}")
    cancelled = f", {done.cancelled} queued message(s) cancelled" if done.cancelled else ""
    print(
        f"{reading.messages} message(s) read: {len(reading.hard)} hard bounce(s), "
        f"{len(done.suppressed)} address(es) newly suppressed{cancelled}; "
        f"{len(reading.soft)} soft bounce(s) counted, not suppressed; "
        f"{reading.not_reports} not a bounce report"
    )
    return ExitStatus.OK


@command(port=8026)
def cmd_unsubscribe_server(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """answer the unsubscribe links (behind HTTPS)

    Answer the personal unsubscribe links: GET shows a page with a button, POST (that button,
    or a mail provider's one-click request) unsubscribes. Put it behind your HTTPS reverse
    proxy.
    """
    from .links import unsubscribe_base_url
    from .unsubscribe_server import Suppression, UnsubscribeServer, endpoint

    site = endpoint(settings, service.signing_secret(settings))  # the links sent verify

    def report(done: Suppression) -> None:
        cancelled = f" ({done.cancelled} queued message(s) cancelled)" if done.cancelled else ""
        line = f"unsubscribed {done.address}{cancelled}" if done.added else (
            f"{done.address} was already unsubscribed"
        )  # fmt: skip
        print(line, flush=True)

    def make(address: tuple[str, int]) -> UnsubscribeServer:
        return UnsubscribeServer(
            address,
            site,
            clock=_clock(),
            on_unsubscribe=report,
            on_error=lambda message: print(f"newsletter: error: {message}", file=sys.stderr),
        )

    server = _listen(args, "unsubscribe links", make)
    print(f"Serving {unsubscribe_base_url(settings)} at {server.url} (Ctrl-C to stop)", flush=True)
    _serve(server)
    return ExitStatus.OK


@command(opt("--export", metavar="DIR", required=True, help="folder to write them into"))
def cmd_templates(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """write the built-in email templates out for editing

    Write the built-in templates into DIR; point [newsletter] templates at it to use them.
    """
    from .render import export_templates

    written = export_templates(Path(args.export))
    for path in written:
        print(f"wrote {path}")
    print(f"use them with: [newsletter] templates = {str(Path(args.export))!r}")
    return ExitStatus.OK


# --- errors --------------------------------------------------------------------------------


def _fail(message: str, status: ExitStatus) -> ExitStatus:
    print(f"newsletter: error: {' '.join(message.split())}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> ExitStatus:
    """Run one command; every failure is one line on stderr and an exit status."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
        return COMMANDS[args.command].handler(args, settings)
    except BrokenPipeError:  # `newsletter status | head`: the reader has seen enough
        return ExitStatus.OK
    except KeyboardInterrupt:
        print("newsletter: interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED
    except Exception as e:
        if args.debug:
            raise
        if isinstance(e, UsageError):
            return _fail(str(e), ExitStatus.USAGE)
        if isinstance(e, NewsletterError):
            return _fail(str(e), ExitStatus.ERROR)
        if isinstance(e, OSError):
            where = f"{e.filename}: " if e.filename else ""
            return _fail(f"{where}{e.strerror or e}", ExitStatus.ERROR)
        return _fail(
            f"unexpected {type(e).__name__}: {e} (a bug: please report it with the output of "
            "--debug)",
            ExitStatus.ERROR,
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
