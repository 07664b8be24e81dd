"""`newsletter build`: write the series plan, every issue's email files and the captions.

Layout (stable): <out>/<post-slug>/series.json, captions.json, captions.md and
<out>/<post-slug>/NN-<issue-slug>/ with email.mjml, email.html, email.txt and message.eml.
"""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import localtime
from pathlib import Path

from .config import Settings
from .model import Issue, Series
from .series import series_json

SAMPLE_TO = ("Reader", "reader@example.com")  # the placeholder recipient of message.eml


def issue_dir(root: Path, issue: Issue) -> Path:
    return root / f"{issue.number:02d}-{issue.slug}"


def write_build(series: Series, settings: Settings, out: Path) -> tuple[Path, list[str]]:
    """Write everything for one series under `out/<post-slug>/`.

    Returns that folder and the render warnings (an email too big for Gmail, say), which the
    CLI prints: the files are written either way, the writer decides.
    """
    root = out / series.slug
    root.mkdir(parents=True, exist_ok=True)
    _write_json(root / "series.json", series_json(series))
    _write_captions(series, settings, root)
    for issue in series.issues:
        issue_dir(root, issue).mkdir(exist_ok=True)
    warnings = _write_emails(series, settings, root)
    return root, warnings


def _write_captions(series: Series, settings: Settings, root: Path) -> None:
    """captions.json for scripts and the preview, captions.md for people copying by hand."""
    from .captions import captions_json, captions_markdown

    _write_json(root / "captions.json", captions_json(series, settings))
    (root / "captions.md").write_text(captions_markdown(series, settings), encoding="utf-8")


def _write_emails(
    series: Series, settings: Settings, root: Path, now: datetime | None = None
) -> list[str]:
    """email.mjml, email.html, email.txt and message.eml per issue; returns render warnings.

    email.html and email.txt are what a reader without a name sees (with the real unsubscribe
    page); message.eml is a complete message to a placeholder reader. `now` dates the sample
    messages (the local time when not given: this is the edge that may read the clock).
    """
    from .links import unsubscribe_base_url
    from .message import eml_bytes, outgoing
    from .personalize import personalize
    from .render import render_series

    date = now or localtime()
    unsubscribe = unsubscribe_base_url(settings)
    sample_url = unsubscribe + ("&" if "?" in unsubscribe else "?") + "token=SAMPLE"
    warnings: list[str] = []
    for issue, email in zip(series.issues, render_series(series, settings), strict=True):
        folder = issue_dir(root, issue)
        folder.mkdir(exist_ok=True)
        html, text = personalize(email, name=None, unsubscribe_url=unsubscribe)
        (folder / "email.mjml").write_text(email.mjml, encoding="utf-8")
        (folder / "email.html").write_text(html, encoding="utf-8")
        (folder / "email.txt").write_text(text, encoding="utf-8")
        msg = outgoing(
            email,
            settings,
            to_addr=SAMPLE_TO[1],
            to_name=SAMPLE_TO[0],
            unsubscribe_url=sample_url,
            date=date,
        )
        (folder / "message.eml").write_bytes(eml_bytes(msg))
        warnings.extend(email.warnings)
    return warnings


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
