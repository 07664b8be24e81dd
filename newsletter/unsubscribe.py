"""Personal unsubscribe links, signed so nobody can unsubscribe someone else by guessing.

The token is HMAC-SHA256 over the address (case-folded) with a secret from the environment
variable NEWSLETTER_SECRET, or, when that is unset, one generated once and kept in the outbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from email.utils import parseaddr
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

from .config import Settings
from .errors import ConfigError
from .links import unsubscribe_base_url
from .subscribers import email_key

if TYPE_CHECKING:
    from .outbox import Outbox

SECRET_ENV = "NEWSLETTER_SECRET"
SECRET_MIN = 16
_PURPOSE = b"newsletter-unsubscribe\x00"
_PLAIN_EMAIL = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+")  # urlencode changes only the @


def load_secret(outbox: Outbox, environ: Mapping[str, str]) -> bytes:
    """NEWSLETTER_SECRET when set (and long enough), else the outbox's generated secret."""
    value = environ.get(SECRET_ENV, "")
    if value:
        if len(value) < SECRET_MIN:
            raise ConfigError(
                f"{SECRET_ENV} is too short to sign unsubscribe links; use at least "
                f"{SECRET_MIN} random characters (or unset it to use a generated one)"
            )
        return value.encode("utf-8")
    return outbox.unsubscribe_secret().encode("ascii")


def make_token(email: str, secret: bytes) -> str:
    mac = hmac.new(secret, _PURPOSE + email_key(email).encode("utf-8"), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def verify(email: str, token: str, secret: bytes) -> bool:
    """True only for the token made for this address with this secret (constant-time compare;
    as bytes, since a pasted token may hold any character)."""
    expected = make_token(email, secret).encode("ascii")
    return hmac.compare_digest(expected, token.strip().encode("utf-8", "replace"))


def unsubscribe_url(settings: Settings, email: str, secret: bytes) -> str:
    """The subscriber's own link: <base>?e=<address>&t=<token> (also the RFC 8058 POST target)."""
    base = unsubscribe_base_url(settings)
    token = make_token(email, secret)  # URL-safe base64: nothing to quote
    if _PLAIN_EMAIL.fullmatch(email):  # the common case, without urlencode's cost per reader
        query = f"e={email.replace('@', '%40')}&t={token}"
    else:
        query = urlencode({"e": email, "t": token})
    return f"{base}{'&' if '?' in base else '?'}{query}"


def address_from_url(url: str, secret: bytes) -> str | None:
    """The address an unsubscribe link was made for, or None when its token is forged or missing."""
    query = parse_qs(urlsplit(url.strip()).query)
    emails, tokens = query.get("e", []), query.get("t", [])
    if len(emails) != 1 or len(tokens) != 1:
        return None
    return emails[0] if verify(emails[0], tokens[0], secret) else None


def unsubscribe_mailto(settings: Settings) -> str:
    """mailto: for List-Unsubscribe: the configured address, else Reply-To, else From."""
    n = settings.newsletter
    configured = n.unsubscribe_mailto.strip()
    if configured.lower().startswith("mailto:"):
        return configured
    address = configured or parseaddr(n.reply_to)[1] or parseaddr(n.from_addr)[1]
    return f"mailto:{address}?subject=unsubscribe"
