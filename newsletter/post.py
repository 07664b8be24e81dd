"""Compatibility: `load_post` reads a post with the reader for its kind (see `readers`)."""

from __future__ import annotations

from pathlib import Path

from .model import Post
from .readers import read_post


def load_post(path: Path, fmt: str | None = None, strict: bool = False) -> Post:
    return read_post(str(path), fmt, strict=strict)
