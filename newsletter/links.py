"""Links in the emails and the captions: safe targets, one UTM rule, the unsubscribe page.

Pure functions over strings and settings, so the email and the social posts cannot disagree on
how a link is tagged or where the unsubscribe page lives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlencode, urljoin, urlsplit

from .config import Settings
from .errors import ConfigError
from .model import Series

SAFE_SCHEMES = ("http", "https", "mailto")

# RFC 2606's names for examples: nobody's real site.
PLACEHOLDER_HOSTS = frozenset({"example.com", "example.org", "example.net", "www.example.com"})

_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]+")


def http_url(value: str) -> str:
    """`value` when it is an absolute http(s) address without spaces; else ValueError."""
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", url):
        raise ValueError(f"{value!r} is not an http(s) address")
    return url


def is_placeholder(url: str) -> bool:
    """True for the example sites of RFC 2606 and 6761, which nobody's links should go to."""
    host = (urlsplit(url).hostname or "").lower()
    return host in PLACEHOLDER_HOSTS or host.endswith(".example")


def safe_href(href: str | None, base: str) -> str | None:
    """A link target fit for an email: http(s) or mailto, relative ones made absolute.

    javascript:, data: and the like are dropped (the text stays, without the link).
    """
    if not href:
        return None
    href = _CONTROL_OR_SPACE.sub("", href)
    if href.startswith("#"):
        return None
    scheme = urlsplit(href).scheme.lower()
    if not scheme:
        return urljoin(base, href) if base else None
    return href if scheme in SAFE_SCHEMES else None


def canonical_url(series: Series, settings: Settings) -> str:
    """The post's own web address when it has one, else the site: where "Read more" goes."""
    url = (series.post.url or "").strip()
    if url and urlsplit(url).scheme.lower() in ("http", "https"):
        return url
    return settings.newsletter.site_url


def tag(url: str, tags: Iterable[tuple[str, str]]) -> str:
    """`url` with UTM `tags` added (empty values left out), for email and social alike.

    Only web links are tagged; mailto: and the unsubscribe token are not. A link that already
    carries a `utm_source` is the writer's own choice and stays as it is.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "utm_source=" in parts.query:
        return url
    given = [(k, v) for k, v in tags if v]
    if not given:
        return url
    query = parts.query + ("&" if parts.query else "") + urlencode(given)
    return parts._replace(path=parts.path or "/", query=query).geturl()


def email_tags(settings: Settings, campaign: str) -> tuple[tuple[str, str], ...]:
    """The UTM tags of links in the emails; none when `[newsletter] utm = false`."""
    n = settings.newsletter
    if not n.utm:
        return ()
    return (
        ("utm_source", n.utm_source),
        ("utm_medium", n.utm_medium),
        ("utm_campaign", n.utm_campaign or campaign),
    )


def add_utm(url: str, settings: Settings, campaign: str) -> str:
    """A link in an email, tagged for analytics (see `tag`)."""
    return tag(url, email_tags(settings, campaign))


def _checked(url: str, where: str) -> str:
    try:
        return http_url(url)
    except ValueError:
        raise ConfigError(
            f"{where} {url!r} is not an http(s) URL: give a full https:// address"
        ) from None


def social_link(series: Series, settings: Settings, platform: str) -> str:
    """The post's link in a caption: `[social] link`, else the post's own address, else the
    site; tagged for the platform (see `tag`) unless `[social] utm = false`."""
    s = settings.social
    if s.link:
        url = _checked(s.link, f"{settings.source}: [social] link")
    elif series.post.url:
        url = _checked(series.post.url, f"{series.post.source}: front matter url")
    else:
        url = _checked(settings.newsletter.site_url, f"{settings.source}: [newsletter] site_url")
    if not s.utm:
        return url
    campaign = s.utm_campaign or series.slug
    return tag(
        url, (("utm_source", platform), ("utm_medium", s.utm_medium), ("utm_campaign", campaign))
    )


def unsubscribe_base_url(settings: Settings) -> str:
    """The unsubscribe page: `[newsletter] unsubscribe_url`, else `<site_url>/unsubscribe`."""
    n = settings.newsletter
    return n.unsubscribe_url.strip() or n.site_url.rstrip("/") + "/unsubscribe"
