"""The wheel carries everything the program reads at run time: the built-in templates above all,
which live only in the repository's top-level templates/ folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers import ROOT


def test_the_wheel_holds_every_module_and_the_templates(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("newsletter-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {p.name for p in (ROOT / "templates").glob("*.j2")}
    assert templates >= {"email.mjml.j2", "email.txt.j2", "blocks.html.j2"}
    assert {f"newsletter/templates/{t}" for t in templates} <= names
    package = ROOT / "newsletter"
    modules = {f"newsletter/{p.relative_to(package).as_posix()}" for p in package.rglob("*.py")}
    assert modules - names == set(), "a package is missing from [tool.setuptools] packages"
    assert "newsletter/py.typed" in names
    assert any(n.startswith("newsletter/web/") for n in names)
