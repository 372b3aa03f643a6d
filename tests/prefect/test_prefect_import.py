"""Importing the adapter without Prefect names the extra to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_import_without_prefect_names_the_extra() -> None:
    script = textwrap.dedent(
        """
        import sys

        sys.modules["prefect"] = None  # as if Prefect were not installed
        try:
            import prefect_braze_cdi
        except ImportError as error:
            print(error)
        else:
            print("no error")
        """
    )

    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )

    assert "braze-cdi[prefect]" in run.stdout
    assert "no error" not in run.stdout
