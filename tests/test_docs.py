"""Every snippet of the README and of docs/ runs as written: the Python blocks of a page in order,
in one namespace, and the page's ``bcnmf`` commands, in a fresh folder per page."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted(p for p in (ROOT / "docs").rglob("*.md")
                                     if not {"_build", "generated"} & set(p.relative_to(ROOT / "docs").parts))
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
#: Commands a page shows that this test does not run, and why: installing and the test suite
#: itself cannot run inside the suite; the demo is run by tests/test_cli.py; sphinx-build by .ci/run.
NOT_RUN_HERE = ("pip ", "pytest", "bcnmf demo", "sphinx-build")


def snippets(page: Path) -> list[tuple[str, str]]:
    """``(language, code)`` of each fenced block of ``page`` in Python or bash, in order."""
    return [(language, code) for language, code in FENCE.findall(page.read_text())
            if language in ("python", "bash")]


def commands(code: str) -> list[str]:
    """The command lines of a bash block that this test runs (comments removed)."""
    lines = [line.split(" #")[0].strip() for line in code.splitlines()]
    return [line for line in lines if line and not line.startswith(NOT_RUN_HERE)]


def bcnmf_command() -> list[str]:
    installed = shutil.which("bcnmf")
    return [installed] if installed else [sys.executable, "-m", "bcnmf.cli"]


def test_every_page_is_found():
    names = {page.name for page in PAGES}
    assert {"README.md", "getting-started.md", "single-cell.md", "large-data.md"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_the_snippets_of_a_page_run_as_written(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__snippet__"}
    for number, (language, code) in enumerate(snippets(page)):
        if language == "python":
            exec(compile(code, f"{page.name}, block {number}", "exec"), namespace)
            continue
        for line in commands(code):
            words = shlex.split(line)
            assert words[0] == "bcnmf", f"{page.name}: a shell command this test does not know how to run: {line}"
            result = subprocess.run(bcnmf_command() + words[1:], capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, f"{page.name}: {line}\n{result.stderr}"
