"""`import braze_cdi` stays framework-free."""

from __future__ import annotations

import subprocess
import sys


def test_import_braze_cdi_does_not_import_prefect_dagster_or_the_cli_libraries() -> None:
    code = (
        "import sys, braze_cdi, braze_cdi.testing\n"
        "roots = {name.split('.')[0] for name in sys.modules}\n"
        "print(sorted(roots & {'prefect', 'dagster', 'typer', 'rich', 'click'}))"
    )
    # httpx imports rich and click for its own command line when they are installed; block that
    # path the way a minimal install would look, then check nothing else pulls them in.
    out = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['httpx._main'] = None\n" + code],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
