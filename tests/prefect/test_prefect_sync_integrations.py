"""``sync_integrations``: many integrations at once through one client, one artifact, events per
sync, and a flow run that fails at the end naming each failed sync."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import Artifact
from prefect.events import Event
from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter
from prefect.events.worker import EventsWorker
from prefect.states import State
from prefect.testing.cli import invoke_and_assert

from braze_cdi import (
    BrazeCDIError,
    BrazeConfigError,
    RateLimit,
    RateLimits,
    RetryPolicy,
    SyncResult,
)
from braze_cdi.testing import FakeBraze
from prefect_braze_cdi import BrazeCDICredentials
from prefect_braze_cdi.flows import async_integrations, sync_integrations

if TYPE_CHECKING:
    from tests.prefect.conftest import PrefectRecords

POLL = 0.05
# Braze's windows are a minute long: 25 triggers would wait for the next one. Here the fake's
# windows, and the client's budgets, are a second long, so 25 syncs take seconds.
LIMITS = RateLimits(trigger=RateLimit(10, 1.0), list=RateLimit(50, 1.0), status=RateLimit(100, 1.0))
SUCCEEDED, FAILED = "braze.cdi.sync.succeeded", "braze.cdi.sync.failed"


@pytest.fixture
def fake() -> FakeBraze:
    return FakeBraze(rate_limits=LIMITS)


@pytest.fixture
def credentials(fake: FakeBraze, url: str) -> BrazeCDICredentials:
    """The block, with the fake's budgets."""
    return BrazeCDICredentials(
        api_key=fake.api_key,
        rest_endpoint=url,
        retry=RetryPolicy(initial_delay=0.01, max_delay=0.05),
        rate_limits=LIMITS,
    )


def table_of(artifact: Artifact) -> list[dict[str, Any]]:
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data  # type: ignore[return-value]


def events_of(state: State, prefix: str, count: int) -> list[Event]:
    """The flow run's events named ``prefix...``, once ``count`` of them are stored (the client
    sends events from a background worker, the server stores them in batches)."""
    EventsWorker.drain_all(timeout=10)
    flow_run = f"prefect.flow-run.{state.state_details.flow_run_id}"
    event_filter = EventFilter(
        event=EventNameFilter(prefix=[prefix]), related=EventRelatedFilter(id=[flow_run])
    )
    deadline = time.monotonic() + 15
    with get_client(sync_client=True) as client:
        while True:
            events = client.read_events(event_filter, limit=50).events
            if len(events) >= count or time.monotonic() > deadline:
                return sorted(events, key=lambda event: event.occurred)
            time.sleep(0.05)


def tables(records: PrefectRecords, state: State) -> list[Artifact]:
    """The flow run's table artifacts (Prefect keeps a failed run's result as one more)."""
    return [a for a in records.artifacts(state) if a.type == "table"]


def failure_message(records: PrefectRecords, state: State) -> str:
    stored = records.flow_run(state).state
    assert stored is not None and stored.is_failed()
    return stored.message or ""


# --- many at once -----------------------------------------------------------------------------


def test_25_integrations_one_artifact_no_429_and_the_failed_one_named(
    credentials: BrazeCDICredentials, fake: FakeBraze, prefect_records: PrefectRecords
) -> None:
    integrations = [fake.add_integration(duration=0.1, rows_synced=10) for _ in range(23)]
    failing = fake.add_integration(duration=0.1, outcome="error", rows_failed=7)
    partial = fake.add_integration(duration=0.1, outcome="partial", rows_failed=3)
    ids = [i.integration_id for i in [*integrations, failing, partial]]

    state = sync_integrations(
        credentials, ids, poll_interval_seconds=POLL, max_concurrency=25, return_state=True
    )

    message = failure_message(prefect_records, state)
    assert "1 of 25 Braze CDI syncs failed" in message
    assert [i for i in ids if i in message] == [failing.integration_id]
    with pytest.raises(BrazeCDIError, match=failing.integration_id):
        state.result()
    [artifact] = tables(prefect_records, state)
    rows = table_of(artifact)
    assert [row["integration_id"] for row in rows] == ids
    by_id = {row["integration_id"]: row for row in rows}
    assert by_id[failing.integration_id]["job_status"] == "error"
    assert by_id[failing.integration_id]["rows_failed_with_errors"] == 7
    assert by_id[failing.integration_id]["error"].startswith("SyncFailed: ")
    assert (
        by_id[partial.integration_id]["job_status"],
        by_id[partial.integration_id]["error"],
    ) == (
        "partial",
        None,
    )
    assert all(by_id[i]["job_status"] == "success" for i in ids[:23])
    assert fake.count(status=429) == 0
    assert all(i.triggered_jobs == 1 for i in fake.integrations.values())


