"""Importing the adapter without Dagster says which extra to install."""

import subprocess
import sys


def test_import_without_dagster_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['dagster'] = None  # as if Dagster were not installed\n"
        "try:\n"
        "    import dagster_braze_cdi\n"
        "except ImportError as error:\n"
        "    print(error)\n"
        "else:\n"
        "    raise SystemExit('imported without Dagster')\n"
    )

    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert "braze-cdi[dagster]" in completed.stdout
