"""The email's colours: a light and a dark scheme around the brand's accent colour, each with
every text at WCAG contrast 4.5:1 or more against what it stands on."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .config import Settings
from .errors import ConfigError

_HEX_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class Palette:
    """Colours of one scheme (light or dark), chosen so that all text passes 4.5:1."""

    page: str
    card: str
    text: str
    muted: str
    accent: str
    button: str
    button_text: str
    border: str
    quote: str


def _rgb(color: str) -> tuple[int, int, int]:
    h = color.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _hex(rgb: Iterable[float]) -> str:
    return "#" + "".join(f"{round(max(0.0, min(255.0, c))):02x}" for c in rgb)


def luminance(color: str) -> float:
    """WCAG relative luminance of a #rrggbb colour."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = _rgb(color)
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _mix(a: str, b: str, t: float) -> str:
    """`t` of the way from colour a to colour b."""
    return _hex(x + (y - x) * t for x, y in zip(_rgb(a), _rgb(b), strict=True))


def _readable(color: str, backgrounds: tuple[str, ...], minimum: float = 4.5) -> str:
    """`color`, moved towards black or white just far enough to read on every background."""
    if all(contrast(color, bg) >= minimum for bg in backgrounds):
        return color
    dark_bg = sum(luminance(bg) for bg in backgrounds) / len(backgrounds) < 0.18
    target = "#ffffff" if dark_bg else "#000000"
    for step in range(1, 21):
        candidate = _mix(color, target, step / 20)
        if all(contrast(candidate, bg) >= minimum for bg in backgrounds):
            return candidate
    return target


def _button(base: str) -> tuple[str, str]:
    """Button background and label colours with at least 4.5:1 between them."""
    for label in ("#ffffff", "#111111"):
        if contrast(label, base) >= 4.5:
            return base, label
    return _readable(base, ("#ffffff",)), "#ffffff"


def _color_setting(settings: Settings) -> str:
    value = settings.newsletter.accent_color.strip()
    if not _HEX_RE.match(value):
        raise ConfigError(
            f"{settings.source}: [newsletter] accent_color must be a hex colour like '#2f6f5e', "
            f"got {value!r}"
        )
    return _hex(_rgb(value))


def _scheme(
    accent: str, page: str, card: str, text: str, muted: str, border: str, *, dark: bool
) -> Palette:
    """One scheme around the accent: quotes tinted towards it, every text readable. On a dark
    card the button takes the lightened accent, so it still stands out."""
    quote = _mix(card, accent, 0.16 if dark else 0.07)
    readable = _readable(accent, (card, page, quote))
    button, label = _button(readable if dark else accent)
    return Palette(page, card, text, muted, readable, button, label, border, quote)


def palettes(settings: Settings) -> tuple[Palette, Palette]:
    """The light and the dark palette for the brand's accent colour."""
    accent = _color_setting(settings)
    light = _scheme(accent, "#f4f1ea", "#ffffff", "#1f2328", "#57606a", "#e2ddd2", dark=False)
    dark = _scheme(accent, "#121416", "#1c1f23", "#e8e6e3", "#a9b1ba", "#343a41", dark=True)
    return light, dark
