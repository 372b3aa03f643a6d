"""What the document runner relies on: every code block is one it runs, checks or knows to be
output, and the README opens with the two commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import PAGES, ROOT

# python: run; console, bash: braze-cdi command lines parsed; yaml: loaded by what reads it;
# text, json: output shown to the reader; mermaid: a diagram the docs site draws.
KNOWN = {"python", "console", "bash", "yaml", "text", "json", "mermaid"}
FENCE = re.compile(r"^[ \t]*(?:```|~~~)[ \t]*(\S*)[^\n]*\n", re.MULTILINE)


def _openings(text: str) -> list[str]:
    """The info string of every opening fence (fences alternate: open, close)."""
    return [match.group(1) for match in FENCE.finditer(text)][::2]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_code_block_is_one_the_runner_knows(page: Path) -> None:
    unknown = [info or "(none)" for info in _openings(page.read_text()) if info not in KNOWN]

    assert unknown == [], (
        f"Fences the runner would silently skip: {unknown}. Use one of {sorted(KNOWN)}."
    )


def test_the_readme_opens_with_demo_and_tests() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]

    assert "uv run braze-cdi demo" in first_block
    assert "uv run pytest" in first_block
