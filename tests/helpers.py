"""Small helpers shared by the tests (paths, golden files)."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "posts" / "massage-for-the-mental-health-of-it.txt"
POSTS = Path(__file__).resolve().parent / "posts"
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE_GOLDEN = os.environ.get("NEWSLETTER_UPDATE_GOLDEN") == "1"


def check_golden_text(name: str, actual: str) -> None:
    """Compare with tests/golden/<name>; `make golden` rewrites it for review as a diff."""
    path = GOLDEN / name
    if UPDATE_GOLDEN or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        if not UPDATE_GOLDEN:
            raise AssertionError(f"wrote missing golden file {path}; review it and run again")
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs (make golden to update)"


def check_golden_json(name: str, actual: object) -> None:
    check_golden_text(name, json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
