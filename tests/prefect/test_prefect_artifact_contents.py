"""What the result artifacts show: readable times, the integration's dashboard page, and how a
failed sync ended; never the key."""

from __future__ import annotations

import json
import re
from datetime import timezone
from typing import TYPE_CHECKING, Any

import pytest
from prefect import flow
from prefect.client.schemas.objects import Artifact

from braze_cdi import SyncFailed, SyncResult, SyncTimeout
from braze_cdi.testing import FakeBraze, FakeIntegration
from prefect_braze_cdi import (
    BrazeCDICredentials,
    sync_integrations,
    trigger_sync_and_wait_for_completion,
)
from prefect_braze_cdi._artifacts import outcome_row, sync_artifacts
from prefect_braze_cdi.tasks import _create_artifacts

if TYPE_CHECKING:
    from prefect.states import State

    from tests.prefect.conftest import PrefectRecords

POLL = 0.05
READABLE_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
US_03_PAGE = "https://dashboard-03.braze.com/integrations/cloud_data_ingestion/"


def table_of(artifact: Artifact) -> list[dict[str, Any]]:
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data  # type: ignore[return-value]


def the_table(records: PrefectRecords, state: State) -> dict[str, Any]:
    """The one row of the flow run's one table artifact."""
    [table] = [a for a in records.artifacts(state) if a.type == "table"]
    [row] = table_of(table)
    return row


def a_result() -> SyncResult:
    return SyncResult.model_validate(
        {
            "integration_id": "abc",
            "job": {"job_status": "success"},
            "triggered": True,
            "waited_seconds": 1.0,
            "status_calls": 1,
        }
    )


# --- times ------------------------------------------------------------------------------------


def test_table_shows_times_in_utc_to_the_second(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_records: PrefectRecords,
) -> None:
    state = trigger_sync_and_wait_for_completion(
        credentials, integration.integration_id, poll_interval_seconds=POLL, return_state=True
    )
    result: SyncResult = state.result()

    row = the_table(prefect_records, state)
    assert READABLE_TIME.fullmatch(row["sync_start_time"])
    assert READABLE_TIME.fullmatch(row["sync_finish_time"])
    assert result.job.sync_start_time is not None
    started = result.job.sync_start_time.astimezone(timezone.utc)
    assert row["sync_start_time"] == started.strftime("%Y-%m-%d %H:%M:%S UTC")


def test_table_rounds_durations_to_a_tenth_of_a_second(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_records: PrefectRecords,
) -> None:
    state = trigger_sync_and_wait_for_completion(
        credentials, integration.integration_id, poll_interval_seconds=POLL, return_state=True
    )

    row = the_table(prefect_records, state)
    for column in ("duration_seconds", "waited_seconds"):
        assert row[column] == round(row[column], 1)


def test_many_syncs_table_shows_the_same_readable_times(
    credentials: BrazeCDICredentials, fake: FakeBraze, prefect_records: PrefectRecords
) -> None:
    ids = [fake.add_integration(duration=0.1).integration_id for _ in range(2)]

    state = sync_integrations(credentials, ids, poll_interval_seconds=POLL, return_state=True)

    [table] = [a for a in prefect_records.artifacts(state) if a.type == "table"]
    rows = table_of(table)
    assert [row["integration_id"] for row in rows] == ids
    assert all(READABLE_TIME.fullmatch(row["sync_finish_time"]) for row in rows)
    assert [row["dashboard"] for row in rows] == [None, None]


def test_a_row_shows_a_duration_of_minutes_in_whole_seconds() -> None:
    result = SyncResult.model_validate(
        {
            "integration_id": "abc",
            "job": {
                "job_status": "success",
                "sync_start_time": "2026-11-29T21:07:32.123456+01:00",
                "sync_finish_time": "2026-11-29T21:09:00.000000+01:00",
            },
            "triggered": True,
            "waited_seconds": 91.26,
            "status_calls": 4,
        }
    )

    row = outcome_row("US-03", "abc", result)

    assert (row["sync_start_time"], row["sync_finish_time"]) == (
        "2026-11-29 20:07:32 UTC",
        "2026-11-29 20:09:00 UTC",
    )
    assert (row["duration_seconds"], row["waited_seconds"]) == (88, 91)


# --- the dashboard ----------------------------------------------------------------------------


