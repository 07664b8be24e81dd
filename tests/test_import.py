"""`newsletter import`: any source as clean Markdown that splits into the same series, and posts
read straight from a URL served on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.post_markdown import post_markdown
from newsletter.readers import read_post
from newsletter.series import series_json, split_post
from tests.helpers import POSTS, ROOT, SAMPLE
from tests.test_shapes2 import KNOWN_MISSES
from tests.web import Web, page

OWN_POSTS = sorted(
    p
    for folder in (POSTS, ROOT / "tests" / "pages")
    for p in folder.rglob("*")
    if p.suffix in (".md", ".txt", ".html")
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args], capture_output=True, text=True, timeout=60
    )


def _series(path: str) -> dict[str, object]:
    data = series_json(split_post(read_post(path)))
    data["post"]["source"] = ""
    return data


# Posts of ours the readers cannot split yet (see tests/test_shapes2.py): nothing to import.
UNSPLITTABLE = {name for name, check in KNOWN_MISSES if check == "sections"}


@pytest.mark.parametrize(
    "post",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason="the readers cannot split it"))
        if p.name in UNSPLITTABLE
        else p
        for p in [SAMPLE, *OWN_POSTS]
    ],
    ids=lambda p: p.name,
)
def test_import_then_split_gives_the_same_series(post: Path, tmp_path: Path) -> None:
    imported = tmp_path / "imported.md"
    imported.write_text(post_markdown(read_post(str(post))), encoding="utf-8")
    assert _series(str(imported)) == _series(str(post))


def test_import_writes_front_matter_sections_references_and_warnings(tmp_path: Path) -> None:
    out = tmp_path / "posts" / "massage.md"
    r = run("import", str(SAMPLE), "-o", str(out))
    assert r.returncode == 0, r.stderr
    md = out.read_text(encoding="utf-8")
    assert md.startswith("---\ntitle: Massage for the (mental) Health of It\n")
    assert "author: Chelsa Connolly\n---\n" in md
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Improved Sleep",
        "## Impact on Hormones and Neurotransmitters",
        "## Decrease in Pain",
        "## Regulation of the Parasympathetic/Sympathetic Nervous System",
        "## Improved Body Awareness",
        "## To sum things up.",
        "## References",
    ]
    assert "1. The effects of improving sleep on mental health (OASIS)" in md
    # The warning sits right above the paragraph it is about.
    lost = md.index("<!-- newsletter: paragraph starts lowercase ('he second mechanism")
    assert md.index("he second mechanism by which") > lost
    assert "## Improved Sleep" in md[:lost]
    assert "top of page" not in md and "Recent Posts" not in md


def test_import_prints_to_stdout_and_never_overwrites_without_force(tmp_path: Path) -> None:
    r = run("import", str(POSTS / "myths.txt"))
    assert r.returncode == 0 and r.stdout.startswith("---\ntitle: ")
    out = tmp_path / "mine.md"
    out.write_text("my corrected headings", encoding="utf-8")
    r = run("import", str(POSTS / "myths.txt"), "-o", str(out))
    assert r.returncode == 2
    assert r.stderr.strip() == (
        f"newsletter: error: {out} exists: choose another name, or say --force to replace it"
    )
    assert out.read_text(encoding="utf-8") == "my corrected headings"
    assert run("import", str(POSTS / "myths.txt"), "-o", str(out), "--force").returncode == 0
    assert out.read_text(encoding="utf-8").startswith("---\n")


def test_import_into_a_place_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    r = run("import", str(SAMPLE), "-o", "/dev/null/post.md")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("newsletter: error: /dev/null/post.md")
    assert "Traceback" not in r.stderr


def test_markdown_special_characters_survive_the_round_trip(tmp_path: Path) -> None:
    post = tmp_path / "special.md"
    post.write_text(
        "---\ntitle: 'Stars * and _underscores_'\n---\n\nIntro with a <tag> and 2 * 3.\n\n"
        "## 1. Use `set -e` *always*\n\n1\\. This paragraph starts with a number.\n\n"
        "## 2. Quote [things] properly\n\n# not a heading, escaped? no: this is a heading\n\n"
        "Body with a [link](https://example.org/a_b) and **bold** text.\n",
        encoding="utf-8",
    )
    again = tmp_path / "again.md"
    again.write_text(post_markdown(read_post(str(post))), encoding="utf-8")
    assert _series(str(again)) == _series(str(post))


ARTICLE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Three Ways to Rest | Quiet Blog</title>
<meta property="og:title" content="Three Ways to Rest">
<link rel="canonical" href="https://quiet.example.org/rest"></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li></ul></nav>
<article><h1>Three Ways to Rest</h1>
<p>Rest is a skill. These three habits make an evening feel like an evening again.</p>
<h2>1. Put the phone away</h2><p>A phone in the next room cannot pull you back to work, and
the evening stays yours for longer than you would think.</p>
<h2>2. Walk after dinner</h2><p>Twenty minutes outside slows the mind down and makes the
rest of the evening calmer, whatever the weather is doing.</p>
<h2>3. Read on paper</h2><p>A paper book ends when you close it, and there is no next
chapter starting on its own at the bottom of the page.</p>
</article><footer><p>© Quiet Blog</p></footer></body></html>"""


