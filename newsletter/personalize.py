"""One recipient's copy of an issue rendered once: the name, the unsubscribe link and any extra
column of the list go in as plain string replacements of tokens, escaped for the HTML, so nothing
is re-rendered through MJML and premailer per recipient."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from .errors import TemplateError
from .links import SAFE_SCHEMES
from .model import Email

UNSUBSCRIBE_TOKEN = "__NEWSLETTER_UNSUBSCRIBE_URL__"
NAME_TOKEN = "__NEWSLETTER_SUBSCRIBER_NAME__"
FIRST_NAME_TOKEN = "__NEWSLETTER_FIRST_NAME__"
NAME_FALLBACK = "there"  # "Hi there," when a subscriber has no name
FIELD_TOKEN = re.compile(r"__NEWSLETTER_FIELD_([a-z0-9]+(?:_[a-z0-9]+)*)__(?:([0-9a-f]+)__)?")


def field_key(column: str) -> str:
    """A CSV column as templates name it: "First Name" and "first-name" are `first_name`."""
    return "_".join(re.findall(r"[a-z0-9]+", column.lower()))


class SubscriberFields:
    """`subscriber.city` or `subscriber.get("city", "your town")` in a template.

    The email is rendered once per issue, so a field renders as a token that `personalize`
    replaces for each recipient with that subscriber's CSV column (empty, or the default,
    when the column is missing or blank).
    """

    @property
    def name(self) -> str:
        return NAME_TOKEN

    def get(self, column: str, default: str = "") -> str:
        key = field_key(column)
        if not key:
            raise TemplateError(f"subscriber field {column!r} has no letters or digits")
        suffix = f"{default.encode('utf-8').hex()}__" if default else ""
        return f"__NEWSLETTER_FIELD_{key}__{suffix}"

    def __getattr__(self, column: str) -> str:
        if column.startswith("_"):
            raise AttributeError(column)
        return self.get(column)

    def __getitem__(self, column: str) -> str:
        return self.get(column)


def first_name(name: str | None, values: dict[str, str]) -> str:
    """What a greeting calls the reader: the list's `first_name` column when it has one, else
    the first word of `name` ("Ada Lovelace" is "Ada"), else "there"."""
    given = values.get("first_name", "")
    if given:
        return given
    words = (name or "").split()
    return words[0] if words else NAME_FALLBACK


def greeting_template(pattern: str) -> str:
    """`[newsletter] greeting` with its placeholders as per-recipient tokens."""
    return pattern.replace("{first_name}", FIRST_NAME_TOKEN).replace("{name}", NAME_TOKEN)


def personalize(
    email: Email,
    *,
    name: str | None,
    unsubscribe_url: str,
    fields: Iterable[tuple[str, str]] = (),
) -> tuple[str, str]:
    """(html, text) for one recipient: the tokens replaced, values HTML-escaped in the HTML."""
    url = unsubscribe_url.strip()
    scheme = urlsplit(url).scheme.lower()
    if not url or re.search(r"[\s\x00-\x1f\x7f]", url) or (scheme and scheme not in SAFE_SCHEMES):
        raise TemplateError(
            f"unsubscribe URL {url[:80]!r} must be an http(s), mailto: or relative URL "
            "without spaces"
        )
    values = {field_key(k): " ".join(v.split()) for k, v in fields}
    shown = " ".join((name or "").split()) or NAME_FALLBACK
    first = first_name(name, values)
    html = (
        email.html.replace(NAME_TOKEN, html_lib.escape(shown))
        .replace(FIRST_NAME_TOKEN, html_lib.escape(first))
        .replace(UNSUBSCRIBE_TOKEN, html_lib.escape(url))
    )
    text = (
        email.text.replace(NAME_TOKEN, shown)
        .replace(FIRST_NAME_TOKEN, first)
        .replace(UNSUBSCRIBE_TOKEN, url)
    )
    if "__NEWSLETTER_FIELD_" in html or "__NEWSLETTER_FIELD_" in text:

        def value(match: re.Match[str]) -> str:
            given = values.get(match[1], "")
            return given or (bytes.fromhex(match[2]).decode("utf-8") if match[2] else "")

        html = FIELD_TOKEN.sub(lambda m: html_lib.escape(value(m)), html)
        text = FIELD_TOKEN.sub(value, text)
    return html, text
