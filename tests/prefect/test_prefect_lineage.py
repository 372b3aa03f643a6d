"""Syncs in Prefect's asset graph: each integration an asset downstream of its warehouse table.

Prefect's server keeps asset lineage as events (``prefect.asset.materialization.*`` with the
upstream assets as related resources, ``prefect.asset.referenced``); these tests read them back
through its events API.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from prefect import flow
from prefect.assets import Asset, materialize
from prefect.client.orchestration import get_client
from prefect.events import Event
from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter
from prefect.events.worker import EventsWorker
from prefect.states import State

from braze_cdi import BrazeConfigError, SyncResult
from braze_cdi.testing import FakeBraze, FakeIntegration
from prefect_braze_cdi import (
    BrazeCDICredentials,
    trigger_sync,
    trigger_sync_and_wait_for_completion,
    wait_for_sync,
)
from prefect_braze_cdi._lineage import sync_asset_key
from prefect_braze_cdi.flows import sync_integrations

POLL = 0.05
TABLE = "snowflake://acme/analytics/public/users"
SUCCEEDED = "prefect.asset.materialization.succeeded"
FAILED = "prefect.asset.materialization.failed"
REFERENCED = "prefect.asset.referenced"


def asset_events(state: State, count: int) -> list[Event]:
    """The flow run's asset events, once ``count`` of them are stored (the client sends events
    from a background worker, the server stores them in batches)."""
    EventsWorker.drain_all(timeout=10)
    event_filter = EventFilter(
        event=EventNameFilter(prefix=["prefect.asset."]),
        related=EventRelatedFilter(id=[f"prefect.flow-run.{state.state_details.flow_run_id}"]),
    )
    deadline = time.monotonic() + 15
    with get_client(sync_client=True) as client:
        while True:
            events = client.read_events(event_filter, limit=50).events
            if len(events) >= count or time.monotonic() > deadline:
                return sorted(events, key=lambda event: (event.event, event.resource.id))
            time.sleep(0.05)


def key_of(url: str, integration_id: str) -> str:
    return f"braze://{urlsplit(url).netloc}/cdi/integrations/{integration_id}"


def upstream_of(event: Event) -> set[str]:
    return {r.id for r in event.related if r.role == "asset"}


def test_the_wait_materializes_the_integration_downstream_of_its_table(
    credentials: BrazeCDICredentials, integration: FakeIntegration, url: str
) -> None:
    state = trigger_sync_and_wait_for_completion(
        credentials,
        integration.integration_id,
        poll_interval_seconds=POLL,
        upstream_asset=TABLE,
        return_state=True,
    )
    result: SyncResult = state.result()

    materialized, referenced = asset_events(state, count=2)  # by name
    assert (referenced.event, referenced.resource.id) == (REFERENCED, TABLE)
    assert materialized.event == SUCCEEDED
    assert materialized.resource.id == key_of(url, integration.integration_id)
    assert upstream_of(materialized) == {TABLE}
    assert {r.id for r in materialized.related if r.role == "asset-materialized-by"} == {
        "braze-cdi"
    }
    assert materialized.payload == result.record()
    assert (materialized.payload["job_status"], materialized.payload["rows_synced"]) == (
        "success",
        1234,
    )
    task_runs = {r.id for r in materialized.related if r.id.startswith("prefect.task-run.")}
    assert len(task_runs) == 1  # the wait task's run


def test_without_an_upstream_the_integration_is_still_materialized(
    credentials: BrazeCDICredentials, integration: FakeIntegration, url: str
) -> None:
    state = trigger_sync_and_wait_for_completion(
        credentials, integration.integration_id, poll_interval_seconds=POLL, return_state=True
    )

    [materialized] = asset_events(state, count=1)
    assert materialized.event == SUCCEEDED
    assert materialized.resource.id == key_of(url, integration.integration_id)
    assert upstream_of(materialized) == set()


def test_a_failed_sync_is_a_failed_materialization_with_the_job_fields(
    credentials: BrazeCDICredentials, fake: FakeBraze, url: str
) -> None:
    failing = fake.add_integration(duration=0.1, outcome="error", rows_failed=7)

    state = trigger_sync_and_wait_for_completion(
        credentials,
        failing.integration_id,
        poll_interval_seconds=POLL,
        upstream_asset=TABLE,
        return_state=True,
    )

    assert state.is_failed()
    materialized, _ = asset_events(state, count=2)  # by name: then the table's reference
    assert materialized.event == FAILED
    assert materialized.resource.id == key_of(url, failing.integration_id)
    assert (materialized.payload["job_status"], materialized.payload["error"]) == (
        "error",
        "SyncFailed",
    )
    assert materialized.payload["rows_failed_with_errors"] == 7


def test_sync_integrations_materializes_each_integration_as_its_sync_ends(
    credentials: BrazeCDICredentials, fake: FakeBraze, url: str
) -> None:
    users = fake.add_integration(name="users", duration=0.1).integration_id
    events = fake.add_integration(name="events", duration=0.1).integration_id
    failing = fake.add_integration(name="orders", duration=0.1, outcome="error").integration_id
    events_table = "snowflake://acme/analytics/public/events"

    state = sync_integrations(
        credentials,
        [users, events, failing],
        poll_interval_seconds=POLL,
        upstream_assets={users: TABLE, events: events_table},
        return_state=True,
    )

    found = asset_events(state, count=5)
    materialized = {e.resource.id: e for e in found if e.event.startswith("prefect.asset.mat")}
    assert {e.resource.id for e in found if e.event == REFERENCED} == {TABLE, events_table}
    assert upstream_of(materialized[key_of(url, users)]) == {TABLE}
    assert upstream_of(materialized[key_of(url, events)]) == {events_table}
    assert materialized[key_of(url, failing)].event == FAILED
    assert materialized[key_of(url, users)].event == SUCCEEDED
    assert materialized[key_of(url, users)].resource.get("prefect.resource.name") is None
    assert materialized[key_of(url, users)].payload["job_status"] == "success"


def test_a_task_that_takes_the_result_is_downstream_of_the_integration(
    credentials: BrazeCDICredentials, integration: FakeIntegration, url: str
) -> None:
    report = Asset(key="s3://reports/braze-users")

    @materialize(report)
    def build_report(result: SyncResult) -> int | None:
        return result.job.rows_synced

    @flow
    def pipeline() -> int | None:
        handle = trigger_sync(credentials, integration.integration_id)
        return build_report(wait_for_sync(credentials, handle, poll_interval_seconds=POLL))

    state = pipeline(return_state=True)

    assert state.result() == 1234
    found = asset_events(state, count=3)
    [downstream] = [e for e in found if e.event == SUCCEEDED and e.resource.id == report.key]
    assert upstream_of(downstream) == {key_of(url, integration.integration_id)}


def test_the_asset_key_names_the_instance_host_and_the_integration() -> None:
    key = sync_asset_key("US-03", "5d1c0c1e-aaaa")

    assert key == "braze://rest.iad-03.braze.com/cdi/integrations/5d1c0c1e-aaaa"
    assert Asset(key=key).key == key


@pytest.mark.parametrize(
    ("integration_id", "written"), [("a&b", "a~26b"), ("a~26b", "a~7e26b"), ("[x]'", "~5bx~5d~27")]
)
def test_characters_prefect_refuses_in_a_key_are_escaped_apart(
    integration_id: str, written: str
) -> None:
    key = sync_asset_key("US-01", integration_id)

    assert key == f"braze://rest.iad-01.braze.com/cdi/integrations/{written}"
    assert Asset(key=key).key == key


@pytest.mark.parametrize("upstream", ["users table", "no-scheme/users", "s3://bucket/a?b"])
def test_an_invalid_upstream_asset_is_refused_before_any_request(
    credentials: BrazeCDICredentials, integration: FakeIntegration, fake: FakeBraze, upstream: Any
) -> None:
    with pytest.raises(BrazeConfigError, match="Invalid upstream asset key"):
        trigger_sync_and_wait_for_completion(
            credentials, integration.integration_id, upstream_asset=upstream
        )
    assert fake.count() == 0


def test_the_key_never_reaches_an_asset(
    credentials: BrazeCDICredentials, fake: FakeBraze, integration: FakeIntegration
) -> None:
    failing = fake.add_integration(duration=0.1, outcome="error")
    states = [
        trigger_sync_and_wait_for_completion(
            credentials,
            integration_id,
            poll_interval_seconds=POLL,
            upstream_asset=TABLE,
            return_state=True,
        )
        for integration_id in (integration.integration_id, failing.integration_id)
    ]

    seen = [e.model_dump_json() for state in states for e in asset_events(state, count=2)]

    assert len(seen) == 4
    assert not [text for text in seen if fake.api_key in text]