def test_every_result_is_returned_by_id_in_the_order_given(
    credentials: BrazeCDICredentials, fake: FakeBraze
) -> None:
    ids = [fake.add_integration(duration=d, rows_synced=5).integration_id for d in (0.3, 0.0, 0.1)]

    results = sync_integrations(credentials, ids, poll_interval_seconds=POLL)

    assert list(results) == ids
    assert all(isinstance(r, SyncResult) and r.triggered for r in results.values())
    assert [results[i].integration_id for i in ids] == ids


def test_a_partial_job_fails_the_flow_run_only_with_fail_on_partial(
    credentials: BrazeCDICredentials, fake: FakeBraze, prefect_records: PrefectRecords
) -> None:
    good = fake.add_integration(duration=0.1).integration_id
    partial = fake.add_integration(duration=0.1, outcome="partial", rows_failed=3).integration_id

    accepted = sync_integrations(credentials, [good, partial], poll_interval_seconds=POLL)
    refused = sync_integrations(
        credentials,
        [good, partial],
        poll_interval_seconds=POLL,
        fail_on_partial=True,
        return_state=True,
    )

    assert str(accepted[partial].job_status) == "partial"
    message = failure_message(prefect_records, refused)
    assert partial in message and good not in message
    assert "ended partial" in message


def test_async_twin_syncs_them_all(credentials: BrazeCDICredentials, fake: FakeBraze) -> None:
    ids = [fake.add_integration(duration=0.1).integration_id for _ in range(3)]

    results = asyncio.run(async_integrations(credentials, ids, poll_interval_seconds=POLL))

    assert [str(results[i].job_status) for i in ids] == ["success"] * 3
    assert fake.count(status=429) == 0


def test_a_retried_flow_run_triggers_no_integration_again(
    credentials: BrazeCDICredentials, fake: FakeBraze, prefect_records: PrefectRecords
) -> None:
    good = fake.add_integration(duration=0.1)
    failing = fake.add_integration(duration=0.1, outcome="error")
    retried = sync_integrations.with_options(retries=1, retry_delay_seconds=0)

    state = retried(
        credentials,
        [good.integration_id, failing.integration_id],
        poll_interval_seconds=POLL,
        return_state=True,
    )

    assert prefect_records.flow_run(state).run_count == 2
    assert failing.integration_id in failure_message(prefect_records, state)
    assert (good.triggered_jobs, failing.triggered_jobs) == (1, 1)


# --- selection by name ------------------------------------------------------------------------


def test_name_pattern_selects_the_matching_integrations_but_paused_ones(
    credentials: BrazeCDICredentials, fake: FakeBraze, prefect_records: PrefectRecords
) -> None:
    eu = fake.add_integration(name="users_eu", duration=0.1)
    us = fake.add_integration(name="users_us", duration=0.1)
    paused = fake.add_integration(name="users_old", duration=0.1, integration_status="paused")
    other = fake.add_integration(name="events", duration=0.1)

    state = sync_integrations(
        credentials, name_pattern="users_*", poll_interval_seconds=POLL, return_state=True
    )

    assert list(state.result()) == [eu.integration_id, us.integration_id]
    assert [i.triggered_jobs for i in (eu, us, paused, other)] == [1, 1, 0, 0]
    assert fake.count("list") == 1
    lines = prefect_records.logs(state)
    assert any("users_old" in line and "paused" in line for line in lines)
    [artifact] = tables(prefect_records, state)
    assert artifact.key is not None and artifact.key.startswith("braze-cdi-syncs-users-")
    assert [row["integration_name"] for row in table_of(artifact)] == ["users_eu", "users_us"]


def test_a_pattern_that_matches_nothing_syncs_nothing(
    credentials: BrazeCDICredentials, fake: FakeBraze
) -> None:
    fake.add_integration(name="events", duration=0.1)

    assert sync_integrations(credentials, name_pattern="users_*") == {}
    assert fake.count("trigger") == 0


