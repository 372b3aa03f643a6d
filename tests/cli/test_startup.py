"""``--help`` starts without the core: the commands import it when they run. What the process
imported is checked, never how long it took."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: What ``--help`` must leave out: the clients and everything they bring. (Not pydantic: typer
#: itself builds a pydantic TypeAdapter for each parameter of the command it parses.)
NOT_FOR_HELP = [
    "httpx",
    "httpcore",
    "asyncio",
    "braze_cdi._client",
    "braze_cdi._doctor",
    "braze_cdi._models",
    "braze_cdi._errors",
    "braze_cdi.testing",
    "braze_cdi.cli.output",
    "braze_cdi.cli.syncing",
    "rich.logging",
]

# The console script's entry point (pyproject's [project.scripts]) in this interpreter, and
# what it imported, printed on standard error after the help.
RUN = """\
import json, sys
sys.argv = ["braze-cdi", *{args!r}]
from braze_cdi.cli import main
try:
    main()
except SystemExit as done:
    code = done.code
print(json.dumps([code, [m for m in {modules!r} if m in sys.modules]]), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args",
    [["--help"], ["sync", "--help"], ["doctor", "--help"], ["fake", "--help"], ["--version"]],
)
def test_help_imports_none_of_the_core(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", RUN.format(args=args, modules=NOT_FOR_HELP)],
        capture_output=True,
        text=True,
        check=False,
    )
    code, imported = json.loads(done.stderr.splitlines()[-1])

    assert code in (0, None), done.stderr
    assert "braze-cdi" in done.stdout
    assert imported == []
