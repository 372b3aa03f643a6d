"""The installed ``braze-cdi`` script, run in a subprocess against a FakeBraze that this test
process serves on loopback HTTP.

Every run checks what must hold for any command: the API key never appears in the output, and
there is no traceback unless ``--debug`` asked for one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from braze_cdi.testing import FakeBraze

BRAZE_CDI = Path(sys.executable).with_name("braze-cdi")


@dataclass(frozen=True)
class Ran:
    """What one run of the command left behind."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("Error:")]


Run = Callable[..., Ran]


def command_environment(**variables: str) -> dict[str, str]:
    """This process's environment without any BRAZE_* variable, plus ``variables``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BRAZE_")}
    # Wide, so no table folds an id; COLUMNS also keeps rich from guessing.
    environment["COLUMNS"] = "200"
    environment.update(variables)
    return environment


@pytest.fixture
def braze_cdi(fake: FakeBraze, url: str) -> Run:
    """``braze_cdi(*args, env={...}, configured=True)`` runs the command and checks its output.

    ``fake`` and ``url`` (from ``tests/conftest.py``) are the FakeBraze and where it serves.

    ``configured`` sets BRAZE_API_KEY and BRAZE_REST_ENDPOINT to the fake's; ``env`` adds or
    overrides variables.
    """

    def run(
        *args: str, env: dict[str, str] | None = None, configured: bool = True, timeout: float = 60
    ) -> Ran:
        variables = (
            {"BRAZE_API_KEY": fake.api_key, "BRAZE_REST_ENDPOINT": url} if configured else {}
        )
        variables.update(env or {})
        environment = command_environment(**variables)
        done = subprocess.run(
            [str(BRAZE_CDI), *args],
            capture_output=True,
            text=True,
            env=environment,
            timeout=timeout,
            check=False,
        )
        ran = Ran(done.returncode, done.stdout, done.stderr)
        keys = {fake.api_key, environment.get("BRAZE_API_KEY")}
        if "--api-key" in args:
            keys.add(args[args.index("--api-key") + 1])
        for key in keys - {None}:
            assert key not in ran.stdout + ran.stderr
        if "--debug" not in args:
            assert "Traceback" not in ran.stdout + ran.stderr
        return ran

    return run
