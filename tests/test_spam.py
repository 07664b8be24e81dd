"""Every built message through SpamAssassin (Debian's `spamassassin`, offline with `-L`).

No rule may add to the score: a filter nobody here wrote reads the messages the way a
subscriber's provider does. The messages are scored in parallel, one process each.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from newsletter.cli import main
from tests.helpers import ROOT, SAMPLE

SPAMASSASSIN = shutil.which("spamassassin")
RULE_LINE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s", re.M)


def spam_rules(message: Path) -> list[tuple[float, str]]:
    """The rules SpamAssassin's report lists for `message`, with their points."""
    assert SPAMASSASSIN
    report = subprocess.run(
        [SPAMASSASSIN, "-L", "-t"],
        input=message.read_bytes(),
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout.decode("utf-8", "replace")
    details = report.split("Content analysis details:", 1)
    assert len(details) == 2, f"no SpamAssassin report for {message}"
    return [(float(m[1]), m[2]) for m in RULE_LINE.finditer(details[1])]


@pytest.fixture(scope="module")
def messages(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """message.eml of every issue of the sample post and of a post with pictures."""
    if not SPAMASSASSIN:
        if os.environ.get("CI") == "true":
            pytest.fail("no spamassassin: .ci/run must install Debian's spamassassin package")
        pytest.skip("SpamAssassin is not installed (apt-get install spamassassin)")
    out = tmp_path_factory.mktemp("spam")
    for post in (SAMPLE, ROOT / "tests" / "emails" / "pictures.md"):
        assert main(["build", str(post), "-o", str(out)]) == 0
    found = sorted(out.glob("*/*/message.eml"))
    assert len(found) >= 7
    return found


def test_no_spamassassin_rule_scores_any_message(messages: list[Path]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        reports = dict(zip(messages, pool.map(spam_rules, messages), strict=True))
    scored = {
        f"{m.parent.parent.name}/{m.parent.name}": [(p, r) for p, r in rules if p > 0]
        for m, rules in reports.items()
    }
    assert {k: v for k, v in scored.items() if v} == {}
    assert all(any(r == "HTML_MESSAGE" for _, r in rules) for rules in reports.values())