# --- refused before any request ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "refusal"),
    [
        ({}, "Give either integration_ids or name_pattern"),
        ({"integration_ids": ["a"], "name_pattern": "users_*"}, "not both"),
        ({"integration_ids": []}, "is empty"),
        ({"integration_ids": ["a", "b", "a"]}, "the same integration twice: a"),
        ({"integration_ids": ["a", "../b"]}, "Invalid integration id '../b'"),
        ({"name_pattern": " "}, "name_pattern must be a non-empty glob"),
        ({"integration_ids": ["a"], "max_concurrency": 0}, "max_concurrency"),
        ({"integration_ids": ["a"], "artifact_key": "Many Syncs"}, "artifact_key"),
        ({"integration_ids": ["a"], "upstream_assets": {"b": "s3://t"}}, "not synced: b"),
        ({"integration_ids": ["a"], "upstream_assets": {"a": "no table"}}, "upstream asset"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    credentials: BrazeCDICredentials, fake: FakeBraze, arguments: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(BrazeConfigError, match=refusal):
        sync_integrations(credentials, **arguments)
    assert fake.count() == 0


def test_a_missing_rate_limit_is_refused_before_any_request(
    credentials: BrazeCDICredentials, fake: FakeBraze
) -> None:
    integration = fake.add_integration(duration=0.1)

    with pytest.raises(BrazeConfigError, match="'no-such-limit' does not exist"):
        sync_integrations(
            credentials, [integration.integration_id], rate_limit_name="no-such-limit"
        )
    assert fake.count() == 0


def test_each_trigger_takes_a_slot_of_the_global_rate_limit(
    credentials: BrazeCDICredentials, fake: FakeBraze
) -> None:
    name = f"braze-triggers-{uuid.uuid4().hex[:8]}"  # one slot, freed in 0.2 s
    invoke_and_assert(
        ["gcl", "create", name, "--limit", "1", "--slot-decay-per-second", "5"],
        expected_output_contains=name,
    )
    ids = [fake.add_integration(duration=0.1).integration_id for _ in range(3)]

    sync_integrations(credentials, ids, poll_interval_seconds=POLL, rate_limit_name=name)

    times = sorted(r.time for r in fake.requests if r.kind == "trigger")
    assert len(times) == 3
    assert all(later - earlier >= 0.15 for earlier, later in itertools.pairwise(times))


# --- what each sync leaves in Prefect ---------------------------------------------------------


def test_each_sync_emits_its_own_succeeded_or_failed_event(
    credentials: BrazeCDICredentials, fake: FakeBraze
) -> None:
    good = [fake.add_integration(duration=0.1).integration_id for _ in range(2)]
    failing = fake.add_integration(duration=0.1, outcome="error").integration_id

    state = sync_integrations(
        credentials, [*good, failing], poll_interval_seconds=POLL, return_state=True
    )

    events = events_of(state, "braze.cdi.sync.", count=6)
    triggered = [e for e in events if e.event == "braze.cdi.sync.triggered"]
    succeeded = {e.payload["integration_id"] for e in events if e.event == SUCCEEDED}
    [failed] = [e for e in events if e.event == FAILED]
    assert len(triggered) == 3
    assert succeeded == set(good)
    assert (failed.resource.id, failed.payload["job_status"]) == (
        f"braze.cdi.integration.{failing}",
        "error",
    )


def test_the_key_never_reaches_prefect(
    credentials: BrazeCDICredentials,
    fake: FakeBraze,
    prefect_records: PrefectRecords,
    capfd: pytest.CaptureFixture[str],
) -> None:
    good = fake.add_integration(name="users", duration=0.1).integration_id
    failing = fake.add_integration(name="users_bad", duration=0.1, outcome="error").integration_id

    state = sync_integrations(
        credentials,
        name_pattern="users*",
        poll_interval_seconds=POLL,
        upstream_assets={good: "snowflake://acct/db/public/users"},
        return_state=True,
    )

    assert state.is_failed()
    flow_run = prefect_records.flow_run(state)
    seen = [flow_run.model_dump_json(), str(state.message)]
    seen += prefect_records.logs(state)
    seen += [a.model_dump_json() for a in prefect_records.artifacts(state)]
    seen += [e.model_dump_json() for e in events_of(state, "braze.cdi.", count=4)]
    seen += [e.model_dump_json() for e in events_of(state, "prefect.asset.", count=3)]
    seen += capfd.readouterr()
    assert any(failing in text for text in seen)  # the capture is not empty
    assert not [text for text in seen if fake.api_key in text]
