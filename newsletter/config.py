"""Settings: defaults in code, then `newsletter.toml`, validated once into frozen dataclasses.

Secrets never live here: `smtp.password_env` names an environment variable, and the password is
read from it only when a connection is opened.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import math
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError
from .series import SUBJECT_PATTERN, subject_pattern_error

DEFAULT_CONFIG = "newsletter.toml"
DEFAULTS_SOURCE = "defaults"  # Settings.source when no file was read

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SECURITY_MODES = ("starttls", "ssl", "none")
RATE_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
DIRECTIONS = ("ltr", "rtl", "auto")
MAX_EVERY = 520  # weeks between issues: ten years


# --- values shared by settings and command-line flags ----------------------------------------
# Each raises ValueError with the whole sentence; the caller says whose mistake it is (a setting
# in a file: ConfigError, a flag: UsageError).


def parse_date(value: str, what: str = "--start") -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a date; write it as YYYY-MM-DD") from None


def parse_time(value: str, what: str = "--at") -> dt.time:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(f"{what} {value!r} is not a time of day; write it as HH:MM (24-hour)")
    return dt.time(int(m.group(1)), int(m.group(2)))


def parse_zone(value: str, what: str = "--tz") -> ZoneInfo:
    if not value.strip():
        raise ValueError(f"{what} is empty; use a name like 'America/New_York'")
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{what} {value!r} is not an IANA time zone; use a name like 'America/New_York'"
        ) from None


def parse_every(value: int, what: str = "--every") -> int:
    if value < 1:
        raise ValueError(f"{what} {value}: issues must be at least 1 week apart")
    if value > MAX_EVERY:
        raise ValueError(
            f"{what} {value}: issues may be at most {MAX_EVERY} weeks (ten years) apart"
        )
    return value


@dataclass(frozen=True)
class NewsletterSettings:
    name: str = "Body & Mind Notes"
    from_addr: str = field(default="Newsletter <newsletter@example.com>", metadata={"key": "from"})
    reply_to: str = ""
    site_url: str = "https://example.com"
    postal_address: str = "12 Example Street, Springfield"
    language: str = "en"
    direction: str = field(default="ltr", metadata={"key": "dir"})
    logo_url: str = ""
    logo_alt: str = ""
    accent_color: str = "#2f6f5e"
    font_stack: str = "-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
    footer_text: str = "You get this because you subscribed to {name}."
    templates: str = "templates"
    utm: bool = True
    utm_source: str = "newsletter"
    utm_medium: str = "email"
    utm_campaign: str = ""
    unsubscribe_url: str = ""
    unsubscribe_mailto: str = ""
    series_name: str = ""  # empty: front matter `series:`, else derived from the title
    subject: str = SUBJECT_PATTERN
    greeting: str = "Hi {first_name},"


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    verify_tls: bool = True
    ca_file: str = ""
    username: str = ""
    password_env: str = "NEWSLETTER_SMTP_PASSWORD"
    connections: int = 4
    rate_limit: float = 0
    rate_period: str = "second"
    retry_after: float = 20
    max_attempts: int = 6
    timeout: float = 30
    data_timeout: float = 600  # for the final reply after the body (RFC 5321 §4.5.3.2.6)
    helo: str = ""

    @property
    def rate_interval(self) -> float:
        """Seconds between two messages under `rate_limit` per `rate_period`; 0 for no limit."""
        return RATE_PERIODS[self.rate_period] / self.rate_limit if self.rate_limit > 0 else 0.0


@dataclass(frozen=True)
class ScheduleSettings:
    weekday: str = "monday"
    time: str = "09:00"
    timezone: str = "Europe/London"
    every: int = 1
    poll_seconds: int = 60

    @property
    def at(self) -> dt.time:
        """`time` as a time of day (checked when the settings were loaded)."""
        return parse_time(self.time, "[schedule] time")

    @property
    def zone(self) -> ZoneInfo:
        """`timezone` as a zone (checked when the settings were loaded)."""
        return parse_zone(self.timezone, "[schedule] timezone")


@dataclass(frozen=True)
class SubscribersSettings:
    file: str = "subscribers.csv"


@dataclass(frozen=True)
class OutboxSettings:
    path: str = "outbox.sqlite3"
    # postgresql://user@host:port/database: the outbox lives there instead of at `path`, so
    # runners on several machines can share it. Never a password: libpq reads PGPASSWORD.
    url: str = ""
    # How long a claimed delivery stays a runner's without news from it; a live runner renews
    # its leases every third of this, a dead one's rows go back to the queue when it lapses.
    lease_seconds: float = 60.0


@dataclass(frozen=True)
class SocialSettings:
    hashtags: list[str] = field(default_factory=lambda: ["MentalHealth", "Massage"])
    utm: bool = True
    utm_medium: str = "social"
    utm_campaign: str = ""
    link: str = ""
    limits: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DkimSettings:
    selector: str = ""
    domain: str = ""
    key_file: str = ""


@dataclass(frozen=True)
class Settings:
    newsletter: NewsletterSettings = field(default_factory=NewsletterSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    subscribers: SubscribersSettings = field(default_factory=SubscribersSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    social: SocialSettings = field(default_factory=SocialSettings)
    dkim: DkimSettings = field(default_factory=DkimSettings)
    base_dir: Path = field(default=Path("."), metadata={"internal": True})
    source: str = field(default=DEFAULTS_SOURCE, metadata={"internal": True})

    @property
    def from_file(self) -> bool:
        """True when these settings were read from a file (or given as one's contents)."""
        return self.source != DEFAULTS_SOURCE

    def path(self, value: str) -> Path:
        """A path setting, relative to the folder that holds newsletter.toml."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p


_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("smtp", "security"): SECURITY_MODES,
    ("smtp", "rate_period"): tuple(RATE_PERIODS),
    ("newsletter", "dir"): DIRECTIONS,
    ("schedule", "weekday"): WEEKDAYS,
}


def load_settings(path: str | Path | None = None) -> Settings:
    """Read settings from `path`, or ./newsletter.toml when it exists, else the defaults."""
    explicit = path is not None
    p = Path(path) if path is not None else Path(DEFAULT_CONFIG)
    if not p.exists():
        if explicit:
            raise ConfigError(f"{p}: no such settings file")
        return Settings(base_dir=Path.cwd())
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: {e}") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read ({e.strerror})") from None
    return settings_from_dict(data, source=str(p), base_dir=p.resolve().parent)


def settings_from_dict(
    data: dict[str, Any], source: str = "settings", base_dir: Path | None = None
) -> Settings:
    """Validate a parsed TOML document; every unknown or mistyped key is an error, not ignored."""
    sections: dict[str, Any] = {}
    hints = typing.get_type_hints(Settings)
    known = {f.name for f in dataclasses.fields(Settings) if not f.metadata.get("internal")}
    for name, value in data.items():
        if name not in known:
            raise ConfigError(
                f"{source}: unknown section [{_shown(name)}] (known: {', '.join(sorted(known))})"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{_shown(name)}] must be a table of settings")
        sections[name] = _section(hints[name], name, value, source)
    return validate(Settings(**sections, base_dir=base_dir or Path.cwd(), source=source))


def _shown(name: str) -> str:
    """A name from the file as written, or escaped when it holds a line break or a control."""
    return name if name.isprintable() else repr(name)[1:-1]


def _section(cls: type, section: str, values: dict[str, Any], source: str) -> Any:
    hints = typing.get_type_hints(cls)
    by_key = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        f = by_key.get(key)
        if f is None:
            raise ConfigError(
                f"{source}: unknown setting '{_shown(key)}' in [{section}] "
                f"(known: {', '.join(sorted(by_key))})"
            )
        kwargs[f.name] = _coerce(hints[f.name], value, f"[{section}] {key}", source)
        if (section, key) in _CHOICES:
            kwargs[f.name] = kwargs[f.name].strip().lower()
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str, source: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: {where} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: {where} must be a whole number, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"{source}: {where} must be a finite number, got {value!r}")
            try:
                return float(value)
            except OverflowError:
                raise ConfigError(f"{source}: {where} is out of range, got {value!r}") from None
        raise ConfigError(f"{source}: {where} must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{source}: {where} must be a string, got {value!r}")
    if origin is list:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise ConfigError(f"{source}: {where} must be a list of strings, got {value!r}")
    if origin is dict:
        if isinstance(value, dict) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value.values()
        ):
            return dict(value)
        raise ConfigError(f"{source}: {where} must be a table of whole numbers, got {value!r}")
    if isinstance(tp, types.UnionType):  # pragma: no cover - no such settings yet
        return value
    raise ConfigError(f"{source}: {where} has an unsupported value {value!r}")  # pragma: no cover


MAX_CAPTION = 100_000  # characters: [social] limits


def _ranges(s: Settings) -> tuple[tuple[str, float, float, float, str], ...]:
    """Each numeric setting, its bounds and unit: a finite value a person would mean."""
    return (
        ("[smtp] port", s.smtp.port, 1, 65535, ""),
        ("[smtp] connections", s.smtp.connections, 1, 100, ""),
        ("[smtp] rate_limit", s.smtp.rate_limit, 0, 1_000_000, " (0: no limit)"),
        ("[smtp] retry_after", s.smtp.retry_after, 0, 86_400, " seconds"),
        ("[smtp] max_attempts", s.smtp.max_attempts, 1, 100, ""),
        ("[smtp] timeout", s.smtp.timeout, 0.1, 3600, " seconds"),
        ("[smtp] data_timeout", s.smtp.data_timeout, 0.1, 3600, " seconds"),
        ("[schedule] every", s.schedule.every, 1, MAX_EVERY, " weeks"),
        ("[schedule] poll_seconds", s.schedule.poll_seconds, 1, 86_400, " seconds"),
        ("[outbox] lease_seconds", s.outbox.lease_seconds, 1, 3600, " seconds"),
    )


def validate(s: Settings) -> Settings:
    """Every check a type alone cannot express: choices, ranges, formats, unsafe combinations.

    The one place settings are checked; the stages take them as given.
    """
    source = s.source
    for (section, key), allowed in _CHOICES.items():
        part = getattr(s, section)
        f = next(f for f in dataclasses.fields(part) if f.metadata.get("key", f.name) == key)
        value = getattr(part, f.name)
        if value not in allowed:
            raise ConfigError(
                f"{source}: [{section}] {key} = {value!r} is not one of: {', '.join(allowed)}"
            )
    for where, value, low, high, unit in _ranges(s):
        if not low <= value <= high:  # False for nan too
            raise ConfigError(
                f"{source}: {where} must be between {low:g} and {high:g}{unit}, got {value!r}"
            )
    for value, what, parse in (
        (s.schedule.time, "[schedule] time", parse_time),
        (s.schedule.timezone, "[schedule] timezone", parse_zone),
    ):
        try:
            parse(value, what)
        except ValueError as e:
            raise ConfigError(f"{source}: {e}") from None
    if s.outbox.url:
        try:
            check_outbox_url(s.outbox.url, "[outbox] url")
        except ValueError as e:
            raise ConfigError(f"{source}: {e}") from None
    if not s.smtp.host:
        raise ConfigError(f"{source}: [smtp] host is empty; name your SMTP server")
    if s.smtp.username and s.smtp.security == "none" and not is_loopback(s.smtp.host):
        raise ConfigError(
            f'{source}: [smtp] security = "none" would send the password for '
            f'{s.smtp.username!r} unencrypted to {s.smtp.host}; use security = "starttls" '
            '(port 587) or "ssl" (port 465)'
        )
    problem = subject_pattern_error(s.newsletter.subject)
    if problem:
        raise ConfigError(f"{source}: [newsletter] subject {s.newsletter.subject!r} {problem}")
    greeting = re.sub(r"\{(first_name|name)\}", "", s.newsletter.greeting)
    if "{" in greeting or "}" in greeting:
        raise ConfigError(
            f"{source}: [newsletter] greeting {s.newsletter.greeting!r} may hold only "
            "{first_name} and {name}"
        )
    for key, value in s.social.limits.items():
        if not 1 <= value <= MAX_CAPTION:
            raise ConfigError(
                f"{source}: [social] limits.{key} must be between 1 and {MAX_CAPTION} "
                f"(characters), got {value}"
            )
    return s


POSTGRES_SCHEMES = ("postgresql", "postgres")


def redacted(url: str) -> str:
    """A database URL fit for a message or a log line: any password in it is replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None and "password" not in parts.query.lower():
        return url
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username or ''}:***@{netloc.rpartition('@')[2]}"
    query = "&".join(
        "password=***" if q.lower().startswith("password=") else q for q in parts.query.split("&")
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def check_outbox_url(url: str, what: str) -> str:
    """A PostgreSQL URL with no password in it (libpq takes that from PGPASSWORD), or
    ValueError naming `what`; the message never repeats a password."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in POSTGRES_SCHEMES:
        raise ValueError(
            f"{what} {redacted(url)!r} is not a PostgreSQL URL; write it as"
            " postgresql://user@host:5432/database"
        )
    if parts.password is not None or "password=" in parts.query.lower():
        raise ValueError(
            f"{what} {redacted(url)!r} holds a password; take it out and set it in the"
            " PGPASSWORD environment variable (or ~/.pgpass): a password never goes in a file"
        )
    return url.strip()


def is_loopback(host: str) -> bool:
    """This machine's own address: the one place a password may travel unencrypted."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def smtp_password(s: Settings) -> str | None:
    """The SMTP password from the environment variable the settings name; None when unset."""
    return os.environ.get(s.smtp.password_env) if s.smtp.password_env else None
