"""Resuming a wait from the shell: what a wait that ends early prints, and `braze-cdi wait`."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

from braze_cdi import SyncHandle
from braze_cdi.testing import FakeBraze

from .conftest import BRAZE_CDI, Run, command_environment

FAST = ("--poll-interval", "0.05")
RESUME = "Wait for it again: "


def _resume_args(command: str) -> list[str]:
    """The arguments of a printed `braze-cdi wait ...` command line, as the shell splits it."""
    words = shlex.split(command)
    assert words[:2] == ["braze-cdi", "wait"]
    return words[1:]


def test_a_wait_that_runs_out_prints_in_json_what_resumes_it_and_that_resumes_it(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    integration = fake.add_integration(history=2, duration=4.0, rows_synced=321)
    sync_id = integration.integration_id

    ran = braze_cdi("sync", sync_id, "--wait", "--max-wait", "0.5", *FAST, "--json")

    assert ran.code == 3
    [item] = ran.json()
    resume = item["resume"]
    handle = SyncHandle.model_validate(resume["handle"])
    assert handle.integration_id == sync_id and handle.triggered
    assert resume["command"].startswith(f"braze-cdi wait {sync_id} --handle '")
    assert item["triggered"] is True

    resumed = braze_cdi(*_resume_args(resume["command"]), *FAST, "--json")

    assert resumed.code == 0, resumed.stderr
    [record] = resumed.json()
    assert (record["job_status"], record["rows_synced"]) == ("success", 321)
    assert record["triggered"] is True  # the sync the handle's trigger started
    assert integration.triggered_jobs == 1  # waiting again never triggers


def test_a_wait_that_runs_out_prints_the_command_that_resumes_it(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    integration = fake.add_integration(history=1, duration=4.0)

    ran = braze_cdi("sync", integration.integration_id, "--wait", "--max-wait", "0.5", *FAST)

    assert ran.code == 3
    [line] = [line for line in ran.stderr.splitlines() if line.startswith(RESUME)]
    resumed = braze_cdi(*_resume_args(line.removeprefix(RESUME)), *FAST)
    assert resumed.code == 0, resumed.stderr
    assert "success" in resumed.stdout
    assert integration.triggered_jobs == 1


def test_a_resumed_wait_that_runs_out_again_prints_its_command_again(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    integration = fake.add_integration(history=1, duration=30.0)
    ran = braze_cdi("sync", integration.integration_id, "--wait", "--max-wait", "0.3", *FAST)
    [line] = [line for line in ran.stderr.splitlines() if line.startswith(RESUME)]

    again = braze_cdi(*_resume_args(line.removeprefix(RESUME)), "--max-wait", "0.3", *FAST)

    assert again.code == 3
    assert line in again.stderr.splitlines()  # the same handle, the same command


def test_wait_without_a_handle_adopts_the_running_job(braze_cdi: Run, fake: FakeBraze) -> None:
    integration = fake.add_integration(history=3, rows_synced=77)
    fake.start_job(integration.integration_id, duration=1.0)  # Braze's schedule started it

    ran = braze_cdi("wait", integration.integration_id, *FAST, "--json")

    assert ran.code == 0, ran.stderr
    [record] = ran.json()
    assert (record["job_status"], record["rows_synced"], record["triggered"]) == (
        "success",
        77,
        False,
    )
    assert record["duration_seconds"] == 1.0  # the job that was running, not an older one
    assert fake.count("trigger") == 0


def test_wait_without_a_handle_reports_the_newest_job_when_none_runs(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    integration = fake.add_integration(history=3)
    fake.start_job(integration.integration_id, duration=0.0, outcome="error")

    ran = braze_cdi("wait", integration.integration_id, *FAST, "--json")

    assert ran.code == 1
    [item] = ran.json()
    assert (item["job_status"], item["error"]["type"]) == ("error", "SyncFailed")
    assert item["triggered"] is False and item["resume"] is None  # that job has ended
    assert fake.count("trigger") == 0


def test_wait_after_a_time_takes_the_first_job_started_since(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    integration = fake.add_integration(history=3)  # an hour apart, the newest an hour ago
    now = datetime.now(timezone.utc).replace(microsecond=0)
    fake.start_job(integration.integration_id, duration=0.5, rows_synced=5)

    ran = braze_cdi("wait", integration.integration_id, "--after", now.isoformat(), *FAST, "--json")

    assert ran.code == 0, ran.stderr
    [record] = ran.json()
    assert (record["job_status"], record["rows_synced"]) == ("success", 5)
    assert datetime.fromisoformat(record["sync_start_time"]) >= now


def test_wait_reads_the_handle_from_a_file_and_from_standard_input(
    braze_cdi: Run, fake: FakeBraze, url: str, tmp_path: Path
) -> None:
    integration = fake.add_integration(history=1, duration=0.5)
    started = braze_cdi("sync", integration.integration_id, "--json")
    [handle] = started.json()
    saved = tmp_path / "handle.json"
    saved.write_text(json.dumps(handle))

    from_file = braze_cdi("wait", integration.integration_id, "--handle", f"@{saved}", *FAST)
    from_stdin = subprocess.run(
        [str(BRAZE_CDI), "wait", integration.integration_id, "--handle", "-", *FAST, "--json"],
        input=json.dumps(handle),
        capture_output=True,
        text=True,
        env=command_environment(BRAZE_API_KEY=fake.api_key, BRAZE_REST_ENDPOINT=url),
        timeout=60,
        check=False,
    )

    assert from_file.code == 0, from_file.stderr
    assert from_stdin.returncode == 0, from_stdin.stderr
    [record] = json.loads(from_stdin.stdout)
    assert record["job_status"] == "success" and record["triggered"] is True
    assert integration.triggered_jobs == 1


def test_a_handle_that_does_not_fit_exits_2_before_any_request(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    other = SyncHandle(integration_id="another-integration", triggered=True).model_dump_json()

    wrong_id = braze_cdi("wait", "some-integration", "--handle", other)
    not_json = braze_cdi("wait", "some-integration", "--handle", "{not json")
    both = braze_cdi("wait", "some-integration", "--handle", other, "--after", "2026-01-01")
    bad_time = braze_cdi("wait", "some-integration", "--after", "yesterday")

    assert [r.code for r in (wrong_id, not_json, both, bad_time)] == [2, 2, 2, 2]
    assert "is for integration another-integration, not some-integration" in wrong_id.stderr
    assert "not a SyncHandle in JSON" in not_json.stderr
    assert "--handle or --after, not both" in both.stderr
    assert "ISO 8601" in bad_time.stderr
    assert fake.requests == []


def test_ctrl_c_during_a_wait_prints_the_command_that_resumes_it(fake: FakeBraze, url: str) -> None:
    integration = fake.add_integration(history=1, duration=60.0, rows_synced=9)
    command = subprocess.Popen(
        [str(BRAZE_CDI), "sync", integration.integration_id, "--wait", *FAST],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=command_environment(BRAZE_API_KEY=fake.api_key, BRAZE_REST_ENDPOINT=url),
    )
    try:
        deadline = time.monotonic() + 30
        while fake.count("status") < 2:  # triggered, and waiting for the job
            assert time.monotonic() < deadline, "the sync never got going"
            time.sleep(0.02)
        command.send_signal(signal.SIGINT)
        stdout, stderr = command.communicate(timeout=10)
    finally:
        command.kill()

    assert command.returncode == 130
    assert "Interrupted. Braze has no cancel call: a sync already triggered goes on." in stderr
    assert "Traceback" not in stdout + stderr and fake.api_key not in stdout + stderr
    [line] = [line for line in stderr.splitlines() if line.startswith(RESUME)]

    [job] = [job for job in integration.jobs if job.triggered]
    job.duration = 0.0  # the sync ends at Braze meanwhile
    resumed = subprocess.run(
        [str(BRAZE_CDI), *_resume_args(line.removeprefix(RESUME)), *FAST, "--json"],
        capture_output=True,
        text=True,
        env=command_environment(BRAZE_API_KEY=fake.api_key, BRAZE_REST_ENDPOINT=url),
        timeout=60,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    [record] = json.loads(resumed.stdout)
    assert (record["job_status"], record["rows_synced"], record["triggered"]) == (
        "success",
        9,
        True,
    )
    assert integration.triggered_jobs == 1
