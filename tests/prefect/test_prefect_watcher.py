"""The watcher flow against a real Prefect API: each job Braze's schedule ran is an event once,
a schedule that stopped is an event once, and this package's own syncs are not reported twice."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.events import Event, emit_event
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
from prefect.events.worker import EventsWorker
from prefect.states import Completed, Running, State

from braze_cdi import BrazeConfigError
from braze_cdi.testing import FakeBraze
from prefect_braze_cdi import BrazeCDICredentials, trigger_sync_and_wait_for_completion
from prefect_braze_cdi.watcher import BrazeCDIWatcherCursor, WatchSummary, watch_braze_cdi_syncs

from .conftest import PrefectRecords

HOUR = 3600.0
SUCCEEDED, PARTIAL, FAILED = (f"braze.cdi.sync.{end}" for end in ("succeeded", "partial", "failed"))
MISSED = "braze.cdi.schedule.missed"


def add(fake: FakeBraze, name: str, **settings: object) -> str:
    """An integration with an id of its own: the Prefect server is shared by the session's
    tests, and the fake's default ids are the same in every test."""
    return fake.add_integration(str(uuid.uuid4()), name=name, **settings).integration_id


def watch(credentials: BrazeCDICredentials, *args: object, **kwargs: object) -> State:
    state = watch_braze_cdi_syncs(credentials, *args, return_state=True, **kwargs)  # type: ignore[call-overload]
    assert state.is_completed(), state
    return state


def summary(state: State) -> WatchSummary:
    result = state.result()
    assert isinstance(result, WatchSummary)
    return result


def integration_of(event: Event) -> str:
    return event.resource.id.removeprefix("braze.cdi.integration.")


def test_three_runs_report_each_scheduled_job_once_and_a_missed_schedule_once(
    fake: FakeBraze, credentials: BrazeCDICredentials, prefect_records: PrefectRecords
) -> None:
    users = add(fake, "users", history=2)
    stuck = add(fake, "events", history=1, next_scheduled_run=fake.clock.time() - 0.75 * HOUR)
    watched = [users, stuck]

    first = watch(credentials, watched)
    fake.start_job(users, duration=0.0, rows_synced=11)
    second = watch(credentials, watched)
    fake.start_job(users, duration=0.0, outcome="partial", rows_failed=2)
    fake.start_job(users, duration=0.0, outcome="error")
    third = watch(credentials, watched)

    runs = [
        prefect_records.events(first, until=MISSED),
        prefect_records.events(second, until=SUCCEEDED),
        prefect_records.events(third, until=FAILED),
    ]
    jobs = [[(e.event, integration_of(e)) for e in run if e.event != MISSED] for run in runs]
    assert jobs == [
        [(SUCCEEDED, users), (SUCCEEDED, stuck)],  # each integration's latest job, once
        [(SUCCEEDED, users)],
        [(PARTIAL, users), (FAILED, users)],  # oldest first
    ]
    starts = Counter(
        (integration_of(e), e.payload["sync_start_time"])
        for run in runs
        for e in run
        if e.event != MISSED
    )
    assert set(starts.values()) == {1}
    every = [event for run in runs for event in run]
    assert all(e.resource["braze.cdi.ran_by"] == "schedule" for e in every if e.event != MISSED)
    assert all(e.payload["triggered"] is False for e in every if e.event != MISSED)
    assert [e.payload["rows_synced"] for e in runs[1]] == [11]
    [missed] = [e for e in every if e.event == MISSED]
    assert integration_of(missed) == stuck
    assert missed.payload["late_seconds"] > 0.75 * HOUR
    assert "has not started" in missed.payload["description"]
    assert [summary(state).missed for state in (first, second, third)] == [[stuck], [], []]
    assert [summary(state).job_reads for state in (first, second, third)] == [2, 1, 1]


def test_a_job_this_package_synced_is_not_reported_again(
    fake: FakeBraze, credentials: BrazeCDICredentials, prefect_records: PrefectRecords
) -> None:
    users = add(fake, "users", history=1, duration=0.0)
    first = watch(credentials, [users])
    synced = trigger_sync_and_wait_for_completion(credentials, users, return_state=True)
    prefect_records.events(synced, until=SUCCEEDED)  # stored, as it is minutes later in life
    fake.start_job(users, duration=0.0, rows_synced=5)  # and one Braze's schedule ran

    second = watch(credentials, [users])

    assert summary(first).reported[0]["integration_id"] == users
    assert summary(second).already_reported == 1
    assert [job["rows_synced"] for job in summary(second).reported] == [5]
    [event] = prefect_records.events(second, until=SUCCEEDED)
    assert event.payload["rows_synced"] == 5


