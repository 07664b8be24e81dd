"""One recipient's copy of an issue rendered once: the name, the unsubscribe link and any extra
column of the list go in as plain string replacements of tokens, escaped for the HTML, so nothing
is re-rendered through MJML and premailer per recipient."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import TemplateError
from .links import SAFE_SCHEMES
from .model import Email

UNSUBSCRIBE_TOKEN = "__NEWSLETTER_UNSUBSCRIBE_URL__"
NAME_TOKEN = "__NEWSLETTER_SUBSCRIBER_NAME__"
FIRST_NAME_TOKEN = "__NEWSLETTER_FIRST_NAME__"
_UNSAFE_URL = re.compile(r"[\s\x00-\x1f\x7f]")
NAME_FALLBACK = "there"  # "Hi there," when a subscriber has no name
FIELD_TOKEN = re.compile(r"__NEWSLETTER_FIELD_([a-z0-9]+(?:_[a-z0-9]+)*)__(?:([0-9a-f]+)__)?")
# Every token; a field's two groups keep their numbers (1: the key, 2: the default in hex).
TOKEN = re.compile(f"{FIELD_TOKEN.pattern}|{NAME_TOKEN}|{FIRST_NAME_TOKEN}|{UNSUBSCRIBE_TOKEN}")


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


@dataclass(frozen=True)
class ReaderValues:
    """What one reader's tokens become, as plain text; `fill` escapes them for the HTML."""

    name: str
    first_name: str
    unsubscribe_url: str
    fields: Mapping[str, str]

    def of(self, token: re.Match[str]) -> str:
        """The value of one matched token."""
        text = token[0]
        if text == NAME_TOKEN:
            return self.name
        if text == FIRST_NAME_TOKEN:
            return self.first_name
        if text == UNSUBSCRIBE_TOKEN:
            return self.unsubscribe_url
        given = self.fields.get(token[1], "")
        return given or (bytes.fromhex(token[2]).decode("utf-8") if token[2] else "")


def reader_values(
    *, name: str | None, unsubscribe_url: str, fields: Iterable[tuple[str, str]] = ()
) -> ReaderValues:
    """One reader's values, checked: the unsubscribe link must be a safe URL without spaces."""
    url = unsubscribe_url.strip()
    scheme = "https" if url.startswith("https://") else urlsplit(url).scheme.lower()
    if not url or _UNSAFE_URL.search(url) or (scheme and scheme not in SAFE_SCHEMES):
        raise TemplateError(
            f"unsubscribe URL {url[:80]!r} must be an http(s), mailto: or relative URL "
            "without spaces"
        )
    values = {field_key(k): " ".join(v.split()) for k, v in fields}
    shown = " ".join((name or "").split()) or NAME_FALLBACK
    return ReaderValues(shown, first_name(name, values), url, values)


def fill(text: str, values: ReaderValues, *, html: bool) -> str:
    """`text` with its tokens replaced in one pass, so a value never brings in another token;
    HTML-escaped for the HTML."""
    if "__NEWSLETTER_" not in text:
        return text
    if html:
        return TOKEN.sub(lambda m: html_lib.escape(values.of(m)), text)
    return TOKEN.sub(values.of, text)


def personalize(
    email: Email,
    *,
    name: str | None,
    unsubscribe_url: str,
    fields: Iterable[tuple[str, str]] = (),
) -> tuple[str, str]:
    """(html, text) for one recipient: the tokens replaced, values HTML-escaped in the HTML."""
    values = reader_values(name=name, unsubscribe_url=unsubscribe_url, fields=fields)
    return fill(email.html, values, html=True), fill(email.text, values, html=False)
