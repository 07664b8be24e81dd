"""Render each issue once: Jinja2 -> MJML -> HTML (mjml-python) -> CSS inlined (premailer),
and the plain-text part from the same content (plaintext.py), in the writer's colours
(palette.py). The templates, their errors and Gmail's size limits live here; the per-recipient
parts are tokens that personalize.py fills in.
"""

from __future__ import annotations

import dataclasses
import html as html_lib
import importlib.resources
import importlib.resources.abc
import logging
import re
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import mjml
import premailer
from lxml import etree  # type: ignore[import-untyped]
from markupsafe import Markup

from .citations import cited_markers, renumber_citations
from .config import NewsletterSettings, Settings
from .errors import ConfigError, NewsletterError, TemplateError, UsageError
from .links import add_utm, canonical_url, safe_href
from .model import Block, Email, Issue, Reference, Series, Span
from .palette import palettes
from .personalize import (
    FIRST_NAME_TOKEN,
    NAME_TOKEN,
    UNSUBSCRIBE_TOKEN,
    SubscriberFields,
    greeting_template,
    personalize,
)
from .plaintext import text_parts, tidy_text, underline, wrap
from .series import first_image

HTML_TEMPLATE = "email.mjml.j2"
TEXT_TEMPLATE = "email.txt.j2"
BLOCKS_TEMPLATE = "blocks.html.j2"
TEMPLATE_NAMES = (HTML_TEMPLATE, TEXT_TEMPLATE, BLOCKS_TEMPLATE)

SIZE_WARN = 90 * 1024  # bytes of HTML: getting close to Gmail's clipping
SIZE_LIMIT = 102 * 1024  # Gmail clips the message ("[Message clipped]") past this
STYLE_LIMIT = 16 * 1024  # Gmail drops <style> blocks larger than this
TEXT_LIMIT = SIZE_LIMIT  # bytes of the plain-text part: no bigger than the HTML may be

# Hidden filler after the preheader, so inbox previews do not run on into the body text.
PREVIEW_PADDING = Markup("&#847;&zwnj;&nbsp;" * 40)

IMAGE_MAX = 520  # px: the 600 px column less its 40 px margins; no picture is wider

# MJML already writes the HTML attributes Outlook sizes things by; premailer would otherwise copy
# CSS back into them (every <img width="120"> becomes width="100%").
KEEP_ATTRIBUTES = ["width", "height", "align", "valign", "bgcolor"]

_FONT_STACK_RE = re.compile(r"^[\w\s,'\"\-.]+$")


# --- links, citations and text ---------------------------------------------------------------


def _blocks_text_all(blocks: tuple[Block, ...]) -> str:
    return "\n".join(b.text for b in blocks)


def issue_references(series: Series, issue: Issue) -> tuple[Reference, ...]:
    """The references this issue cites, in citation order: the section's, then any that only
    its intro or conclusion cite."""
    refs = list(issue.references)
    known = {r.marker for r in refs}
    by_marker = {r.marker: r for r in series.post.references}
    for marker in cited_markers(_blocks_text_all(issue.intro + issue.conclusion)):
        if marker in by_marker and marker not in known:
            refs.append(by_marker[marker])
            known.add(marker)
    return tuple(refs)


# --- templates -----------------------------------------------------------------------------


BUILTIN_PREFIX = "builtin/"  # {% extends "builtin/email.mjml.j2" %} in an override


def builtin_templates() -> importlib.resources.abc.Traversable:
    """The built-in templates: the repository's templates/ folder, installed with the package."""
    return importlib.resources.files("newsletter.templates")


def _packaged_template(name: str) -> tuple[str, str, Callable[[], bool]] | None:
    name = name.removeprefix(BUILTIN_PREFIX)
    if name not in TEMPLATE_NAMES:
        return None
    resource = builtin_templates().joinpath(name)
    return resource.read_text(encoding="utf-8"), str(resource), lambda: True


