"""`sync --run-key`: a shell's retry of one run adopts the sync its first attempt started."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from braze_cdi.testing import FakeBraze

from .conftest import BRAZE_CDI, Run, command_environment

FAST = ("--poll-interval", "0.05")


def test_a_retry_after_the_process_died_adopts_the_sync(
    braze_cdi: Run, fake: FakeBraze, url: str, tmp_path: Path
) -> None:
    integration = fake.add_integration(history=1, duration=1.5, rows_synced=1200)
    state = {"BRAZE_CDI_STATE_DIR": str(tmp_path)}
    environment = command_environment(BRAZE_API_KEY=fake.api_key, BRAZE_REST_ENDPOINT=url, **state)
    args = ["sync", integration.integration_id, "--wait", *FAST, "--run-key", "nightly-42"]

    # The first attempt is killed as soon as Braze has its trigger.
    first = subprocess.Popen(
        [str(BRAZE_CDI), *args],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while fake.count("trigger") == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=60)
    assert integration.triggered_jobs == 1

    retry = braze_cdi(*args, "--json", env=state)

    assert retry.code == 0
    [record] = retry.json()
    assert record["triggered"] is True and record["rows_synced"] == 1200
    assert integration.triggered_jobs == 1  # adopted, not triggered again
    assert fake.count("trigger") == 1


def test_the_same_key_again_reports_the_same_sync_and_a_new_key_syncs_anew(
    braze_cdi: Run, fake: FakeBraze, tmp_path: Path
) -> None:
    integration = fake.add_integration(history=1, duration=0.1)
    state = {"BRAZE_CDI_STATE_DIR": str(tmp_path)}
    args = ["sync", integration.integration_id, "--wait", *FAST, "--json"]

    first = braze_cdi(*args, "--run-key", "nightly-42", env=state)
    again = braze_cdi(*args, "--run-key", "nightly-42", env=state)
    tomorrow = braze_cdi(*args, "--run-key", "nightly-43", env=state)

    assert (first.code, again.code, tomorrow.code) == (0, 0, 0)
    assert again.json()[0]["sync_start_time"] == first.json()[0]["sync_start_time"]
    assert tomorrow.json()[0]["sync_start_time"] != first.json()[0]["sync_start_time"]
    assert integration.triggered_jobs == 2
    [run_directory, _] = sorted((tmp_path / "runs").iterdir())
    [kept] = run_directory.iterdir()
    assert json.loads(kept.read_text())["integration_id"] == integration.integration_id
