"""`newsletter build`: write the series plan, every issue's email files and the captions.

Layout (stable): <out>/<post-slug>/series.json, captions.json, captions.md and
<out>/<post-slug>/NN-<issue-slug>/ with email.mjml, email.html, email.txt and message.eml.
"""

from __future__ import annotations

import json
from pathlib import Path

from .config import Settings
from .model import Issue, Series
from .series import series_json


def issue_dir(root: Path, issue: Issue) -> Path:
    return root / f"{issue.number:02d}-{issue.slug}"


def write_build(series: Series, settings: Settings, out: Path) -> Path:
    """Write everything for one series under `out/<post-slug>/`; returns that folder."""
    root = out / series.slug
    root.mkdir(parents=True, exist_ok=True)
    _write_json(root / "series.json", series_json(series))
    for issue in series.issues:
        issue_dir(root, issue).mkdir(exist_ok=True)
    return root


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