def export_templates(folder: Path) -> list[Path]:
    """Write the built-in templates into `folder` for editing; never over a file already there."""
    targets = [folder / name for name in TEMPLATE_NAMES]
    existing = [t for t in targets if t.exists()]
    if existing:
        raise UsageError(
            f"{existing[0]} exists already: export into a new folder, or move it away first"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for target in targets:
            source = builtin_templates().joinpath(target.name).read_text(encoding="utf-8")
            target.write_text(source, encoding="utf-8")
    except OSError as e:
        raise NewsletterError(
            f"{e.filename or folder}: cannot write the templates ({e.strerror})"
        ) from None
    return targets


def template_dir_for(settings: Settings, template_dir: Path | None = None) -> Path | None:
    """The writer's templates folder, or None when there is none (the built-in ones are used).

    Only a folder that sits next to the settings file (`templates/` by default) or that the
    settings name counts: with no settings file, a templates/ folder that merely happens to
    be in the current folder is not the writer's and is left alone.
    """
    if template_dir is not None:
        if not template_dir.is_dir():
            raise TemplateError(f"{template_dir}: no such templates folder")
        return template_dir
    default = settings.newsletter.templates == NewsletterSettings.templates
    if default and not settings.from_file:
        return None
    path = settings.path(settings.newsletter.templates)
    if path.is_dir():
        return path
    if not default:
        raise ConfigError(
            f"{settings.source}: [newsletter] templates = {settings.newsletter.templates!r}: "
            f"no such folder ({path})"
        )
    return None


def environment(settings: Settings, template_dir: Path | None = None) -> jinja2.Environment:
    """Jinja2 with StrictUndefined and autoescape; the writer's folder overrides by file name,
    and the built-in templates stay reachable as "builtin/<name>" for `{% extends %}`."""
    loaders: list[jinja2.BaseLoader] = []
    folder = template_dir_for(settings, template_dir)
    if folder is not None:
        loaders.append(jinja2.FileSystemLoader(str(folder)))
    loaders.append(jinja2.FunctionLoader(_packaged_template))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=lambda name: not (name or "").endswith(".txt.j2"),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = wrap
    env.filters["underline"] = underline
    env.filters["breakable"] = breakable
    return env


def breakable(text: str) -> Markup:
    """`text` escaped, with a <wbr> after each "/", "-" and "_" inside a word: the only places
    a long heading may wrap ("Parasympathetic/<wbr>Sympathetic"), so none breaks mid-word."""
    escaped = str(markupsafe.escape(text))
    return Markup(re.sub(r"(?<=\w)([/_\-])(?=\w)", r"\1<wbr>", escaped))


def series_parts(series: Series, every: int, dates: Sequence[date] | None) -> list[dict[str, Any]]:
    """Every issue of the series as the templates list it ("In this series"): number, title,
    and when it arrives, its date once scheduled, else "week N"."""
    parts = []
    for issue in series.issues:
        if dates is not None:
            day = dates[issue.number - 1]
            when = f"{day:%a} {day.day} {day:%b}"
        else:
            when = f"week {1 + (issue.number - 1) * every}"
        parts.append({"number": issue.number, "title": issue.title, "when": when})
    return parts


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _template_error(e: BaseException, name: str) -> TemplateError:
    """A template failure as one line naming the template file and line."""
    if isinstance(e, jinja2.TemplateSyntaxError):
        where = f"{e.filename or e.name or name}:{e.lineno}"
        return TemplateError(f"{where}: {_one_line(e.message or str(e))}")
    if isinstance(e, jinja2.TemplateNotFound):
        return TemplateError(f"{name}: template {e.name!r} not found")
    where = name
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if frame.filename.endswith(".j2"):
            where = f"{frame.filename}:{frame.lineno}"
            break
    return TemplateError(f"{where}: {_one_line(str(e) or type(e).__name__)}")


def _render_template(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    try:
        return env.get_template(name).render(context)
    except RecursionError:
        raise TemplateError(
            f"{_template_path(env, name)}: the template includes, extends or calls itself "
            "without end; break the loop"
        ) from None
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as e:
        raise _template_error(e, name) from e


def _template_path(env: jinja2.Environment, name: str) -> str:
    try:
        return env.get_template(name).filename or name
    except jinja2.TemplateError:  # pragma: no cover - rendering it already succeeded
        return name


# --- MJML and premailer --------------------------------------------------------------------


def compile_mjml(source: str, where: str) -> str:
    """MJML to HTML; a compile failure or an unknown <mj-…> tag names the template."""
    try:
        html = mjml.mjml2html(source, fonts={})
    except ValueError as e:
        raise TemplateError(
            f"{where}: the MJML it produces does not compile ({_one_line(str(e))}); "
            "look for an unclosed or misspelt <mj-…> tag"
        ) from e
    unknown = re.search(r"<(mj-[\w-]+)", html)
    if unknown:
        tag = unknown.group(1)
        line = _line_of(where, f"<{tag}")
        raise TemplateError(f"{where}{line}: unknown MJML tag <{tag}>")
    return html


def _line_of(path: str, needle: str) -> str:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    for n, line in enumerate(lines, start=1):
        if needle in line:
            return f":{n}"
    return ""


def _premailer() -> premailer.Premailer:
    """premailer, configured so that it does not break MJML output (each point has a test)."""
    return premailer.Premailer(
        keep_style_tags=True,  # the @media rules (dark mode, phones) must stay in <style>
        strip_important=False,  # dark-mode rules need !important to beat the inline styles
        disable_basic_attributes=KEEP_ATTRIBUTES,
        remove_classes=False,  # the @media rules select by class
        cssutils_logging_level=logging.CRITICAL,  # one warning per vendor property otherwise
        disable_validation=True,
        allow_network=False,
        allow_loading_external_files=False,
        base_url=None,
    )


def inline_css(html: str, link: Callable[[str], str] = lambda url: url) -> str:
    """Inline the CSS of `html` (MJML output), passing every <a href> through `link` first.

    The document goes to premailer as a parsed tree and is serialized here, so MJML's lowercase
    `<!doctype html>` survives (premailer's own string path matches the doctype by case).
    """
    # huge_tree: libxml2 otherwise cuts a text node past 10 MB, and the rest of the email (the
    # footer with the unsubscribe link) silently with it.
    parser = etree.HTMLParser(remove_comments=False, remove_blank_text=False, huge_tree=True)
    root = etree.fromstring(html, parser)
    if root is None:
        raise TemplateError("the email is empty after compiling the MJML")
    for a in root.iter("a"):
        href = a.get("href")
        if href:
            a.set("href", link(href))
    tree = _premailer().transform(root)
    out: str = etree.tostring(tree, method="html", encoding="unicode", doctype="<!DOCTYPE html>")
    return out


def style_bytes(html: str) -> int:
    """Total size of the <style> blocks outside conditional comments, in UTF-8 bytes."""
    total = 0
    for css in re.findall(r"<style\b[^>]*>(.*?)</style>", _without_comments(html), re.S | re.I):
        total += len(css.encode("utf-8"))
    return total


def _without_comments(html: str) -> str:
    return re.sub(r"<!--.*?-->", "", html, flags=re.S)


# --- rendering -----------------------------------------------------------------------------


class _Renderer:
    """Holds what every issue of a series shares: the environment, brand and palettes."""

    def __init__(
        self,
        series: Series,
        settings: Settings,
        template_dir: Path | None,
        dates: Sequence[date] | None = None,
    ) -> None:
        self.series = series
        self.parts = series_parts(series, settings.schedule.every, dates)
        self.settings = settings
        self.env = environment(settings, template_dir)
        self.light, self.dark = palettes(settings)
        if not settings.newsletter.postal_address.strip():
            raise ConfigError(
                f"{settings.source}: [newsletter] postal_address is empty; the law (CAN-SPAM, "
                "GDPR) asks every email for the sender's postal address: set it"
            )
        self.brand = _brand(settings)
        self.campaign = settings.newsletter.utm_campaign or series.slug
        self.base = canonical_url(series, settings)
        image = first_image(series)
        self.first_image = self._blocks((image,), {})[0] if image else None

    def link(self, href: str | None) -> str | None:
        url = safe_href(href, self.base)
        return add_utm(url, self.settings, self.campaign) if url else None

    def _spans(self, spans: tuple[Span, ...], mapping: dict[str, int]) -> tuple[Span, ...]:
        return tuple(
            replace(s, text=renumber_citations(s.text, mapping), href=self.link(s.href))
            for s in spans
        )

    def _blocks(self, blocks: tuple[Block, ...], mapping: dict[str, int]) -> tuple[Block, ...]:
        return tuple(
            _fit_image(
                replace(
                    b,
                    spans=self._spans(b.spans, mapping),
                    items=tuple(self._spans(item, mapping) for item in b.items),
                    caption=self._spans(b.caption, mapping),
                )
            )
            for b in blocks
        )

    def render(self, issue: Issue) -> Email:
        refs = issue_references(self.series, issue)
        mapping = {r.marker: n for n, r in enumerate(refs, start=1)}
        shown_refs = tuple(
            Reference(marker=str(n), text=r.text, href=self.link(r.href))
            for n, r in enumerate(refs, start=1)
        )
        shown = replace(
            issue,
            blocks=self._blocks(issue.blocks, mapping),
            intro=self._blocks(issue.intro, mapping),
            conclusion=self._blocks(issue.conclusion, mapping),
            references=shown_refs,
        )
        every = self.settings.schedule.every
        context: dict[str, Any] = {
            "newsletter": self.brand,
            "light": self.light,
            "dark": self.dark,
            "series": {
                "title": self.series.title,
                "author": self.series.post.author,
                "slug": self.series.slug,
                "url": self.link(self.base) or self.base,
                "total": len(self.series.issues),
                "parts": self.parts,
            },
            "issue": shown,
            "first_image": self.first_image,
            "next_label": "Next week" if every == 1 else f"In {every} weeks",
            "unsubscribe_url": UNSUBSCRIBE_TOKEN,
            "subscriber_name": NAME_TOKEN,
            "subscriber_first_name": FIRST_NAME_TOKEN,
            "greeting": greeting_template(self.settings.newsletter.greeting),
            "subscriber": SubscriberFields(),
            "preview_padding": PREVIEW_PADDING,
            "text": text_parts(shown),
        }
        source = _render_template(self.env, HTML_TEMPLATE, context)
        where = _template_path(self.env, HTML_TEMPLATE)
        compiled = compile_mjml(source, where)
        html = inline_css(compiled, lambda url: add_utm(url, self.settings, self.campaign))
        _check_images(html, where)
        text = tidy_text(_render_template(self.env, TEXT_TEMPLATE, context))
        email = Email(
            subject=issue.subject,
            preheader=issue.preheader,
            html=html,
            text=text,
            mjml=source,
        )
        text_where = _template_path(self.env, TEXT_TEMPLATE)
        warnings = _check_size(email, where, text_where, issue)
        _check_required(email, where, text_where, issue, self.settings)
        return replace(email, warnings=warnings)


def _fit_image(b: Block) -> Block:
    """A picture wider than the column, scaled down to it (Outlook sizes by the attributes)."""
    if b.kind != "img" or b.width <= IMAGE_MAX:
        return b
    height = round(b.height * IMAGE_MAX / b.width) if b.height else 0
    return replace(b, width=IMAGE_MAX, height=height)


def _brand(settings: Settings) -> dict[str, Any]:
    """What the templates know as `newsletter`: the `[newsletter]` settings, with what they imply
    filled in (the logo's alt text, the footer with the name, the side lists indent from)."""
    n = settings.newsletter
    font_stack = n.font_stack.strip()
    if not _FONT_STACK_RE.match(font_stack):
        raise ConfigError(
            f"{settings.source}: [newsletter] font_stack may hold only font names, quotes and "
            f"commas, got {font_stack!r}"
        )
    return {
        **dataclasses.asdict(n),
        "logo_alt": n.logo_alt or n.name,
        "footer_text": n.footer_text.replace("{name}", n.name),
        "language": n.language or "en",
        "font_stack": font_stack,
        "start": "right" if n.direction == "rtl" else "left",
    }


def _check_images(html: str, where: str) -> None:
    for tag in re.findall(r"<img\b[^>]*>", html, re.I):
        if not re.search(r"\salt=", tag, re.I):
            src = re.search(r'\ssrc="([^"]*)"', tag)
            raise TemplateError(
                f"{where}: image {src.group(1) if src else ''!r} has no alt text; give "
                '<mj-image> an alt="…" (alt="" for a decoration)'
            )


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _check_required(
    email: Email, html_where: str, text_where: str, issue: Issue, settings: Settings
) -> None:
    """What the law asks of every email, whichever template made it: an unsubscribe link and the
    sender's postal address, in the HTML and in the text part alike."""
    label = f"issue {issue.number} ({issue.slug})"
    address = _squeezed(settings.newsletter.postal_address)
    shown = _squeezed(html_lib.unescape(re.sub(r"<[^>]*>", " ", _without_comments(email.html))))
    if not re.search(rf"""<a\b[^>]*\shref=["'][^"']*{UNSUBSCRIBE_TOKEN}""", email.html, re.I):
        raise TemplateError(
            f"{html_where}: {label} has no unsubscribe link in the HTML part; the law asks for "
            'one: put <a href="{{ unsubscribe_url }}">Unsubscribe</a> in the footer'
        )
    if address not in shown:
        raise TemplateError(
            f"{html_where}: {label} has no postal address in the HTML part; the law asks for "
            "one: put {{ newsletter.postal_address }} in the footer"
        )
    if UNSUBSCRIBE_TOKEN not in email.text:
        raise TemplateError(
            f"{text_where}: {label} has no unsubscribe link in the text part; the law asks for "
            "one: put Unsubscribe: {{ unsubscribe_url }} at the end"
        )
    if address not in _squeezed(email.text):
        raise TemplateError(
            f"{text_where}: {label} has no postal address in the text part; the law asks for "
            "one: put {{ newsletter.postal_address }} at the end"
        )


def _check_size(email: Email, where: str, text_where: str, issue: Issue) -> tuple[str, ...]:
    """Fail past Gmail's clipping size, warn near it; measured with a long personal URL."""
    html, _ = personalize(email, name="N" * 40, unsubscribe_url="https://x.example/" + "u" * 200)
    size = len(html.encode("utf-8"))
    label = f"issue {issue.number} ({issue.slug})"
    if size > SIZE_LIMIT:
        raise TemplateError(
            f"{where}: {label} is {size / 1024:.0f} KB of HTML; Gmail clips emails over "
            f"{SIZE_LIMIT // 1024} KB: shorten the section or the template"
        )
    text_size = len(email.text.encode("utf-8"))
    if text_size > TEXT_LIMIT:
        raise TemplateError(
            f"{text_where}: {label} is "
            f"{text_size / 1024:.0f} KB of plain text; keep each part under "
            f"{TEXT_LIMIT // 1024} KB: shorten the section or the template"
        )
    styles = style_bytes(email.html)
    if styles > STYLE_LIMIT:
        raise TemplateError(
            f"{where}: {label} has {styles / 1024:.1f} KB of <style>; Gmail drops style blocks "
            f"over {STYLE_LIMIT // 1024} KB: trim the CSS"
        )
    if size > SIZE_WARN:
        return (
            f"{label}: the HTML is {size / 1024:.0f} KB, close to Gmail's "
            f"{SIZE_LIMIT // 1024} KB clipping limit",
        )
    return ()


def render_issue(
    series: Series,
    issue: Issue,
    settings: Settings,
    template_dir: Path | None = None,
    *,
    dates: Sequence[date] | None = None,
) -> Email:
    """Render one issue; `template_dir` overrides `[newsletter] templates`; `dates`, each
    issue's local send date once scheduled, go in the series list ("week N" without)."""
    return _Renderer(series, settings, template_dir, dates).render(issue)


def render_series(
    series: Series,
    settings: Settings,
    template_dir: Path | None = None,
    *,
    dates: Sequence[date] | None = None,
) -> list[Email]:
    """Render every issue of the series, in order, sharing one template environment."""
    renderer = _Renderer(series, settings, template_dir, dates)
    return [renderer.render(issue) for issue in series.issues]
