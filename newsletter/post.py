"""Load a post: Markdown with front matter, or text scraped from a web page, into a `Post`."""

from __future__ import annotations

from pathlib import Path

from .errors import PostError
from .model import Post


def load_post(path: Path, fmt: str | None = None, strict: bool = False) -> Post:
    raise PostError(f"{path}: loading posts is being written")
