"""Command line: argument parsing and user-facing errors only; the work happens in the stages.

Exit status: 0 success, 1 a user error (one line on stderr, no traceback), 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from enum import IntEnum
from pathlib import Path

from . import __version__
from .config import Settings, load_settings
from .errors import NewsletterError


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
    p.add_argument("--port", type=int, default=8025, help="port on 127.0.0.1 (default 8025)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")

    p = sub.add_parser("schedule", help="queue the series, one issue every N weeks")
    p.description = "Render the series once and queue one issue per week in the outbox."
    _add_post(p)
    p.add_argument("--start", required=True, metavar="DATE", help="date of issue 1 (YYYY-MM-DD)")
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
    return parser


def _load(args: argparse.Namespace, settings: Settings):  # type: ignore[no-untyped-def]
    """Load and split the post named on the command line, printing text warnings on stderr."""
    from .post import load_post
    from .series import split_post

    post = load_post(Path(args.post), fmt=args.format, strict=args.strict)
    for w in post.warnings:
        print(w, file=sys.stderr)
    return split_post(post, settings)


def cmd_split(args: argparse.Namespace, settings: Settings) -> int:
    from .series import series_json

    series = _load(args, settings)
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
    folder = write_build(series, settings, Path(args.output))
    print(f"wrote {len(series.issues)} issues to {folder}")
    return 0


def cmd_not_yet(args: argparse.Namespace, settings: Settings) -> int:
    raise NewsletterError(f"'newsletter {args.command}' is not built yet")


COMMANDS: dict[str, Handler] = {
    "split": cmd_split,
    "build": cmd_build,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        handler = COMMANDS.get(args.command, cmd_not_yet)
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
