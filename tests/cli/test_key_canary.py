"""The canary through the installed command: a server echoing the key into every header and
field, in every output mode (text, --json, --debug). No 8-character piece of the key shows."""

from __future__ import annotations

import json

import pytest

from braze_cdi.testing import FakeBraze
from tests.core.test_key_canary import CUT_POINT, ECHO_HEADERS, INTEGRATION, JOB, KEY, leaks

from .conftest import Run

MODES = [(), ("--json",), ("--debug",), ("--json", "--debug")]


@pytest.fixture
def fake() -> FakeBraze:
    return FakeBraze(api_key=KEY)


def _page(item: dict[str, object]) -> dict[str, object]:
    return {"results": [item], "message": f"{CUT_POINT}{KEY}"}


@pytest.mark.parametrize("mode", MODES, ids=" ".join)
@pytest.mark.parametrize("command", ["integrations", "jobs", "sync", "error"])
def test_no_output_mode_shows_an_echoed_key(
    braze_cdi: Run, fake: FakeBraze, command: str, mode: tuple[str, ...]
) -> None:
    users = fake.add_integration(name="users", duration=1e6)
    if command == "integrations":
        fake.inject("list", status=200, body=_page(INTEGRATION), headers=ECHO_HEADERS)
        args = ["integrations"]
    elif command == "jobs":
        fake.inject("status", status=200, body=_page(JOB), headers=ECHO_HEADERS, times=9)
        args = ["jobs", users.integration_id]
    elif command == "sync":
        fake.inject("status", status=200, body=_page(JOB), headers=ECHO_HEADERS, times=99)
        args = ["sync", users.integration_id, "--wait", "--max-wait", "2", "--poll-interval", "0.2"]
    else:
        body = {"message": f"{CUT_POINT}{KEY}", "errors": [KEY.upper()]}
        fake.inject("trigger", status=500, body=body, headers=ECHO_HEADERS)
        args = ["sync", users.integration_id]

    ran = braze_cdi(*args, *mode)

    assert ran.stdout or ran.stderr
    assert leaks(ran.stdout + ran.stderr) == []
    if "--json" in mode:
        json.loads(ran.stdout)  # the output's own structure is untouched


def test_a_key_too_short_to_redact_is_refused_and_json_stays_json(braze_cdi: Run) -> None:
    ran = braze_cdi("integrations", "--json", env={"BRAZE_API_KEY": "fifteen-chars-k"})

    assert ran.code == 2
    error = json.loads(ran.stdout)["error"]
    assert error["type"] == "BrazeConfigError"
    assert "shorter than 16 characters" in error["message"]
