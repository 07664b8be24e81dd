"""Web pages: trafilatura says which text is the article; the page's own DOM says how it is laid
out (headings, bold paragraphs, run-in leads, lists, images), handed over as `Node`s in order.

trafilatura is good at telling article text from chrome, but its output loses headings on some
pages; so it is used only to *locate* the article, and the blocks are read from the markup.
Choosing sections is not done here (see `outline`).
"""

from __future__ import annotations

import codecs
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import justext  # type: ignore[import-untyped]
import lxml.html  # type: ignore[import-untyped]
import trafilatura
from lxml import etree
from trafilatura.metadata import extract_metadata

from ..errors import PostError
from ..model import Block, BlockKind, Span
from .nodes import Node, PageMeta
from .outline import phrases, starts_with_phrase, words

_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Never article text: machinery, forms and page furniture, dropped with everything inside.
# figcaption goes too as text: a caption read as a paragraph looks like a short heading line to
# the outline; it is kept as its picture's caption instead.
_DROP_TAGS = {
    "script", "style", "noscript", "template", "iframe", "svg", "math", "canvas", "object",
    "embed", "video", "audio", "map", "nav", "form", "button", "input",
    "select", "textarea", "label", "dialog", "menu", "head", "title", "meta", "link",
    "figcaption",
}  # fmt: skip
_CODE_TAGS = ("script", "style", "noscript", "template")
# Furniture by default, but kept when trafilatura kept their text (a summary box as <aside>).
_SOFT_DROP_TAGS = {"aside", "footer"}
# Elements that break the flow into blocks (a browser's display:block defaults).
_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "header", "ul", "ol", "li", "dl", "dt", "dd",
    "blockquote", "pre", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption",
    "figure", "hr", "details", "summary", "address", "center", "fieldset", "hgroup", "body",
    "picture", *_HEADINGS, *_DROP_TAGS,
}  # fmt: skip
_IMAGE_TAGS = {"img", "amp-img"}
# Boxes judged as a whole by their links and by what trafilatura kept of them.
_BOXES = {"div", "section", "article", "header", "table", "ul", "ol", "dl", "figure", "details"}
# ARIA roles that mark page furniture rather than content.
_CHROME_ROLES = {
    "navigation", "menu", "menubar", "toolbar", "search", "complementary", "contentinfo",
    "dialog", "alertdialog", "banner", "tablist",
}  # fmt: skip
# Words in a class or id that name page furniture, not content: one list, matched against the
# attribute's words ("social-share-bar" -> social, share, bar; "jpRelatedPosts" -> related...).
# Words of five letters or more also match as the start of a word ("relatedposts",
# "commentlist"); shorter ones only whole, so "navy" and "adsorb" are safe.
_CHROME_WORDS = (
    "nav", "navbar", "navigation", "menu", "submenu", "breadcrumb", "share", "sharing",
    "social", "related", "comment", "disqus", "newsletter", "subscribe", "subscription",
    "signup", "optin", "advert", "ads", "sponsor", "promo", "cookie", "consent", "popup",
    "modal", "sidebar", "byline", "pagination", "pager", "outbrain", "taboola",
    "recirc", "recommended", "trending", "popular", "author", "autor", "auteur", "bio",
    "tags", "tagged", "taglist", "tagcloud", "anzeige", "werbung", "publicite", "publicidad",
    "pubblicita",
    # icon-font glyphs: a letter that draws a magnifier or an arrow
    "icon", "glyph",
)  # fmt: skip
_PREFIX_MIN = 5
# Whole class names that hide an element from sight (screen-reader text such as "Opens in a new
# window", a stylesheet's hide toggles); a responsive "md:block" beside them shows it again.
_HIDING_CLASSES = {
    "hide", "hidden", "invisible", "sr-only", "visually-hidden", "visuallyhidden",
    "screen-reader-text", "screen-reader-only", "element-invisible", "offscreen",
}  # fmt: skip
_SHOWN_AGAIN = re.compile(r"^\w+:(?:block|flex|grid|inline|inline-block|inline-flex|table)$")
# Words that name a picture carousel: its pictures are content, its text (counters "1/12",
# prev/next, captions repeated per slide) is not.
_GALLERY_WORDS = ("gallery", "carousel", "slideshow", "slider", "lightbox", "swiper")
_LAZY_SRC = ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-url", "data-hi-res")
_LAZY_SRCSET = ("data-srcset", "data-lazy-srcset", "srcset")