def test_an_integration_a_running_flow_syncs_is_left_alone_until_it_ends(
    fake: FakeBraze, credentials: BrazeCDICredentials
) -> None:
    users = add(fake, "users", history=1, duration=0.0)
    first = watch(credentials, [users])

    @flow
    def syncing() -> None:
        """Stands for a flow run of this package that triggered a sync and waits for it."""

    with get_client(sync_client=True) as client:
        run = client.create_flow_run(syncing, state=Running())
        emit_event(
            "braze.cdi.sync.triggered",
            resource={"prefect.resource.id": f"braze.cdi.integration.{users}"},
            related=[
                {
                    "prefect.resource.id": f"prefect.flow-run.{run.id}",
                    "prefect.resource.role": "flow-run",
                }
            ],
        )
        stored(client, "braze.cdi.sync.triggered", users)
        fake.start_job(users, duration=0.0)

        busy = watch(credentials, [users])
        client.set_flow_run_state(run.id, Completed(), force=True)
        ended = watch(credentials, [users])

    assert len(summary(first).reported) == 1
    assert (summary(busy).in_progress, summary(busy).reported) == ([users], [])
    assert summary(ended).in_progress == []
    assert len(summary(ended).reported) == 1


def stored(client: object, name: str, integration_id: str) -> None:
    """Wait until the Prefect server has stored the event (it persists them in batches)."""
    EventsWorker.drain_all(timeout=10)
    event_filter = EventFilter(
        event=EventNameFilter(name=[name]),
        resource=EventResourceFilter(id=[f"braze.cdi.integration.{integration_id}"]),
    )
    deadline = time.monotonic() + 15
    while not client.read_events(event_filter, limit=1).events:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the event was never stored"
        time.sleep(0.05)


def test_the_watcher_keeps_its_cursor_in_a_block_named_after_what_it_watches(
    fake: FakeBraze, credentials: BrazeCDICredentials
) -> None:
    users, events, orders = (add(fake, name, history=1) for name in ("users", "events", "orders"))
    name = f"watch-{uuid.uuid4()}"

    of_users = summary(watch(credentials, [users]))
    of_events = summary(watch(credentials, [events]))
    named = summary(watch(credentials, [orders], cursor_block_name=name))
    again = summary(watch(credentials, [orders], cursor_block_name=name))

    assert of_users.cursor_block_name.startswith("braze-cdi-watcher-")
    assert of_users.cursor_block_name != of_events.cursor_block_name
    assert named.cursor_block_name == name
    cursor = BrazeCDIWatcherCursor.load(name)
    assert orders in cursor.watch  # type: ignore[union-attr]
    assert (len(named.reported), again.reported, again.job_reads) == (1, [], 0)


def test_name_pattern_watches_the_integrations_whose_name_matches(
    fake: FakeBraze, credentials: BrazeCDICredentials
) -> None:
    prod = add(fake, "prod_users", history=1)
    add(fake, "staging_users", history=1)

    watched = summary(watch(credentials, name_pattern="prod_*"))

    assert [job["integration_id"] for job in watched.reported] == [prod]


def test_the_api_key_is_never_in_the_watcher_s_events_or_logs(
    fake: FakeBraze, credentials: BrazeCDICredentials, prefect_records: PrefectRecords
) -> None:
    users = add(fake, "users", history=1, next_scheduled_run=fake.clock.time() - 0.75 * HOUR)
    failing = add(fake, "events", history=1)
    fake.inject("status", integration_id=failing, status=403, body={"message": fake.api_key})

    state = watch(credentials, [users, failing])

    events = prefect_records.events(state, until=MISSED)
    logs = prefect_records.logs(state)
    assert any("Could not read the jobs" in line for line in logs)
    assert any("has not started" in line for line in logs)
    assert {e.event for e in events} == {SUCCEEDED, MISSED}
    for text in [*logs, *(e.model_dump_json() for e in events), str(summary(state))]:
        assert fake.api_key not in text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"integration_ids": ["a"], "name_pattern": "prod_*"}, "not both"),
        ({"schedule_grace_minutes": 0}, "schedule_grace_minutes"),
        ({"max_job_reads": -1}, "max_job_reads"),
    ],
)
def test_a_bad_argument_fails_the_run_before_any_request(
    fake: FakeBraze, credentials: BrazeCDICredentials, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(BrazeConfigError, match=message):
        watch_braze_cdi_syncs(credentials, **arguments)  # type: ignore[arg-type]
    assert fake.requests == []
