"""`import braze_cdi` stays framework-free, and light."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_braze_cdi_imports_no_framework_cli_library_or_opentelemetry() -> None:
    # They are all installed here: the command line's typer and rich, the extras' frameworks.
    imported = _run(
        "import sys, braze_cdi, braze_cdi.events, braze_cdi.testing\n"
        "roots = {name.split('.')[0] for name in sys.modules}\n"
        "print(sorted(roots & {'prefect', 'dagster', 'typer', 'rich', 'click', 'pygments',"
        " 'opentelemetry'}))"
    )

    assert imported == "[]"


def test_httpx_keeps_its_command_line_for_whoever_imports_it() -> None:
    # braze_cdi imports httpx without httpx._main (it would bring rich); the module itself is
    # not left blocked.
    assert _run("import braze_cdi, httpx._main; print(callable(httpx._main.main))") == "True"
