"""The documentation's examples run as tests, through Sybil's pytest integration.

Collected, in this order:

- README.md and every page of ``docs/``: each Python block runs, a page's blocks in order and in
  one namespace (``>>>`` blocks are doctests); ``braze-cdi`` command lines are parsed by the real
  command and YAML blocks are loaded by what reads them (``checks.py``). A block that is not
  meant to run says so: ``<!-- skip: next -->`` before it, or a fence that is not python.
- Every docstring example (``>>>``) of ``braze_cdi``, ``prefect_braze_cdi`` and
  ``dagster_braze_cdi``, a module's examples in one namespace.

While a document runs, ``BRAZE_API_KEY`` and ``BRAZE_REST_ENDPOINT`` point at a FakeBraze that
holds the integrations the pages use (``workspace.py``), and the environment is restored after.
A document whose examples import Prefect runs against one Prefect API (a temporary server),
started once for all of them.

pytest walks only ``tests/`` (``testpaths``), so the documents are collected from here: when
pytest reaches this file, it hands them to Sybil. ``uv run pytest tests/docs`` runs them all;
``-k prefect.md`` picks a page.
"""

from __future__ import annotations

import doctest
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sybil import Sybil
from sybil.integration.pytest import SybilFile
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser
from sybil.parsers.rest import DocTestParser
from sybil.typing import Parser

from .checks import check_command_lines, check_yaml
from .workspace import close_workspace, open_workspace

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
MODULES = sorted(
    [
        *(ROOT / "core" / "braze_cdi").rglob("*.py"),
        *(ROOT / "prefect_braze_cdi").glob("*.py"),
        *(ROOT / "dagster_braze_cdi").glob("*.py"),
    ]
)
OPTIONS = doctest.ELLIPSIS

_PAGE_PARSERS: list[Parser] = [
    PythonCodeBlockParser(doctest_optionflags=OPTIONS),
    SkipParser(),
    CodeBlockParser("console", check_command_lines),
    CodeBlockParser("bash", check_command_lines),
    CodeBlockParser("yaml", check_yaml),
]
_DOCSTRING_PARSERS: list[Parser] = [DocTestParser(optionflags=OPTIONS)]
_IMPORTS_PREFECT = re.compile(r"^\s*(?:>>> )?(?:from|import) prefect", re.MULTILINE)


def _sybil(name: str, parsers: Sequence[Parser], prefect: bool) -> Sybil:
    return Sybil(
        parsers,
        setup=open_workspace,
        teardown=close_workspace,
        fixtures=["prefect_api"] if prefect else [],
        name=name,
    )


SYBILS = {
    (kind, prefect): _sybil(kind, parsers, prefect)
    for kind, parsers in (("page", _PAGE_PARSERS), ("docstring", _DOCSTRING_PARSERS))
    for prefect in (False, True)
}


class Documents(pytest.File):
    """The documents, each a ``SybilFile`` as Sybil's own ``pytest_collect_file`` makes it."""

    def collect(self) -> Iterator[SybilFile]:
        for kind, paths in (("page", PAGES), ("docstring", MODULES)):
            for path in paths:
                prefect = bool(_IMPORTS_PREFECT.search(path.read_text()))
                yield SybilFile.from_parent(
                    self,
                    path=path,
                    name=str(path.relative_to(ROOT)),
                    sybils=[SYBILS[kind, prefect]],
                )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path == Path(__file__):
        return Documents.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item.parent, SybilFile):
            # Prefect's Slack block imports apprise, which imports the deprecated imghdr.
            item.add_marker(pytest.mark.filterwarnings(r"ignore:'imghdr':DeprecationWarning"))
