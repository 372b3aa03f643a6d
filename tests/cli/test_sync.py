"""`sync`: trigger, or trigger and wait, for one integration or several at once."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from braze_cdi import SyncHandle
from braze_cdi.testing import FakeBraze

from .conftest import BRAZE_CDI, Run, command_environment

FAST = ("--poll-interval", "0.05")
RECORD_KEYS = {
    "integration_id",
    "job_status",
    "rows_synced",
    "rows_failed_with_errors",
    "sync_start_time",
    "sync_finish_time",
    "last_timestamp_synced",
    "duration_seconds",
    "triggered",
    "waited_seconds",
    "status_calls",
    "dashboard_url",  # null here: the fake serves on a custom URL
}


def test_sync_without_wait_triggers_once_and_prints_the_handle(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    integration = fake.add_integration(history=2, duration=5.0)

    ran = braze_cdi("sync", integration.integration_id, "--json")

    assert ran.code == 0
    [handle] = [SyncHandle.model_validate(item) for item in ran.json()]
    assert handle.triggered
    assert handle.previous_job is not None  # the newest job before the trigger
    assert integration.triggered_jobs == 1


def test_sync_wait_prints_the_result_record(braze_cdi: Run, fake: FakeBraze) -> None:
    integration = fake.add_integration(duration=0.2, rows_synced=1234)

    ran = braze_cdi("sync", integration.integration_id, "--wait", *FAST, "--json")

    assert ran.code == 0
    [record] = ran.json()
    assert set(record) == RECORD_KEYS
    assert record["job_status"] == "success"
    assert record["rows_synced"] == 1234
    assert record["triggered"] is True


def test_a_failed_sync_exits_1_with_one_error_line(braze_cdi: Run, fake: FakeBraze) -> None:
    integration = fake.add_integration(duration=0.2, outcome="error")

    ran = braze_cdi("sync", integration.integration_id, "--wait", *FAST)

    assert ran.code == 1
    [line] = ran.error_lines
    assert f"The sync of integration {integration.integration_id} ended error" in line
    assert "error" in ran.stdout  # the table shows the job's status


def test_a_wait_that_runs_out_exits_3(braze_cdi: Run, fake: FakeBraze) -> None:
    integration = fake.add_integration(duration=60.0)

    ran = braze_cdi(
        "sync", integration.integration_id, "--wait", "--max-wait", "0.5", *FAST, "--json"
    )

    assert ran.code == 3
    [item] = ran.json()
    assert item["error"]["type"] == "SyncTimeout"
    assert item["job_status"] == "running"  # the last job seen


def test_several_ids_sync_concurrently_and_the_failure_sets_the_exit_code(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    succeeding = fake.add_integration(duration=0.5)
    failing = fake.add_integration(duration=0.5, outcome="error")

    ran = braze_cdi(
        "sync", succeeding.integration_id, failing.integration_id, "--wait", *FAST, "--json"
    )

    assert ran.code == 1
    first, second = ran.json()
    assert (first["integration_id"], first["job_status"]) == (succeeding.integration_id, "success")
    assert (second["integration_id"], second["job_status"]) == (failing.integration_id, "error")
    assert second["error"]["type"] == "SyncFailed"
    # Concurrently: each job started before the other one ended.
    [job_a], [job_b] = succeeding.jobs, failing.jobs
    assert abs(job_a.start - job_b.start) < 0.5


def test_if_running_attach_adopts_the_running_job_without_triggering(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    integration = fake.add_integration(history=1)
    fake.start_job(integration.integration_id, duration=30.0)

    ran = braze_cdi("sync", integration.integration_id, "--if-running", "attach", "--json")

    assert ran.code == 0
    [handle] = [SyncHandle.model_validate(item) for item in ran.json()]
    assert handle.triggered is False
    assert fake.count("trigger") == 0
    assert "attached" in ran.stderr  # its progress line


def test_if_running_fail_exits_1_without_triggering(braze_cdi: Run, fake: FakeBraze) -> None:
    integration = fake.add_integration()
    fake.start_job(integration.integration_id, duration=30.0)

    ran = braze_cdi("sync", integration.integration_id, "--if-running", "fail")

    assert ran.code == 1
    [line] = ran.error_lines
    assert "already syncing" in line
    assert "Use --if-running wait or --if-running attach to not fail here." in line
    assert "if_running" not in ran.stderr + ran.stdout  # the shell's spelling only
    assert "already running" in ran.stdout
    assert fake.count("trigger") == 0


def test_fail_on_partial_turns_a_partial_sync_into_exit_1(braze_cdi: Run, fake: FakeBraze) -> None:
    integration = fake.add_integration(duration=0.2, outcome="partial", rows_failed=3)

    ran = braze_cdi(
        "sync", integration.integration_id, "--wait", "--fail-on-partial", *FAST, "--json"
    )

    assert ran.code == 1
    [item] = ran.json()
    assert item["job_status"] == "partial"
    assert item["job"]["rows_failed_with_errors"] == 3


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_board_that_cannot_write_never_breaks_the_sync(fake: FakeBraze, url: str) -> None:
    # Standard error on /dev/full: every progress line the board prints fails (ENOSPC).
    integration = fake.add_integration(duration=0.2, rows_synced=1200)
    environment = command_environment(BRAZE_API_KEY=fake.api_key, BRAZE_REST_ENDPOINT=url)

    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [str(BRAZE_CDI), "sync", integration.integration_id, "--wait", *FAST, "--json"],
            stdout=subprocess.PIPE,
            stderr=full,
            text=True,
            env=environment,
            timeout=60,
            check=False,
        )

    assert done.returncode == 0
    [record] = json.loads(done.stdout)
    assert (record["job_status"], record["rows_synced"]) == ("success", 1200)
    assert integration.triggered_jobs == 1


def test_the_old_timeout_option_still_works_with_a_deprecation_notice(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    integration = fake.add_integration(duration=60.0)

    ran = braze_cdi("sync", integration.integration_id, "--wait", "--timeout", "0.5", *FAST)

    assert ran.code == 3  # bounded by the old option, as --max-wait would be
    assert ran.stderr.splitlines()[0] == (
        "braze-cdi: --timeout is deprecated: use --max-wait instead "
        "(--timeout goes in braze-cdi 0.2.0)."
    )


def test_the_old_timeout_option_with_max_wait_exits_2_before_any_request(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    integration = fake.add_integration()

    ran = braze_cdi(
        "sync", integration.integration_id, "--wait", "--timeout", "5", "--max-wait", "5"
    )

    assert ran.code == 2
    [line] = ran.error_lines
    assert "--timeout and --max-wait were both given" in line
    assert fake.count() == 0


def test_the_old_timeout_option_stays_out_of_the_help(braze_cdi: Run) -> None:
    ran = braze_cdi("sync", "--help", configured=False)

    assert ran.code == 0
    assert "--max-wait" in ran.stdout
    assert "--timeout" not in ran.stdout


def test_sync_without_wait_does_not_wait_for_a_job_already_running(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    integration = fake.add_integration(history=1)
    fake.start_job(integration.integration_id, duration=60.0)

    began = time.monotonic()
    ran = braze_cdi("sync", integration.integration_id, "--json")

    assert time.monotonic() - began < 30  # not the minute the running job takes
    assert ran.code == 1
    [item] = ran.json()
    assert item["error"]["type"] == "SyncAlreadyRunning"
    assert item["triggered"] is None and item["resume"] is None
    [line] = ran.error_lines
    assert "Not triggered" in line
    assert "Add --wait to wait for it to end and trigger then" in line
    assert "--if-running attach" in line
    assert fake.count("trigger") == 0


def test_sync_without_wait_waits_for_a_running_job_only_when_told_to(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    integration = fake.add_integration(history=1)
    fake.start_job(integration.integration_id, duration=0.5)

    ran = braze_cdi("sync", integration.integration_id, "--if-running", "wait", *FAST, "--json")

    assert ran.code == 0, ran.stderr
    [handle] = [SyncHandle.model_validate(item) for item in ran.json()]
    assert handle.triggered  # after the running job ended
    assert integration.triggered_jobs == 1


def test_a_failed_sync_keeps_triggered_and_waited(braze_cdi: Run, fake: FakeBraze) -> None:
    integration = fake.add_integration(name="events", duration=0.3, outcome="error")

    as_json = braze_cdi("sync", integration.integration_id, "--wait", *FAST, "--json")
    as_table = braze_cdi("sync", integration.integration_id, "--wait", *FAST)

    assert as_json.code == as_table.code == 1
    [item] = as_json.json()
    assert item["triggered"] is True
    assert item["waited_seconds"] >= 0.3
    assert item["job"]["job_status"] == "error"
    [row] = [line for line in as_table.stdout.splitlines() if integration.integration_id in line]
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[0] == "events"
    assert cells[2] == "error"
    assert re.fullmatch(r"\d+\.\ds", cells[6])  # waited
    assert cells[7] == "yes"  # triggered


def test_a_short_max_wait_ends_as_a_timeout(braze_cdi: Run, fake: FakeBraze) -> None:
    integration = fake.add_integration(duration=60.0)

    for option in ("--max-wait", "--timeout"):  # the deprecated name as well
        ran = braze_cdi(
            "sync", integration.integration_id, "--wait", option, "1", "--poll-interval", "0.5"
        )

        assert ran.code == 3, option
        [line] = ran.error_lines
        assert "ran out: the job started" in line and "was still running" in line, line
        assert "budget" not in ran.stderr and "poll failed" not in ran.stderr, ran.stderr
        assert "timed out" in ran.stdout


def test_progress_and_tables_show_the_integration_names(braze_cdi: Run, fake: FakeBraze) -> None:
    users = fake.add_integration(name="users", history=1, duration=0.2)
    purchases = fake.add_integration(name="purchases", history=1, duration=0.2)

    waited = braze_cdi("sync", users.integration_id, purchases.integration_id, "--wait", *FAST)
    triggered = braze_cdi("sync", users.integration_id, "--if-running", "attach")

    assert waited.code == 0, waited.stderr
    for name, integration in (("users", users), ("purchases", purchases)):
        [row] = [line for line in waited.stdout.splitlines() if integration.integration_id in line]
        assert row.strip("│ ").startswith(f"{name} "), row
        assert f"{name}: success" in waited.stderr  # the end of its progress line
    assert waited.stdout.splitlines()[1].strip("┃ ").startswith("name")
    assert triggered.code == 0, triggered.stderr
    [row] = [line for line in triggered.stdout.splitlines() if users.integration_id in line]
    assert row.strip("│ ").startswith("users ")


def test_a_key_that_cannot_list_integrations_syncs_without_names(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    integration = fake.add_integration(name="users", duration=0.2)
    key = "sync-and-status-only-key-0123"
    fake.add_key(key, {"cdi.integration_sync", "cdi.integration_job_status"})

    ran = braze_cdi("sync", integration.integration_id, "--wait", *FAST, env={"BRAZE_API_KEY": key})

    assert ran.code == 0, ran.stderr
    assert ran.error_lines == []
    assert "users" not in ran.stdout + ran.stderr
    assert fake.count("list", status=403) == 1  # one try, never retried


def test_debug_shows_the_public_path_of_an_error(braze_cdi: Run, fake: FakeBraze) -> None:
    integration = fake.add_integration(duration=0.2, outcome="error")

    ran = braze_cdi("sync", integration.integration_id, "--wait", *FAST, "--debug")

    assert ran.code == 1
    assert "Traceback" in ran.stderr
    assert "braze_cdi.SyncFailed: The sync of integration" in ran.stderr
    assert "braze_cdi._errors" not in ran.stderr