def test_an_instance_endpoint_links_the_integrations_dashboard_page() -> None:
    result = a_result()

    artifacts = sync_artifacts("US-03", "abc", result, key=None)

    assert artifacts.dashboard == US_03_PAGE + "abc"
    assert artifacts.table[0]["dashboard"] == US_03_PAGE + "abc"
    assert (artifacts.key, artifacts.link_key) == (
        "braze-cdi-sync-abc",
        "braze-cdi-sync-abc-dashboard",
    )
    assert f"({US_03_PAGE}abc)" in artifacts.description


def test_the_dashboard_link_is_a_link_artifact_keyed_after_the_table(
    prefect_records: PrefectRecords,
) -> None:
    result = a_result()

    @flow
    def record() -> None:
        _create_artifacts(sync_artifacts("US-03", "abc", result, key="users-on-us-03"))

    state = record(return_state=True)

    link = {a.key: a for a in prefect_records.artifacts(state)}["users-on-us-03-dashboard"]
    assert link.type == "markdown"  # how Prefect stores a link artifact
    assert f"]({US_03_PAGE}abc)" in str(link.data)


def test_an_endpoint_without_a_dashboard_gets_no_link(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_records: PrefectRecords,
) -> None:
    state = trigger_sync_and_wait_for_completion(
        credentials, integration.integration_id, poll_interval_seconds=POLL, return_state=True
    )

    keys = [a.key for a in prefect_records.artifacts(state)]
    assert keys == [f"braze-cdi-sync-{integration.integration_id}"]
    assert the_table(prefect_records, state)["dashboard"] is None


# --- a failed sync ----------------------------------------------------------------------------


def test_a_failed_sync_records_the_job_and_the_error_then_fails(
    credentials: BrazeCDICredentials, fake: FakeBraze, prefect_records: PrefectRecords
) -> None:
    failing = fake.add_integration(duration=0.1, outcome="error", rows_failed=7)

    state = trigger_sync_and_wait_for_completion(
        credentials, failing.integration_id, poll_interval_seconds=POLL, return_state=True
    )

    assert state.is_failed()
    with pytest.raises(SyncFailed):
        state.result()
    assert failing.triggered_jobs == 1
    row = the_table(prefect_records, state)
    assert (row["job_status"], row["rows_failed_with_errors"], row["triggered"]) == (
        "error",
        7,
        True,
    )
    assert row["error"].startswith("SyncFailed: ")
    assert READABLE_TIME.fullmatch(row["sync_finish_time"])
    [table] = [a for a in prefect_records.artifacts(state) if a.type == "table"]
    assert "SyncFailed (job error)" in (table.description or "")


def test_a_timed_out_wait_records_the_running_job_then_fails(
    credentials: BrazeCDICredentials, fake: FakeBraze, prefect_records: PrefectRecords
) -> None:
    slow = fake.add_integration(duration=60)

    state = trigger_sync_and_wait_for_completion(
        credentials,
        slow.integration_id,
        poll_interval_seconds=POLL,
        max_wait_seconds=3.0,  # time to see the job running first, even on a loaded machine
        return_state=True,
    )

    with pytest.raises(SyncTimeout):
        state.result()
    row = the_table(prefect_records, state)
    assert (row["job_status"], row["sync_finish_time"]) == ("running", None)
    assert row["error"].startswith("SyncTimeout: ")


def test_a_failed_sync_without_artifacts_records_none(
    credentials: BrazeCDICredentials, fake: FakeBraze, prefect_records: PrefectRecords
) -> None:
    failing = fake.add_integration(duration=0.1, outcome="error")

    state = trigger_sync_and_wait_for_completion(
        credentials,
        failing.integration_id,
        poll_interval_seconds=POLL,
        create_artifact=False,
        return_state=True,
    )

    assert state.is_failed()
    assert [a for a in prefect_records.artifacts(state) if a.type == "table"] == []


# --- the key ----------------------------------------------------------------------------------


def test_the_key_is_in_no_artifact(
    credentials: BrazeCDICredentials, fake: FakeBraze, prefect_records: PrefectRecords
) -> None:
    ok = fake.add_integration(duration=0.1)
    failing = fake.add_integration(duration=0.1, outcome="error")
    states = [
        trigger_sync_and_wait_for_completion(
            credentials, i.integration_id, poll_interval_seconds=POLL, return_state=True
        )
        for i in (ok, failing)
    ]
    states.append(
        sync_integrations(
            credentials,
            [ok.integration_id, failing.integration_id],
            poll_interval_seconds=POLL,
            return_state=True,
        )
    )

    stored = [a.model_dump_json() for s in states for a in prefect_records.artifacts(s)]

    assert len(stored) >= 3
    assert not [text for text in stored if fake.api_key in text]