# An element holding this share of the article text trafilatura kept is the article, whatever
# its class says ("post-content has-share-bar"); a smaller box named as chrome is chrome.
_KEEP_SHARE = 0.25
# A box trafilatura kept this share of is article text, even when it is short or linky.
_TRUST_SHARE = 0.5
# A box of links is a menu or cards unless it holds this share of the article (a link roundup).
_LINK_POST_SHARE = 0.5
# Descend from <body> into the child holding this share of the kept text: trafilatura sometimes
# keeps a teaser or caption far from the body, so all of it would stop at <body>.
_CORE_SHARE = 0.8
# A box whose text is mostly links, with at least this many links, is a menu or a card list.
_LINK_DENSE = 0.5
_LINK_DENSE_MIN_LINKS = 3
# A container trafilatura kept none of, with at least this much paragraph text, is a sidebar,
# shop box or teaser block that sits inside the article's element (headings alone never count).
_UNKEPT_MIN_CHARS = 200
# A header-like neighbour of the article (title, kicker, dek) stays short.
_HEADER_MAX_CHARS = 400
# Pictures no larger than this (px, from width/height attributes) are pixels, icons and emoji.
_ICON_MAX_PX = 32
# trafilatura's paragraphs shorter than this (letters and digits) match too much by chance.
_MIN_KEY = 12
# Languages told apart by jusText's stop-word lists (the ones the outline has phrases for, and
# their neighbours).
_STOPLISTS = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "sv": "Swedish", "da": "Danish", "pl": "Polish",
}  # fmt: skip
_LANG_SAMPLE = 20_000  # characters of article text: plenty to count stop words in
_CJK_SHARE = 0.3  # kana or Han among the letters beyond which the text is Japanese or Chinese
_STOPWORD_SHARE = 0.2  # prose has 30-50 % stop words; below this the count says nothing
_LANG_OVERRIDE = 0.5  # the declared language is wrong when it explains half as many words
_PRESCAN_BYTES = 8192  # where a <meta charset> may sit (browsers look at 1 KB; pages exceed it)

_WS = re.compile(r"[ \t\n\r\f\v\xa0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u200b\u200e\u200f\ufeff\xad]")
_KEY = re.compile(r"\W+")
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_LOOKS_HTML = re.compile(
    r"<(?:!doctype\s+html|html|head|body|p|div|article|main|section|h[1-6]|ul|ol|table|span|a)"
    r"[\s/>]",
    re.IGNORECASE,
)
_XML_DECL = re.compile(r"\A\s*<\?xml[^>]*\?>")
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE
)
# "By Jane Doe" in an author field: the byline's word, not the name.
_BY = re.compile(r"^(?:by|von|par|por|di|door|av)\s+", re.IGNORECASE)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_DISPLAY_NONE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_WEIGHT = re.compile(r"font-weight\s*:\s*(\w+)", re.IGNORECASE)
_SEPARATORS = (" | ", " - ", " – ", " — ", " · ", " :: ", " » ", " // ")


def decode_html(raw: bytes) -> str:
    """Bytes of a saved page as text: a BOM, then a <meta> charset near the top, then UTF-8,
    then cp1252 (what browsers assume for old Western pages)."""
    for bom, enc in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if raw.startswith(bom):
            return raw[len(bom) :].decode(enc, errors="replace")
    m = _META_CHARSET.search(raw[:_PRESCAN_BYTES])
    if m:
        name = m.group(1).decode("ascii").lower()
        # WHATWG: a page that says latin-1 or ascii is decoded as windows-1252.
        if name in ("iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"):
            name = "cp1252"
        try:
            codecs.lookup(name)
        except LookupError:
            pass
        else:
            if not name.startswith("utf-16"):  # a str-typed <meta> cannot be UTF-16 bytes
                try:
                    return raw.decode(name)
                except UnicodeDecodeError:
                    pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def read_html(html: str, source: str, base_url: str | None = None) -> tuple[PageMeta, list[Node]]:
    """The page's metadata and the article's blocks in document order, layout cues kept."""
    page = _Page(html, source, base_url)
    reader = _Reader(page)
    for el in page.article:
        reader.walk(el, _Ctx())
    reader.flush()
    nodes = reader.nodes
    text = " ".join(n.text for n in nodes if n.block.kind != "img")
    if not text.strip():
        raise PostError(
            f"{source}: no article text found in the page; save it again once it has fully "
            "loaded, or copy its text into a .txt file"
        )
    return page.meta(text), nodes


@dataclass(frozen=True)
class _Ctx:
    """Inline formatting inherited from the enclosing elements."""

    href: str | None = None
    strong: bool = False
    em: bool = False
    code: bool = False


def _labelled_sponsored(el: Any) -> bool:
    """Whether a box's first words are a sponsor's label, in any language the readers know."""
    first = next((t for t in el.itertext() if t.strip()), "")
    return words(first) <= 3 and starts_with_phrase(first, phrases().sponsor_labels, whole=True)


def _tag(el: Any) -> str:
    tag = el.tag
    return tag.lower() if isinstance(tag, str) else ""


def _norm(text: str) -> str:
    return _WS.sub(" ", _INVISIBLE.sub("", text)).strip()


def _key(text: str) -> str:
    return _KEY.sub("", text.lower())


def _words(value: str) -> set[str]:
    """The words of a class or id attribute: split on punctuation and camelCase."""
    out = {w.lower() for w in _WORDS.findall(value)}
    out.update(part for part in re.split(r"[^a-z0-9-]+", value.lower()) if part)
    return out