def test_split_reads_a_url_and_takes_its_metadata(web: Web) -> None:
    url = web.route("/rest", page(ARTICLE.encode(), content_type="text/html; charset=utf-8"))
    r = run("split", url, "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["post"]["title"] == "Three Ways to Rest"
    assert [i["title"] for i in data["issues"]] == [
        "Put the phone away",
        "Walk after dinner",
        "Read on paper",
    ]
    post = read_post(url)
    assert post.url == "https://quiet.example.org/rest"
    assert "Home" not in json.dumps(data)


def test_import_of_a_url_and_its_errors(web: Web, tmp_path: Path) -> None:
    url = web.route("/rest", page(ARTICLE.encode(), content_type="text/html; charset=utf-8"))
    out = tmp_path / "rest.md"
    assert run("import", url, "-o", str(out)).returncode == 0
    md = out.read_text(encoding="utf-8")
    assert "url: https://quiet.example.org/rest" in md and "## 2. Walk after dinner" in md
    missing = web.url("/gone")
    r = run("split", missing)
    assert r.returncode == 1
    assert r.stderr.strip() == f"newsletter: error: {missing}: 404 Not Found"


def test_pictures_keep_their_size_and_caption_and_the_series_its_name(tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    page.write_text(
        "<html><head><title>Two walks</title></head><body><article><h1>Two walks</h1>"
        "<p>Two walks near town that take an afternoon each, with a pub at the end.</p>"
        "<h2>The river path</h2><figure><img src='https://img.example.org/river.jpg' "
        "alt='The river at dusk' width='640' height='427'><figcaption>The weir, looking "
        "north</figcaption></figure><p>Follow the river from the bridge to the weir and back "
        "along the old towpath, about six miles on the flat.</p>"
        "<h2>The hill fort</h2><p>A short steep climb to the ramparts, then a long ridge "
        "walk with views over three counties on a clear day.</p></article></body></html>",
        encoding="utf-8",
    )
    post = read_post(str(page))
    picture = next(b for b in post.sections[0].blocks if b.kind == "img")
    assert (picture.src, picture.text, picture.width, picture.height) == (
        "https://img.example.org/river.jpg",
        "The river at dusk",
        640,
        427,
    )
    assert "".join(s.text for s in picture.caption) == "The weir, looking north"
    md = tmp_path / "p.md"
    md.write_text(post_markdown(post), encoding="utf-8")
    assert '![The river at dusk](https://img.example.org/river.jpg "The weir, looking north")' in (
        md.read_text(encoding="utf-8")
    )
    again = next(b for b in read_post(str(md)).sections[0].blocks if b.kind == "img")
    assert "".join(s.text for s in again.caption) == "The weir, looking north"
    series = tmp_path / "s.md"
    series.write_text(
        "---\ntitle: T\nseries: Walks\n---\n\n## Up\n\nText.\n\n## Down\n\nText.\n", "utf-8"
    )
    assert read_post(str(series)).series == "Walks"
