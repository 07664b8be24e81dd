"""What the law asks of every email (issue 10): the unsubscribe link and the postal address in
both parts, whichever template made them, and size limits on a post and its parts that say what
to do, all through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.cli import main
from tests.helpers import SAMPLE
from tests.workspace import ACCEPT, Workspace

NOW = "2025-03-01T12:00:00+00:00"
MJML_FOOTER = """{% extends "builtin/email.mjml.j2" %}
{% block footer %}
    <mj-section><mj-column><mj-text>FOOTER</mj-text></mj-column></mj-section>
{% endblock %}
"""
TEXT_FOOTER = """{% extends "builtin/email.txt.j2" %}
{% block footer %}
FOOTER
{% endblock %}
"""


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", "a-test-secret-of-enough-length-1234")
    monkeypatch.setenv("NEWSLETTER_NOW", NOW)


def one_error(err: str) -> str:
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if ": warning: " not in line]
    assert len(errors) == 1, err
    assert errors[0].startswith("newsletter: error: ")
    return errors[0]


def writer(tmp_path: Path, templates: dict[str, str] | None = None) -> Workspace:
    """A writer's folder with their own templates/ next to newsletter.toml."""
    ws = Workspace(tmp_path, None)
    ws.use_real_names()
    ws.subscribers(2)
    folder = tmp_path / "templates"
    folder.mkdir()
    for name, source in (templates or {}).items():
        (folder / name).write_text(source, encoding="utf-8")
    return ws


def build(ws: Workspace, post: Path = SAMPLE) -> int:
    out = ws.root / "out"
    return main(["--config", str(ws.config), "build", str(post), "-o", str(out)])


def schedule(ws: Workspace, post: Path = SAMPLE) -> int:
    args = ["schedule", str(post), "--start", "2025-03-03", *ACCEPT]
    return main(["--config", str(ws.config), *args])


@pytest.mark.parametrize(
    ("name", "source", "missing"),
    [
        (
            "email.mjml.j2",
            MJML_FOOTER.replace("FOOTER", "{{ newsletter.postal_address }}"),
            "no unsubscribe link in the HTML part",
        ),
        (
            "email.mjml.j2",
            MJML_FOOTER.replace("FOOTER", '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'),
            "no postal address in the HTML part",
        ),
        (
            "email.txt.j2",
            TEXT_FOOTER.replace("FOOTER", "{{ newsletter.postal_address }}"),
            "no unsubscribe link in the text part",
        ),
        (
            "email.txt.j2",
            TEXT_FOOTER.replace("FOOTER", "Unsubscribe: {{ unsubscribe_url }}"),
            "no postal address in the text part",
        ),
    ],
)
def test_a_custom_template_that_leaves_out_the_law_fails_build_and_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, source: str, missing: str
) -> None:
    ws = writer(tmp_path, {name: source})
    template = str(tmp_path / "templates" / name)

    assert build(ws) == 1
    line = one_error(capsys.readouterr().err)
    assert line.startswith(f"newsletter: error: {template}: issue 1 (")
    assert missing in line
    assert not list(ws.root.rglob("email.html"))

    assert schedule(ws) == 1
    assert missing in one_error(capsys.readouterr().err)
    assert not ws.outbox.exists()


def test_a_custom_footer_with_both_builds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = MJML_FOOTER.replace(
        "FOOTER",
        '{{ newsletter.postal_address }} <a href="{{ unsubscribe_url }}">Leave the list</a>',
    )
    text = TEXT_FOOTER.replace("FOOTER", "{{ newsletter.postal_address }}\n{{ unsubscribe_url }}")
    ws = writer(tmp_path, {"email.mjml.j2": html, "email.txt.j2": text})
    assert build(ws) == 0, capsys.readouterr().err
    page = next((ws.root / "out").rglob("01-*/email.html")).read_text(encoding="utf-8")
    assert "Leave the list" in page and "3 Harbour Lane, Portsmouth" in page


def test_an_empty_postal_address_fails_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = writer(tmp_path)
    ws.config.write_text(
        ws.config.read_text(encoding="utf-8").replace(
            'postal_address = "3 Harbour Lane, Portsmouth"', 'postal_address = " "'
        ),
        encoding="utf-8",
    )
    assert build(ws) == 1
    line = one_error(capsys.readouterr().err)
    assert "[newsletter] postal_address is empty" in line


def test_a_post_with_one_10_mb_word_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = writer(tmp_path)
    post = tmp_path / "big.md"
    word = "a" * (10 * 1024 * 1024)
    post.write_text(
        f"---\ntitle: Big word\n---\n\nIntro.\n\n## One\n\nText {word} end.\n\n"
        "## Two\n\nText two.\n\n## Three\n\nText three.\n",
        encoding="utf-8",
    )
    assert build(ws, post) == 1
    line = one_error(capsys.readouterr().err)
    assert f"{post}: the post holds 10.0 MB of text" in line
    assert "split it into several posts" in line
    assert not (ws.root / "out").exists()
    assert schedule(ws, post) == 1
    assert "the post holds 10.0 MB" in one_error(capsys.readouterr().err)
    assert not ws.outbox.exists()


def test_an_issue_too_big_for_its_parts_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under the post's limit, a 300 KB word makes the HTML part too big: refused, never cut."""
    ws = writer(tmp_path)
    post = tmp_path / "big.md"
    word = "a" * (300 * 1024)
    post.write_text(
        f"---\ntitle: Big word\n---\n\nIntro.\n\n## One\n\nText {word} end.\n\n"
        "## Two\n\nText two.\n\n## Three\n\nText three.\n",
        encoding="utf-8",
    )
    assert build(ws, post) == 1
    line = one_error(capsys.readouterr().err)
    assert "KB of HTML; Gmail clips emails over 102 KB: shorten the section" in line


def test_a_text_template_too_big_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = TEXT_FOOTER.replace(
        "FOOTER",
        "{{ newsletter.postal_address }}\nUnsubscribe: {{ unsubscribe_url }}\n"
        "{% for i in range(20000) %}padding line {{ i }}\n{% endfor %}",
    )
    ws = writer(tmp_path, {"email.txt.j2": text})
    assert build(ws) == 1
    line = one_error(capsys.readouterr().err)
    template = tmp_path / "templates" / "email.txt.j2"
    assert line.startswith(f"newsletter: error: {template}: issue 1 (")
    assert "KB of plain text; keep each part under 102 KB" in line