def _named(el: Any, names: tuple[str, ...]) -> bool:
    """Whether the element's class or id says it is one of `names`. An id that spells the
    element's own heading ("share-your-media" on the section "Share Your Media") is an anchor
    made from the text, not a statement of what the box is."""
    ident = el.get("id") or ""
    if ident:
        heading = next(el.iter(*_HEADINGS), None)
        if heading is not None:
            head_key, id_key = _key(heading.text_content()), _key(ident)
            if head_key and (head_key in id_key or id_key in head_key):
                ident = ""
    value = f"{el.get('class') or ''} {ident}"
    if not value.strip():
        return False
    for word in _words(value):
        for name in names:
            if word == name or (len(name) >= _PREFIX_MIN and word.startswith(name)):
                return True
    return False


def _hidden(el: Any) -> bool:
    if el.get("hidden") is not None or el.get("aria-hidden", "").lower() == "true":
        return True
    style = el.get("style")
    if style and _DISPLAY_NONE.search(style):
        return True
    classes = (el.get("class") or "").split()
    return bool(_HIDING_CLASSES.intersection(classes)) and not any(
        _SHOWN_AGAIN.match(c) for c in classes
    )


class _Page:
    """The parsed page, the article's location in it, and its metadata."""

    def __init__(self, html: str, source: str, base_url: str | None) -> None:
        self.source = source
        self.base_url = base_url
        if "\x00" in html[:4096] or not _LOOKS_HTML.search(html[:200_000]):
            raise PostError(
                f"{source}: this is not an HTML page (no HTML tags found); give a saved web page, "
                "or read the file as text or Markdown (--format text|markdown)"
            )
        text = self.html = _XML_DECL.sub("", html, count=1)
        try:
            self.tree = lxml.html.document_fromstring(text)
        except (etree.ParserError, ValueError) as e:
            raise PostError(
                f"{source}: the HTML cannot be parsed ({e}); save the page again"
            ) from e
        self._meta_tags = self._read_meta_tags()
        self._jsonld = list(self._read_jsonld())
        # Code and fallbacks are never text; gone now, they count in no element's length.
        etree.strip_elements(self.tree, *_CODE_TAGS, with_tail=False)
        self.url = self._canonical()
        base = self.tree.find(".//base[@href]")
        if base is not None:
            self.link_base: str | None = urljoin(base_url or self.url or "", base.get("href"))
        else:
            self.link_base = base_url or self.url
        self.order = {el: i for i, el in enumerate(self.tree.iter())}
        self.kept: dict[Any, int] = {}
        self._text_len: dict[Any, int] = {}
        body = self.tree.find("body")
        self.body = body if body is not None else self.tree
        self.article = self._locate(text)

    # --- the article -------------------------------------------------------------------------

    def _locate(self, html: str) -> list[Any]:
        """The element(s) holding the article: the smallest element containing most of the
        paragraphs trafilatura kept, plus the heading-like neighbours just before it."""
        doc = trafilatura.bare_extraction(
            html,
            include_formatting=True,
            include_links=True,
            include_images=True,
            include_comments=False,
            favor_recall=True,
        )
        keys: set[str] = set()
        body = getattr(doc, "body", None)
        if body is not None:
            for el in body.iter("p", "head", "item", "quote", "cell", "code"):
                k = _key("".join(el.itertext()))
                if len(k) >= _MIN_KEY:
                    keys.add(k)
        seen: set[str] = set()
        stack = list(self.body)[::-1]
        while stack:  # document order; an element that matches is not searched inside
            el = stack.pop()
            tag = _tag(el)
            if not tag or tag in _DROP_TAGS or _hidden(el):
                continue
            k = _key(el.text_content())
            if k in keys and k not in seen:
                seen.add(k)
                a = el
                while a is not None:
                    self.kept[a] = self.kept.get(a, 0) + len(k)
                    a = a.getparent()
            elif len(k) >= _MIN_KEY:
                stack.extend(list(el)[::-1])
        total = self.kept.get(self.body, 0)
        if not total:
            return [self._fallback_root()]
        node = self.body
        while True:
            best = max((c for c in node if c in self.kept), key=self.kept.__getitem__, default=None)
            if best is None or self.kept[best] < _CORE_SHARE * total:
                break
            node = best
        return self._widen(node)

    def _fallback_root(self) -> Any:
        """No help from trafilatura (a tiny page): the biggest <article>, else <main>, else
        <body>."""
        articles = [a for a in self.tree.iter("article") if not _hidden(a)]
        if articles:
            return max(articles, key=self.text_len)
        main = self.tree.find(".//main")
        return main if main is not None else self.body

    def _widen(self, node: Any) -> list[Any]:
        """Headings of the same article sit just outside its element on many sites (the h1 and
        dek in a header above the body): take the short, heading-holding siblings just before it,
        and siblings after it that trafilatura mostly kept."""
        out = [node]
        if node is self.body:
            return out
        sib = node.getprevious()
        while sib is not None:
            if isinstance(sib.tag, str) and not self._skip_sibling(sib):
                if not (self._has_heading(sib) and self.text_len(sib) <= _HEADER_MAX_CHARS):
                    break
                out.insert(0, sib)
            sib = sib.getprevious()
        sib = node.getnext()
        while sib is not None:
            if isinstance(sib.tag, str) and not self._skip_sibling(sib):
                if self.kept.get(sib, 0) < 0.5 * self.text_len(sib):
                    break
                out.append(sib)
            sib = sib.getnext()
        return out

    def _skip_sibling(self, el: Any) -> bool:
        """Neighbours looked past when widening: empty ones and those the walk drops anyway (a
        share bar between the headline and the body)."""
        return (
            _tag(el) in _DROP_TAGS
            or _hidden(el)
            or not self.text_len(el)
            or _named(el, _CHROME_WORDS)
        )

    def _has_heading(self, el: Any) -> bool:
        return _tag(el) in _HEADINGS or any(True for _ in el.iter(*_HEADINGS))

    def text_len(self, el: Any) -> int:
        n = self._text_len.get(el)
        if n is None:
            n = len(_key(el.text_content()))
            self._text_len[el] = n
        return n

    def kept_share(self, el: Any) -> float:
        """How much of the element's text trafilatura kept as article text."""
        return self.kept.get(el, 0) / max(1, self.text_len(el))

    def holds_article(self, el: Any, share: float = _KEEP_SHARE) -> bool:
        total = self.kept.get(self.body, 0)
        return bool(total) and self.kept.get(el, 0) >= share * total

    def trusted(self, el: Any) -> bool:
        """trafilatura kept most of this element's text."""
        kept = self.kept.get(el, 0)
        return bool(kept) and kept >= _TRUST_SHARE * self.text_len(el)

    # --- metadata ----------------------------------------------------------------------------

    def _read_meta_tags(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for m in self.tree.iter("meta"):
            name = (m.get("property") or m.get("name") or m.get("itemprop") or "").lower()
            content = _norm(m.get("content") or "")
            if name and content:
                out.setdefault(name, []).append(content)
        return out

    def _read_jsonld(self) -> Iterator[dict[str, Any]]:
        """Every JSON-LD object on the page, lists and @graph flattened."""
        for script in self.tree.iter("script"):
            if (script.get("type") or "").lower() != "application/ld+json":
                continue
            try:
                data = json.loads(script.text or "", strict=False)
            except ValueError:
                continue
            stack = [data]
            while stack:
                item = stack.pop(0)
                if isinstance(item, list):
                    stack.extend(item)
                elif isinstance(item, dict):
                    yield item
                    graph = item.get("@graph")
                    if isinstance(graph, list):
                        stack.extend(graph)

    def _tag_value(self, *names: str) -> str | None:
        for name in names:
            values = self._meta_tags.get(name)
            if values:
                return values[0]
        return None

    def _ld_values(self, key: str) -> Iterator[Any]:
        articles = [o for o in self._jsonld if "headline" in o or "datePublished" in o]
        for obj in articles + [o for o in self._jsonld if o not in articles]:
            if key in obj:
                yield obj[key]

    def _canonical(self) -> str | None:
        og = self._tag_value("og:url")
        if og and urlsplit(og).scheme not in ("http", "https"):
            og = None
        for link in self.tree.iter("link"):
            if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
                url = urljoin(self.base_url or og or "", str(link.get("href")).strip())
                if urlsplit(url).scheme in ("http", "https"):
                    return url
        return og or self.base_url

    def meta(self, text: str) -> PageMeta:
        # its own parse: trafilatura's date search may clean the tree it is given
        traf = extract_metadata(self.html, default_url=self.url, extensive=False)
        return PageMeta(
            title=self._title(traf.sitename),
            author=_BY.sub("", self._author(traf.author) or "") or None,
            date=self._date(traf.date),
            url=self.url,
            tags=self._tags(),
            summary=self._tag_value("og:description", "description", "twitter:description"),
            language=_language(self._declared_language(), text),
        )

    def _title(self, sitename: str | None) -> str | None:
        """The headline the reader sees: the article's h1 first (og:title and <title> are often
        a search-engine or social variant), then og:title, then <title> without its site name."""
        h1 = self._article_h1()
        if h1:
            return h1
        sites = [sitename, self._tag_value("og:site_name", "application-name")]
        for name in self._ld_values("publisher"):
            if isinstance(name, dict):
                sites.append(str(name.get("name") or ""))
        og = self._tag_value("og:title", "twitter:title")
        if og:
            return _strip_site(og, sites, self.url)
        title = self.tree.find(".//title")
        if title is not None and _norm(title.text_content()):
            return _strip_site(_norm(title.text_content()), sites, self.url)
        return None

    def _article_h1(self) -> str | None:
        start = self.order[self.article[0]]
        inside = [h for el in self.article for h in el.iter("h1")]
        before = [h for h in self.tree.iter("h1") if self.order[h] < start]
        for h in inside + before[::-1]:
            if not any(_hidden(a) or _tag(a) in _DROP_TAGS for a in (h, *h.iterancestors())):
                text = _norm(h.text_content())
                if text:
                    return text
        return None

    def _author(self, traf_author: str | None) -> str | None:
        value = self._tag_value("author", "article:author", "dc.creator", "parsely-author")
        if value and not urlsplit(value).scheme:
            return value
        for author in self._ld_values("author"):
            names = [
                str(a.get("name")) if isinstance(a, dict) else str(a)
                for a in (author if isinstance(author, list) else [author])
            ]
            names = [_norm(n) for n in names if n and n != "None" and not urlsplit(n).scheme]
            if names:
                return ", ".join(names)
        for a in self.tree.iter("a"):
            if "author" in (a.get("rel") or "").lower().split() and _norm(a.text_content()):
                return _norm(a.text_content())
        # trafilatura's guess, only when it looks like a name (it sometimes takes a whole bio)
        if traf_author and len(traf_author) <= 60 and len(traf_author.split()) <= 6:
            return traf_author.strip(" ·|,;-–—")
        return None

    def _date(self, traf_date: str | None) -> str | None:
        candidates: list[Any] = [
            self._tag_value("article:published_time"),
            *self._ld_values("datePublished"),
            *(t.get("datetime") for el in self.article for t in el.iter("time")),
            self._tag_value("datepublished", "date", "dc.date", "dc.date.issued", "pubdate"),
            traf_date,
        ]
        for value in candidates:
            if isinstance(value, str) and _ISO_DATE.match(value.strip()):
                return value.strip()[:10]
        return None

    def _tags(self) -> tuple[str, ...]:
        """article:tag when the page has them (the post's own tags), else meta keywords."""
        tags = list(self._meta_tags.get("article:tag", []))
        if not tags:
            for keywords in self._meta_tags.get("keywords", []):
                tags.extend(keywords.split(","))
        out: list[str] = []
        for t in tags:
            t = _norm(t)
            if t and t.lower() not in (o.lower() for o in out):
                out.append(t)
        return tuple(out)

    def _declared_language(self) -> str | None:
        lang = self.tree.get("lang") or self.tree.get("xml:lang") or self._tag_value("og:locale")
        if not lang:
            return None
        return re.split(r"[-_]", lang.strip())[0].lower() or None


def _language(declared: str | None, text: str) -> str | None:
    """The declared language, checked against the article's stop words: many themes say
    lang="en-US" whatever the post is written in. Kana means Japanese, Han alone Chinese."""
    letters = [c for c in text[:_LANG_SAMPLE] if c.isalpha()]
    if not letters:
        return declared
    if sum(1 for c in letters if "\u3040" <= c <= "\u30ff") > _CJK_SHARE * len(letters):
        return "ja"
    if sum(1 for c in letters if "\u4e00" <= c <= "\u9fff") > _CJK_SHARE * len(letters):
        return declared if declared in ("ja", "zh") else "zh"
    words = re.findall(r"[^\W\d_]+", text[:_LANG_SAMPLE].lower())
    if not words:
        return declared
    shares = {
        code: sum(1 for w in words if w in _stoplist(name)) / len(words)
        for code, name in _STOPLISTS.items()
    }
    best = max(shares, key=shares.__getitem__)
    if shares[best] < _STOPWORD_SHARE:
        return declared
    if declared is None or (
        declared in shares and shares[declared] < _LANG_OVERRIDE * shares[best]
    ):
        return best
    return declared


@functools.cache
def _stoplist(name: str) -> frozenset[str]:
    return frozenset(justext.get_stoplist(name))


def _strip_site(title: str, sites: list[str | None], url: str | None) -> str:
    """'Post title | Site' -> 'Post title', only when the part after a clear separator is the
    site's name (or its domain): a title with a dash in it stays whole."""
    names = {_key(s) for s in sites if s}
    for s in sites:
        if s and "." in s:
            names.add(_key(s.rsplit(".", 1)[0]))
    if url:
        host = urlsplit(url).hostname or ""
        host = host.removeprefix("www.")
        names.update({_key(host), _key(host.rsplit(".", 1)[0]), _key(host.split(".")[0])})
    names.discard("")
    for sep in _SEPARATORS:
        if sep in title:
            head, tail = title.rsplit(sep, 1)
            if _key(tail) in names and head.strip():
                return head.strip()
    return title


class _Reader:
    """Walks the article's elements and emits nodes in document order."""

    def __init__(self, page: _Page) -> None:
        self.page = page
        self.nodes: list[Node] = []
        self.loose: list[Span | None] = []  # None marks a paragraph break (<br><br>)
        self.loose_line = 0
        self.pending: list[Node] = []  # pictures met inside the current paragraph

    # --- block level -------------------------------------------------------------------------

    def walk(self, el: Any, ctx: _Ctx) -> None:
        tag = _tag(el)
        if not tag or self._chrome(el):
            return
        if tag in _IMAGE_TAGS:
            self._image(el)
            return
        if self._gallery(el):
            self.flush()
            srcs: set[str] = set()
            for img in el.iter(*_IMAGE_TAGS):
                if not any(_hidden(a) for a in (img, *img.iterancestors())):
                    node = self._image_node(img)
                    if node and node.block.src not in srcs:
                        srcs.add(node.block.src)
                        self.nodes.append(node)
            return
        if tag not in _BLOCK_TAGS and not self._has_blocks(el):
            self._inline_into_loose(el, ctx)
            return
        self.flush()
        line = el.sourceline or 0
        if tag in _HEADINGS:
            spans = _tidy(self._inline(el, ctx))
            if spans and _has_letters(spans):
                self._emit(Node(Block("h", spans, line=line), level=_HEADINGS[tag], line=line))
            self._emit_pending()
        elif tag in ("ul", "ol"):
            self._list(el, ctx)
        elif tag == "blockquote":
            spans = _tidy(self._inline(el, ctx))
            if spans:
                self._emit(Node(Block("quote", spans, line=line), line=line))
            self._emit_pending()
        elif tag == "pre":
            code = self._code_text(el).strip("\n")
            if code.strip() and not code.replace("\n", "").strip().isdigit():
                self._emit(Node(Block("code", code=code, line=line), line=line))
        elif tag == "table" and not self._has_blocks_in_cells(el):
            self._table(el, ctx)
        elif self._has_blocks(el):
            if el.text:
                self._add_loose(Span(el.text, *_ctx_attrs(ctx)), el)
            for child in el:
                self.walk(child, ctx)
                if child.tail:
                    self._add_loose(Span(child.tail, *_ctx_attrs(ctx)), child)
        else:
            self._inline_into_loose(el, ctx)
        self.flush()

    def _chrome(self, el: Any) -> bool:
        tag = _tag(el)
        if tag in _DROP_TAGS or _hidden(el):
            return True
        if tag in _IMAGE_TAGS or tag in _HEADINGS or tag in ("p", "li", "br"):
            return False  # content by nature; chrome is judged on the boxes around it
        if tag in _BOXES and tag not in ("ul", "ol") and self._link_dense(el):
            # a menu or a list of cards, unless the post itself is a list of links
            return not self.page.holds_article(el, _LINK_POST_SHARE)
        if self.page.holds_article(el):
            return False  # the article itself, whatever its class says ("has-share-bar")
        if (el.get("role") or "").lower() in _CHROME_ROLES or _named(el, _CHROME_WORDS):
            return True  # the page says what it is: believed over trafilatura for a small box
        if tag in _BOXES and _labelled_sponsored(el):
            return True  # a box that opens with "Anzeige", "Publicité", "Sponsored"
        if self.page.trusted(el):
            return False  # trafilatura kept it as article text
        if tag in _SOFT_DROP_TAGS:
            return True
        if tag not in _BOXES:
            return False
        if len(el) >= 2 and _norm(el.text_content()).replace(" ", "").isdigit():
            return True  # a line-number gutter or a pager: numbers only
        if tag in ("ul", "ol"):
            return self._link_dense(el) and (self._toc(el) or not self.page.kept.get(el))
        return not self.page.kept.get(el) and self._paragraph_chars(el) >= _UNKEPT_MIN_CHARS

    def _link_dense(self, el: Any) -> bool:
        links = [a for a in el.iter("a") if a.get("href")]
        if len(links) < _LINK_DENSE_MIN_LINKS:
            return False
        linked = sum(len(_key(a.text_content())) for a in links)
        return linked >= _LINK_DENSE * max(1, self.page.text_len(el))

    def _toc(self, el: Any) -> bool:
        """A list of links to places in this page: a table of contents."""
        hrefs = [a.get("href", "") for a in el.iter("a") if a.get("href")]
        return bool(hrefs) and all(h.startswith("#") for h in hrefs)

    def _paragraph_chars(self, el: Any) -> int:
        """Text in the element outside headings: what trafilatura judged and dropped."""
        heads = sum(self.page.text_len(h) for h in el.iter(*_HEADINGS))
        return self.page.text_len(el) - heads

    def _gallery(self, el: Any) -> bool:
        return _named(el, _GALLERY_WORDS) and not self.page.trusted(el)

    def _has_blocks(self, el: Any) -> bool:
        return any(
            _tag(d) in _BLOCK_TAGS and _tag(d) not in _DROP_TAGS for d in el.iterdescendants()
        )

    def _has_blocks_in_cells(self, table: Any) -> bool:
        """A table used for layout holds paragraphs, headings or lists in its cells."""
        inner = {"p", "div", "ul", "ol", "blockquote", "pre", "table", *_HEADINGS}
        return any(_tag(d) in inner for d in table.iterdescendants())

    def _list(self, el: Any, ctx: _Ctx) -> None:
        """A list of short items stays a list; a list whose items hold headings or several
        paragraphs is a run of sections, so its items' blocks are emitted instead."""
        items = [li for li in el if _tag(li) == "li" and not self._chrome(li)]
        if any(self._complex_item(li) for li in items):
            for child in el:
                self.walk(child, ctx)
            return
        out: list[tuple[Span, ...]] = []
        for li in items:
            self._items(li, ctx, out, 0)
        if out:
            line = el.sourceline or 0
            kind: BlockKind = "ol" if _tag(el) == "ol" else "ul"
            self._emit(Node(Block(kind, items=tuple(out), line=line), line=line))
        self._emit_pending()

    def _items(self, li: Any, ctx: _Ctx, out: list[tuple[Span, ...]], depth: int) -> None:
        nested = [c for c in li.iterdescendants("ul", "ol") if not self._chrome(c)]
        spans = _tidy(self._inline(li, ctx, skip={"ul", "ol"}))
        if spans:
            out.append((Span("  " * depth), *spans) if depth else spans)
        for lst in nested:
            if lst.getparent() is li or not any(
                a in nested for a in lst.iterancestors() if a is not li
            ):
                for sub in lst:
                    if _tag(sub) == "li" and not self._chrome(sub):
                        self._items(sub, ctx, out, depth + 1)

    def _complex_item(self, li: Any) -> bool:
        if any(not self._chrome(h) for h in li.iter(*_HEADINGS)):
            return True
        blocks = [
            c
            for c in li
            if _tag(c) in ("p", "div", "blockquote", "pre", "figure", "table")
            and not self._chrome(c)
            and self.page.text_len(c)
        ]
        return len(blocks) >= 2

    def _table(self, table: Any, ctx: _Ctx) -> None:
        """A data table: each row as a paragraph of its cells, " | " between them. An email has
        no room for a table, and the rows' text is what a reader needs from it."""
        for tr in table.iter("tr"):
            if self._chrome(tr):
                continue
            spans: list[Span | None] = []
            for cell in tr:
                if _tag(cell) in ("td", "th") and not self._chrome(cell):
                    cell_spans = _tidy(self._inline(cell, ctx))
                    if cell_spans:
                        if spans:
                            spans.append(Span(" | "))
                        spans.extend(cell_spans)
            tidy = _tidy(spans)
            if tidy:
                line = tr.sourceline or 0
                self._emit(Node(Block("p", tidy, line=line), line=line))
            self._emit_pending()

    def _code_text(self, el: Any) -> str:
        parts: list[str] = []

        def rec(e: Any) -> None:
            if e.text:
                parts.append(e.text)
            for c in e:
                if isinstance(c.tag, str) and not _hidden(c) and _tag(c) not in _DROP_TAGS:
                    if _tag(c) == "br":
                        parts.append("\n")
                    rec(c)
                if c.tail:
                    parts.append(c.tail)

        rec(el)
        return "".join(parts)

    # --- inline ------------------------------------------------------------------------------

    def _inline_into_loose(self, el: Any, ctx: _Ctx) -> None:
        spans = self._inline_el(el, ctx)
        for s in spans:
            self._add_loose(s, el)

    def _add_loose(self, span: Span | None, el: Any) -> None:
        if not self.loose:
            self.loose_line = el.sourceline or 0
        self.loose.append(span)

    def _inline(self, el: Any, ctx: _Ctx, skip: set[str] | None = None) -> list[Span | None]:
        """The element's content as spans; block children are read as text with a space
        around them (a heading's <p>, a quote's paragraphs)."""
        out: list[Span | None] = []
        if el.text:
            out.append(Span(el.text, *_ctx_attrs(ctx)))
        for child in el:
            tag = _tag(child)
            if tag and not (skip and tag in skip):
                out.extend(self._inline_el(child, ctx, skip))
            if child.tail:
                out.append(Span(child.tail, *_ctx_attrs(ctx)))
        return out

    def _inline_el(self, el: Any, ctx: _Ctx, skip: set[str] | None = None) -> list[Span | None]:
        tag = _tag(el)
        if not tag or self._chrome(el):
            return []
        if tag == "br":
            return [None]
        if tag in _IMAGE_TAGS:
            self._image(el)
            return []
        if tag == "a":
            ctx = replace(ctx, href=self._href(el.get("href")))
        elif tag in ("strong", "b"):
            ctx = replace(ctx, strong=_bold_tag(el))
        elif tag in ("em", "i", "cite", "dfn"):
            ctx = replace(ctx, em=True)
        elif tag in ("code", "kbd", "samp", "tt", "var"):
            ctx = replace(ctx, code=True)
        style = el.get("style")
        if style and tag not in ("strong", "b"):
            m = _WEIGHT.search(style)
            if m:
                ctx = replace(ctx, strong=_weight_bold(m.group(1), ctx.strong))
        inner = self._inline(el, ctx, skip)
        if tag in _BLOCK_TAGS:
            return [Span(" "), *inner, Span(" ")]
        return inner

    def _href(self, href: str | None) -> str | None:
        if not href:
            return None
        href = href.strip()
        if not href or href == "#" or href.lower().startswith(("javascript:", "data:")):
            return None
        base = self.page.link_base
        return urljoin(base, href) if base else href

    # --- images ------------------------------------------------------------------------------

    def _image(self, el: Any) -> None:
        node = self._image_node(el)
        if node is None:
            return
        if any(s is not None and s.text.strip() for s in self.loose):
            self.pending.append(node)  # after the paragraph it sits in
        else:
            self.flush()
            self.nodes.append(node)

    def _image_node(self, el: Any) -> Node | None:
        for dim in ("width", "height"):
            value = (el.get(dim) or "").strip().removesuffix("px")
            if value.isdecimal() and int(value) <= _ICON_MAX_PX:
                return None
        src = _image_src(el)
        if not src:
            return None
        url = urljoin(self.page.link_base, src) if self.page.link_base else src
        if urlsplit(url).path.lower().endswith(".svg") and "#" in url:
            return None  # an icon out of an SVG sprite sheet
        alt = _norm(el.get("alt") or "")
        line = el.sourceline or 0
        spans = (Span(alt),) if alt else ()
        caption = _figure_caption(el)
        block = Block(
            "img",
            spans,
            src=url,
            line=line,
            width=_pixels(el.get("width")),
            height=_pixels(el.get("height")),
            caption=(Span(caption),) if caption and caption != alt else (),
        )
        return Node(block, line=line)

    # --- output ------------------------------------------------------------------------------

    def flush(self) -> None:
        """The loose inline content read so far becomes paragraphs (split at <br><br>)."""
        runs: list[list[Span | None]] = [[]]
        prev_break = False
        for s in self.loose:
            if s is None:
                if prev_break:
                    runs.append([])
                    prev_break = False
                else:
                    runs[-1].append(None)
                    prev_break = True
            else:
                if s.text.strip():
                    prev_break = False
                runs[-1].append(s)
        self.loose = []
        for run in runs:
            self._paragraph(_tidy(run), self.loose_line)
        self._emit_pending()

    def _paragraph(self, spans: tuple[Span, ...], line: int) -> None:
        if not spans:
            return
        visible = [s for s in spans if s.text.strip()]
        bold = bool(visible) and all(s.strong for s in visible)
        lead = ""
        if not bold and visible and visible[0].strong:
            run = []
            for s in spans:
                if not s.strong and s.text.strip():
                    break
                run.append(s.text)
            lead = _norm("".join(run))
            if not any(c.isalnum() for c in lead):
                lead = ""
        block = Block("p", spans, line=line)
        self._emit(Node(block, bold=bold, lead=lead, line=line))

    def _emit(self, node: Node) -> None:
        self.nodes.append(node)

    def _emit_pending(self) -> None:
        self.nodes.extend(self.pending)
        self.pending = []


def _ctx_attrs(ctx: _Ctx) -> tuple[str | None, bool, bool, bool]:
    return ctx.href, ctx.strong, ctx.em, ctx.code


def _bold_tag(el: Any) -> bool:
    """<strong>/<b> are bold unless their own style says otherwise (Google Docs wraps whole
    documents in <b style="font-weight:normal">)."""
    m = _WEIGHT.search(el.get("style") or "")
    return _weight_bold(m.group(1), True) if m else True


def _weight_bold(value: str, default: bool) -> bool:
    value = value.lower()
    if value in ("bold", "bolder"):
        return True
    if value in ("normal", "lighter"):
        return False
    if value.isdecimal():
        return int(value) >= 600
    return default


def _pixels(value: str | None) -> int:
    """An <img> width or height in CSS pixels ("640", "640px"); 0 when not given as such."""
    v = (value or "").strip().removesuffix("px")
    return int(v) if v.isdecimal() else 0


def _figure_caption(el: Any) -> str:
    """The caption of the figure a picture sits in: it stays with the picture, not the text."""
    for parent in el.iterancestors():
        if _tag(parent) == "figure":
            cap = next((c for c in parent.iter("figcaption")), None)
            return _norm(cap.text_content()) if cap is not None else ""
    return ""


def _image_src(el: Any) -> str | None:
    """The picture's real address: lazy-load attributes first (their `src` is a placeholder),
    then `src`, then the first candidate of a srcset; data: URIs are placeholders or pixels."""
    for attr in _LAZY_SRC:
        value = (el.get(attr) or "").strip()
        if value and not value.startswith("data:"):
            return value
    src = (el.get("src") or "").strip()
    if src and not src.startswith("data:"):
        return src
    srcsets: list[str | None] = [el.get(a) for a in _LAZY_SRCSET]
    parent = el.getparent()
    if parent is not None and _tag(parent) == "picture":
        srcsets += [s.get("srcset") for s in parent.iter("source")]
    for srcset in srcsets:
        if srcset:
            first = str(srcset).split(",")[0].strip().split(" ")[0]
            if first and not first.startswith("data:"):
                return first
    return None


def _has_letters(spans: tuple[Span, ...]) -> bool:
    return any(c.isalnum() for s in spans for c in s.text)


def _tidy(spans: list[Span | None] | tuple[Span | None, ...]) -> tuple[Span, ...]:
    """Whitespace collapsed as a browser would (across span edges too), a <br> read as a space,
    the ends trimmed, neighbours with the same formatting merged, empty spans gone."""
    out: list[Span] = []
    for s in spans:
        text = " " if s is None else _WS.sub(" ", _INVISIBLE.sub("", s.text))
        if not text:
            continue
        if out and out[-1].text.endswith(" ") and text.startswith(" "):
            text = text[1:]
            if not text:
                continue
        attrs = (None, False, False, False) if s is None else _span_attrs(s)
        if s is None and out:
            attrs = _span_attrs(out[-1])
        if out and _span_attrs(out[-1]) == attrs:
            out[-1] = Span(out[-1].text + text, *attrs)
        elif out and not text.strip():
            out[-1] = Span(out[-1].text + text, *_span_attrs(out[-1]))
        else:
            out.append(Span(text, *attrs))
    if out:
        out[0] = Span(out[0].text.lstrip(), *_span_attrs(out[0]))
        out[-1] = Span(out[-1].text.rstrip(), *_span_attrs(out[-1]))
    return tuple(s for s in out if s.text)


def _span_attrs(s: Span) -> tuple[str | None, bool, bool, bool]:
    return s.href, s.strong, s.em, s.code
