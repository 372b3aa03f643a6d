"""What a sync leaves in Prefect: run log lines, a table artifact, events; never the key."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest
from prefect import flow
from prefect.client.schemas.objects import Artifact

import prefect_braze_cdi._events as prefect_events
from braze_cdi import RetryPolicy, SyncResult
from braze_cdi.testing import FakeBraze, FakeIntegration
from prefect_braze_cdi import (
    BrazeCDICredentials,
    atrigger_sync_and_wait_for_completion,
    trigger_sync,
    trigger_sync_and_wait_for_completion,
    wait_for_sync,
)
from prefect_braze_cdi._artifacts import readable

if TYPE_CHECKING:
    from tests.conftest import RunningJob
    from tests.prefect.conftest import PrefectRecords

POLL = 0.05
TRIGGERED, ALREADY_RUNNING, SUCCEEDED, FAILED = (
    "braze.cdi.sync.triggered",
    "braze.cdi.sync.already_running",
    "braze.cdi.sync.succeeded",
    "braze.cdi.sync.failed",
)


def table_of(artifact: Artifact) -> list[dict[str, object]]:
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data  # type: ignore[return-value]


# --- the artifact -----------------------------------------------------------------------------


def test_artifact_records_the_result_under_a_key_per_integration(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_records: PrefectRecords,
) -> None:
    state = trigger_sync_and_wait_for_completion(
        credentials, integration.integration_id, poll_interval_seconds=POLL, return_state=True
    )
    result: SyncResult = state.result()

    [artifact] = prefect_records.artifacts(state)
    assert artifact.type == "table"
    assert artifact.key == f"braze-cdi-sync-{integration.integration_id}"
    [row] = table_of(artifact)
    assert row == json.loads(json.dumps(readable(result.record()))) | {
        "dashboard": None,  # the fake's loopback endpoint has no dashboard
        "error": None,
    }
    assert (row["job_status"], row["rows_synced"], row["rows_failed_with_errors"]) == (
        "success",
        1234,
        0,
    )
    assert row["duration_seconds"] == pytest.approx(0.2, abs=0.1)
    assert "success" in (artifact.description or "")


def test_async_twin_records_the_same_artifact(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_records: PrefectRecords,
) -> None:
    state = asyncio.run(
        atrigger_sync_and_wait_for_completion(
            credentials,
            integration.integration_id,
            poll_interval_seconds=POLL,
            artifact_key="users-sync",
            return_state=True,
        )
    )

    [artifact] = prefect_records.artifacts(state)
    assert artifact.key == "users-sync"
    [row] = table_of(artifact)
    assert row["sync_start_time"] == readable(state.result().record())["sync_start_time"]


def test_artifact_can_be_turned_off(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_records: PrefectRecords,
) -> None:
    state = trigger_sync_and_wait_for_completion(
        credentials,
        integration.integration_id,
        poll_interval_seconds=POLL,
        create_artifact=False,
        return_state=True,
    )

    assert state.is_completed()
    assert prefect_records.artifacts(state) == []


def test_invalid_artifact_key_is_refused_before_any_request(
    credentials: BrazeCDICredentials, integration: FakeIntegration, fake: FakeBraze
) -> None:
    state = trigger_sync_and_wait_for_completion(
        credentials, integration.integration_id, artifact_key="Users Sync", return_state=True
    )

    assert state.is_failed()
    assert "artifact_key must only contain lowercase letters" in (state.message or "")
    assert fake.count() == 0


# --- events -----------------------------------------------------------------------------------


def test_events_announce_the_trigger_and_the_success(
    credentials: BrazeCDICredentials, integration: FakeIntegration, prefect_records: PrefectRecords
) -> None:
    state = trigger_sync_and_wait_for_completion(
        credentials, integration.integration_id, poll_interval_seconds=POLL, return_state=True
    )

    events = prefect_records.events(state, SUCCEEDED)

    assert [e.event for e in events] == [TRIGGERED, SUCCEEDED]
    resource_id = f"braze.cdi.integration.{integration.integration_id}"
    assert {e.resource.id for e in events} == {resource_id}
    assert events[0].payload == {
        "integration_id": integration.integration_id,
        "triggered": True,
        "confirmed_by": "answer",
    }
    assert events[1].payload == json.loads(json.dumps(state.result().record()))
    related = {r.id for r in events[1].related}
    assert f"prefect.flow-run.{state.state_details.flow_run_id}" in related
    assert any(r.startswith("prefect.task-run.") for r in related)


def test_failed_job_emits_a_failed_event_with_braze_status(
    credentials: BrazeCDICredentials, fake: FakeBraze, prefect_records: PrefectRecords
) -> None:
    failing = fake.add_integration(duration=0.2, outcome="error", rows_failed=7)

    state = trigger_sync_and_wait_for_completion(
        credentials, failing.integration_id, poll_interval_seconds=POLL, return_state=True
    )

    events = prefect_records.events(state, FAILED)
    assert [e.event for e in events] == [TRIGGERED, FAILED]
    payload = events[1].payload
    assert (payload["error"], payload["job_status"], payload["retryable"]) == (
        "SyncFailed",
        "error",
        False,
    )
    assert payload["job"]["rows_failed_with_errors"] == 7
    assert "ended error" in payload["message"]


def test_failed_event_waits_until_prefect_gives_up(
    fake: FakeBraze, url: str, prefect_records: PrefectRecords
) -> None:
    one_attempt = BrazeCDICredentials(
        api_key=fake.api_key, rest_endpoint=url, retry=RetryPolicy(max_attempts=1)
    )
    recovers = fake.add_integration(duration=0.2)
    never = fake.add_integration(duration=0.2)
    fake.inject("status", status=503, integration_id=recovers.integration_id)
    fake.inject("status", status=503, integration_id=never.integration_id, times=2)
    retried_once = trigger_sync.with_options(retries=1, retry_delay_seconds=0)

    @flow
    def recovering() -> None:
        handle = retried_once(one_attempt, recovers.integration_id)
        wait_for_sync(one_attempt, handle, poll_interval_seconds=POLL)

    @flow
    def failing() -> None:
        retried_once(one_attempt, never.integration_id)

    recovered = prefect_records.events(recovering(return_state=True), SUCCEEDED)
    failed = prefect_records.events(failing(return_state=True), FAILED)

    assert [e.event for e in recovered] == [TRIGGERED, SUCCEEDED]
    assert [e.event for e in failed] == [FAILED]
    assert failed[0].payload["error"] == "BrazeServerError"


def test_adopting_a_running_job_is_announced_as_such_not_as_a_trigger(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    running_job: RunningJob,
    prefect_records: PrefectRecords,
) -> None:
    running_job(integration.integration_id)

    state = trigger_sync_and_wait_for_completion(
        credentials,
        integration.integration_id,
        poll_interval_seconds=POLL,
        if_running="attach",
        return_state=True,
    )

    assert state.result().triggered is False
    assert integration.triggered_jobs == 0
    events = prefect_records.events(state, SUCCEEDED)
    assert [e.event for e in events] == [ALREADY_RUNNING, SUCCEEDED]
    assert events[0].payload["if_running"] == "attach"
    assert events[0].payload["job"]["job_status"] == "running"
    assert events[1].payload["triggered"] is False


# --- the run log ------------------------------------------------------------------------------


def test_core_progress_reaches_the_run_log_once_per_state_change(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_records: PrefectRecords,
) -> None:
    state = trigger_sync_and_wait_for_completion(
        credentials, integration.integration_id, poll_interval_seconds=POLL, return_state=True
    )

    lines = prefect_records.logs(state)
    about_it = [line for line in lines if integration.integration_id in line]
    assert sum(line.startswith("Triggered a sync of integration") for line in about_it) == 1
    assert sum(line.endswith("is running.") for line in about_it) == 1
    assert sum("ended success: 1,234 rows synced, 0 failed." in line for line in about_it) == 1


def test_an_event_prefect_refuses_never_breaks_the_sync(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_records: PrefectRecords,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Prefect's events API refuses the progress event the subscriber emits mid-sync.
    emit = prefect_events.emit_event

    def refusing(event: str, **fields: Any) -> Any:
        if event == TRIGGERED:
            raise RuntimeError("the events API is down")
        return emit(event, **fields)

    monkeypatch.setattr(prefect_events, "emit_event", refusing)

    state = trigger_sync_and_wait_for_completion(
        credentials, integration.integration_id, poll_interval_seconds=POLL, return_state=True
    )

    assert state.is_completed()
    assert integration.triggered_jobs == 1
    lines = prefect_records.logs(state)
    assert sum("ended success: 1,234 rows synced" in line for line in lines) == 1
    events = prefect_records.events(state, SUCCEEDED)
    assert [e.event for e in events] == [SUCCEEDED]


# --- the key ----------------------------------------------------------------------------------


def test_the_key_never_reaches_prefect(
    fake: FakeBraze,
    url: str,
    prefect_records: PrefectRecords,
    capfd: pytest.CaptureFixture[str],
) -> None:
    wrong_key = "wrong-key-0123456789abcdef"
    fake.add_key(wrong_key, permissions={"cdi.integration_job_status"})  # no trigger permission
    integration = fake.add_integration(duration=0.2)
    failing = fake.add_integration(duration=0.2, outcome="error")
    runs = [
        trigger_sync_and_wait_for_completion(
            BrazeCDICredentials(api_key=key, rest_endpoint=url),
            integration_id,
            poll_interval_seconds=POLL,
            return_state=True,
        )
        for key, integration_id in (
            (fake.api_key, integration.integration_id),
            (fake.api_key, failing.integration_id),
            (wrong_key, integration.integration_id),
        )
    ]
    assert [state.type.value for state in runs] == ["COMPLETED", "FAILED", "FAILED"]
    assert "403" in (runs[2].message or "")

    seen: list[str] = []
    for state in runs:
        flow_run = prefect_records.flow_run(state)
        seen += prefect_records.logs(state)
        seen.append(json.dumps(flow_run.parameters, default=str))
        seen.append(flow_run.model_dump_json())
        seen += [a.model_dump_json() for a in prefect_records.artifacts(state)]
        seen.append(str(state.message))
    seen += [e.model_dump_json() for e in prefect_records.events(runs[0], SUCCEEDED)]
    seen += [e.model_dump_json() for e in prefect_records.events(runs[1], FAILED)]
    seen += [e.model_dump_json() for e in prefect_records.events(runs[2], FAILED)]
    seen += capfd.readouterr()

    assert any("Triggered a sync" in text for text in seen)  # the capture is not empty
    for key in (fake.api_key, wrong_key):
        assert not [text for text in seen if key in text]
