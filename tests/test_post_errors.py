"""Bad posts give one line naming the file, exit status 1, and no traceback; warnings are shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SAMPLE


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def assert_one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("newsletter: error: ")
    assert "Traceback" not in r.stderr
    for needle in needles:
        assert needle in lines[0]


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    assert_one_line_error(run("split", str(missing)), str(missing), "no such file")


def test_empty_post(tmp_path: Path) -> None:
    empty = tmp_path / "empty.md"
    empty.write_text("  \n\n", encoding="utf-8")
    assert_one_line_error(run("build", str(empty), "-o", str(tmp_path)), str(empty), "empty")


def test_post_without_sections(tmp_path: Path) -> None:
    flat = tmp_path / "flat.txt"
    flat.write_text(
        "A Title\n\nJust one long paragraph of prose that goes on and on without any headings "
        "at all, so there is nothing to split into a series.\n",
        encoding="utf-8",
    )
    # Copied text: the way out is `newsletter import`, then headings in the Markdown.
    assert_one_line_error(
        run("split", str(flat)), f"found no sections in {flat}", "newsletter import", "'## '"
    )


def test_markdown_without_sections_says_to_add_headings(tmp_path: Path) -> None:
    flat = tmp_path / "flat.md"
    flat.write_text("# A Title\n\nOne paragraph and nothing else.\n", encoding="utf-8")
    assert_one_line_error(run("split", str(flat)), f"found no sections in {flat}", "'## ' lines")


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"Title\n\nCaf\xe9 culture\n")
    assert_one_line_error(run("split", str(bad)), f"{bad}:3", "not UTF-8")


def test_unknown_extension_and_format_override(tmp_path: Path) -> None:
    odd = tmp_path / "post.rst"
    odd.write_text("x", encoding="utf-8")
    assert_one_line_error(run("split", str(odd)), "--format")
    copy = tmp_path / "post.data"
    copy.write_bytes(SAMPLE.read_bytes())
    r = run("split", str(copy), "--format", "text")
    assert r.returncode == 0 and "Improved Sleep" in r.stdout


def test_broken_front_matter_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("---\ntitle: [unclosed\n---\n\n## A\n\ntext\n", encoding="utf-8")
    assert_one_line_error(run("split", str(bad)), str(bad), "front matter")


def test_markdown_without_title_takes_the_file_name_and_warns(tmp_path: Path) -> None:
    bad = tmp_path / "2024-05-01-calm-mornings.md"
    bad.write_text("Some text.\n\n## One\n\nA.\n\n## Two\n\nB.\n", encoding="utf-8")
    r = run("split", str(bad), "--json")
    assert r.returncode == 0, r.stderr
    assert '"title": "Calm mornings"' in r.stdout
    assert f"{bad}:1: warning: no title: using 'Calm mornings' from the file name" in r.stderr


def test_warnings_name_the_lost_drop_cap_and_dangling_links() -> None:
    r = run("split", str(SAMPLE))
    assert r.returncode == 0
    warnings = r.stderr.strip().splitlines()
    assert any(":46:" in w and "he second mechanism" in w and "drop cap" in w for w in warnings)
    assert any(":48:" in w and "can be found on" in w for w in warnings)
    assert any(":48:" in w and "quote mark" in w for w in warnings)
    assert any(":62:" in w and "check out this article" in w for w in warnings)
    assert any(":70:" in w and "click here" in w for w in warnings)
    assert len(warnings) == 5


def test_warnings_also_come_from_build(tmp_path: Path) -> None:
    r = run("build", str(SAMPLE), "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "he second mechanism" in r.stderr


@pytest.mark.parametrize("command", ["split", "build"])
def test_strict_turns_warnings_into_errors(command: str, tmp_path: Path) -> None:
    args = [command, str(SAMPLE), "--strict"] + (
        ["-o", str(tmp_path)] if command == "build" else []
    )
    assert_one_line_error(run(*args), f"{SAMPLE}:46", "drop cap", "(and 4 more)")


def test_linked_text_in_markdown_is_not_a_dangling_link(tmp_path: Path) -> None:
    ok = tmp_path / "ok.md"
    ok.write_text(
        "---\ntitle: T\n---\n\n## One\n\nRead it [click here](https://example.com).\n\n"
        "## Two\n\nMore text here.\n",
        encoding="utf-8",
    )
    r = run("split", str(ok), "--strict")
    assert r.returncode == 0, r.stderr


def test_bad_settings_file_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "newsletter.toml"
    cfg.write_text('[smtp]\nsecurity = "tls-please"\n', encoding="utf-8")
    assert_one_line_error(run("--config", str(cfg), "split", str(SAMPLE)), "security", "starttls")
    cfg.write_text("[smtp]\nport = 'x'\n", encoding="utf-8")
    assert_one_line_error(run("--config", str(cfg), "split", str(SAMPLE)), "[smtp] port")
    cfg.write_text("[smpt]\nport = 25\n", encoding="utf-8")
    assert_one_line_error(run("--config", str(cfg), "split", str(SAMPLE)), "unknown section [smpt]")
    cfg.write_text("[smtp\n", encoding="utf-8")
    assert_one_line_error(run("--config", str(cfg), "split", str(SAMPLE)), str(cfg))


def test_usage_error_is_status_2() -> None:
    r = run("split")
    assert r.returncode == 2


def test_every_command_has_help() -> None:
    for command in [
        "split",
        "build",
        "captions",
        "preview",
        "schedule",
        "status",
        "calendar",
        "run",
        "send-test",
        "unsubscribe",
    ]:
        r = run(command, "--help")
        assert r.returncode == 0 and "usage:" in r.stdout, command


def test_links_to_the_placeholder_site_are_warned_until_site_url_is_set(tmp_path: Path) -> None:
    post = tmp_path / "p.md"
    post.write_text("# Calm\n\nIntro.\n\n## One\n\nText one.\n\n## Two\n\nText two.\n")
    warning = f"{post}: warning: links go to https://example.com, a placeholder: set"
    assert warning in run("captions", str(post), "--issue", "1", "--platform", "x").stderr
    assert warning in run("build", str(post), "-o", str(tmp_path / "out")).stderr
    assert run("split", str(post)).stderr == ""  # the plan has no links
    config = tmp_path / "newsletter.toml"
    config.write_text('[newsletter]\nsite_url = "https://calm.blog"\n')
    r = run("--config", str(config), "captions", str(post), "--issue", "1", "--platform", "x")
    assert r.returncode == 0 and r.stderr == ""
    post.write_text("---\nurl: https://calm.blog/p\n---\n" + post.read_text())
    assert run("captions", str(post), "--issue", "1", "--platform", "x").stderr == ""


def test_url_gives_a_scraped_post_its_address(tmp_path: Path) -> None:
    url = "https://bodyandmind.blog/post/massage"
    r = run("build", str(SAMPLE), "-o", str(tmp_path), "--url", url)
    assert r.returncode == 0 and "placeholder" not in r.stderr
    html = next(tmp_path.glob("*/01-*/email.html")).read_text(encoding="utf-8")
    assert f'href="{url}?utm_source=newsletter' in html
    r = run("captions", str(SAMPLE), "--issue", "2", "--platform", "x", "--url", url)
    assert f"{url}?utm_source=x" in r.stdout
    bad = run("build", str(SAMPLE), "--url", "bodyandmind.blog/post")
    assert bad.returncode == 2
    assert "--url: 'bodyandmind.blog/post' is not an http(s) address" in bad.stderr
