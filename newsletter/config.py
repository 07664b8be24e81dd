"""Settings: defaults in code, then `newsletter.toml`, validated once into frozen dataclasses.

Secrets never live here: `smtp.password_env` names an environment variable, and the password is
read from it only when a connection is opened.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

DEFAULT_CONFIG = "newsletter.toml"


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
    helo: str = ""


@dataclass(frozen=True)
class ScheduleSettings:
    weekday: str = "monday"
    time: str = "09:00"
    timezone: str = "Europe/London"
    every: int = 1
    poll_seconds: int = 60


@dataclass(frozen=True)
class SubscribersSettings:
    file: str = "subscribers.csv"


@dataclass(frozen=True)
class OutboxSettings:
    path: str = "outbox.sqlite3"


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
    source: str = field(default="defaults", metadata={"internal": True})

    def path(self, value: str) -> Path:
        """A path setting, relative to the folder that holds newsletter.toml."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p


_CHOICES = {
    ("smtp", "security"): ("starttls", "ssl", "none"),
    ("smtp", "rate_period"): ("second", "minute", "hour"),
    ("newsletter", "dir"): ("ltr", "rtl", "auto"),
    ("schedule", "weekday"): (
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ),
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
                f"{source}: unknown section [{name}] (known: {', '.join(sorted(known))})"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{name}] must be a table of settings")
        sections[name] = _section(hints[name], name, value, source)
    settings = Settings(**sections, base_dir=base_dir or Path.cwd(), source=source)
    _check(settings, source)
    return settings


def _section(cls: type, section: str, values: dict[str, Any], source: str) -> Any:
    hints = typing.get_type_hints(cls)
    by_key = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        f = by_key.get(key)
        if f is None:
            raise ConfigError(
                f"{source}: unknown setting '{key}' in [{section}] "
                f"(known: {', '.join(sorted(by_key))})"
            )
        kwargs[f.name] = _coerce(hints[f.name], value, f"[{section}] {key}", source)
        allowed = _CHOICES.get((section, key))
        if allowed and str(value).lower() not in allowed:
            raise ConfigError(
                f"{source}: [{section}] {key} = {value!r} is not one of: {', '.join(allowed)}"
            )
        if allowed:
            kwargs[f.name] = str(value).lower()
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
            return float(value)
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


def _check(s: Settings, source: str) -> None:
    """Cross-field checks that a type alone cannot express."""
    if not 0 < s.smtp.port < 65536:
        raise ConfigError(f"{source}: [smtp] port must be between 1 and 65535, got {s.smtp.port}")
    if s.smtp.connections < 1:
        raise ConfigError(f"{source}: [smtp] connections must be at least 1")
    if s.smtp.rate_limit < 0:
        raise ConfigError(f"{source}: [smtp] rate_limit must be 0 (no limit) or more")
    if s.schedule.every < 1:
        raise ConfigError(f"{source}: [schedule] every must be at least 1 (weeks)")
    if s.schedule.poll_seconds < 1:
        raise ConfigError(f"{source}: [schedule] poll_seconds must be at least 1")
    parts = s.schedule.time.split(":")
    if (
        len(parts) != 2
        or not all(p.isdigit() for p in parts)
        or not (0 <= int(parts[0]) < 24 and 0 <= int(parts[1]) < 60)
    ):
        raise ConfigError(f"{source}: [schedule] time must be HH:MM, got {s.schedule.time!r}")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(s.schedule.timezone)
    except (KeyError, ValueError):
        raise ConfigError(
            f"{source}: [schedule] timezone {s.schedule.timezone!r} is not an IANA zone "
            "such as 'Europe/London'"
        ) from None
    for key, value in s.social.limits.items():
        if value < 1:
            raise ConfigError(f"{source}: [social] limits.{key} must be at least 1")


def smtp_password(s: Settings) -> str | None:
    """The SMTP password from the environment variable the settings name; None when unset."""
    return os.environ.get(s.smtp.password_env) if s.smtp.password_env else None
