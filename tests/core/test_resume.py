"""Resuming an earlier attempt: the record persisted before its trigger adopts that trigger's
job, and a trigger is sent again only once Braze's job list shows it started nothing."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from braze_cdi import AsyncBrazeCDIClient, BrazeCDIError, BrazeConfigError, JobStatus, SyncHandle
from braze_cdi.events import Resumed, SyncEvent
from braze_cdi.testing import FakeBraze, FakeClock

from .conftest import QUICK_RETRY, Api

LATE_LISTING = 60.0  # the core's bound on how late Braze may list a triggered job


class Crash(Exception):
    """The attempt's process dies here."""


def _first_attempt(api: Api, integration_id: str, *, crash_before_trigger: bool) -> SyncHandle:
    """An attempt that persists its record, then dies before or after its trigger."""
    records: list[SyncHandle] = []

    def persist(record: SyncHandle) -> None:
        records.append(record)
        if crash_before_trigger:
            raise Crash

    with contextlib.suppress(Crash):
        api.call("start_sync", integration_id, before_trigger=persist)
    [record] = records
    return record


def test_the_record_is_handed_over_before_the_trigger_is_sent(
    virtual: tuple[FakeBraze, Api],
) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users", history=2)
    seen: list[tuple[SyncHandle, int]] = []

    handle = api.call(
        "start_sync",
        users.integration_id,
        before_trigger=lambda record: seen.append((record, fake.count("trigger"))),
    )

    [(record, triggers_then)] = seen
    assert triggers_then == 0  # persisted first
    assert record == handle
    assert record.triggered and record.not_before is not None and record.previous_job is not None
    assert SyncHandle.model_validate_json(record.model_dump_json()) == record


def test_a_hook_that_fails_stops_the_trigger(virtual: tuple[FakeBraze, Api]) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users")

    def persist(record: SyncHandle) -> None:
        raise Crash

    with pytest.raises(Crash):
        api.call("start_sync", users.integration_id, before_trigger=persist)

    assert fake.count("trigger") == 0
    assert fake.count("status") == 1  # the look before the trigger, and nothing after


def test_a_retry_after_the_trigger_adopts_its_job(virtual: tuple[FakeBraze, Api]) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users", history=1, duration=300.0, rows_synced=1200)
    record = _first_attempt(api, users.integration_id, crash_before_trigger=False)
    events: list[SyncEvent] = []

    result = api.call("sync_and_wait", users.integration_id, resume=record, on_event=events.append)

    assert users.triggered_jobs == 1
    assert result.triggered and result.job.job_status == JobStatus.SUCCESS
    assert result.job.rows_synced == 1200
    [resumed] = [event for event in events if isinstance(event, Resumed)]
    assert resumed.job is not None and resumed.job.sync_start_time == result.job.sync_start_time


def test_a_job_listed_late_is_waited_for_not_triggered_again(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users", duration=120.0, job_appears_after=40.0)
    record = _first_attempt(api, users.integration_id, crash_before_trigger=False)

    result = api.call("sync_and_wait", users.integration_id, resume=record, poll_interval=5.0)

    assert users.triggered_jobs == 1
    assert result.job.job_status == JobStatus.SUCCESS


def test_a_trigger_that_never_left_is_sent_once_braze_shows_nothing_came_of_it(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users", history=1, duration=60.0)  # as long as before
    record = _first_attempt(api, users.integration_id, crash_before_trigger=True)
    began = clock.monotonic()

    result = api.call("sync_and_wait", users.integration_id, resume=record, poll_interval=5.0)

    assert users.triggered_jobs == 1  # the first attempt sent none
    assert result.triggered and result.job.job_status == JobStatus.SUCCESS
    # It waited for Braze to list a late job first, and no longer than that.
    assert LATE_LISTING <= clock.monotonic() - began < LATE_LISTING + 60.0 + 20.0


def test_a_record_older_than_late_listing_decides_at_once(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users", history=1, duration=0.0)
    record = _first_attempt(api, users.integration_id, crash_before_trigger=True)
    clock.advance(LATE_LISTING + 1)  # the orchestrator retried a while later
    began = clock.monotonic()

    api.call("sync_and_wait", users.integration_id, resume=record, poll_interval=5.0)

    assert users.triggered_jobs == 1
    assert clock.monotonic() - began < 20.0  # no wait for a late listing


def test_a_scheduled_job_that_started_before_the_record_is_never_ours(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users", history=1, duration=30.0)
    record = _first_attempt(api, users.integration_id, crash_before_trigger=True)
    clock.advance(1.0)
    scheduled = fake.start_job(users.integration_id, duration=20.0)
    scheduled.start -= 10.0  # it started just before the record, Braze lists it now

    result = api.call("sync_and_wait", users.integration_id, resume=record, poll_interval=5.0)

    assert users.triggered_jobs == 1
    assert result.job.sync_start_time is not None
    assert result.job.sync_start_time.timestamp() > scheduled.start + 1


def test_two_runs_with_their_own_records_start_two_syncs(virtual: tuple[FakeBraze, Api]) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users", history=1, duration=0.0)

    first = api.call("sync_and_wait", users.integration_id, before_trigger=lambda r: None)
    second = api.call("sync_and_wait", users.integration_id, before_trigger=lambda r: None)

    assert users.triggered_jobs == 2
    assert first.job.sync_start_time != second.job.sync_start_time


def test_an_async_hook_is_awaited_before_the_trigger(virtual: tuple[FakeBraze, Api]) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users", duration=0.0)
    seen: list[int] = []

    async def persist(record: SyncHandle) -> None:
        await asyncio.sleep(0)
        seen.append(fake.count("trigger"))

    async def sync() -> None:
        async with AsyncBrazeCDIClient(fake.api_key, api.url, **api.client_options()) as client:
            await client.sync_and_wait(users.integration_id, before_trigger=persist)

    asyncio.run(sync())

    assert seen == [0]
    assert users.triggered_jobs == 1


def test_a_record_of_another_integration_is_refused_before_any_request(
    virtual: tuple[FakeBraze, Api],
) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users")
    other = SyncHandle(integration_id="another-integration", triggered=True)

    with pytest.raises(BrazeConfigError, match="record of integration another-integration"):
        api.call("sync_and_wait", users.integration_id, resume=other)

    assert fake.count() == 0


@pytest.mark.parametrize("persisted", [True, False], ids=["with a record", "without"])
def test_an_unknown_outcome_is_retryable_only_when_a_record_was_persisted(
    virtual: tuple[FakeBraze, Api], persisted: bool
) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users", history=1, duration=300.0, job_appears_after=30.0)
    fake.inject("trigger", drop=True, takes_effect=True)  # Braze starts it; the answer is lost
    fake.inject("trigger", status=503, times=10)  # ... and every resend fails
    records: list[SyncHandle] = []

    with pytest.raises(BrazeCDIError) as caught:
        api.call(
            "sync_and_wait",
            users.integration_id,
            before_trigger=records.append if persisted else None,
        )

    assert caught.value.retryable is persisted
    assert users.triggered_jobs == 1
    if persisted:  # the retry the error allows adopts the job
        result = api.call("sync_and_wait", users.integration_id, resume=records[-1])
        assert users.triggered_jobs == 1 and result.triggered


def test_sync_many_keeps_a_record_per_integration_and_resumes_each() -> None:
    # In process, not over loopback: the two syncs share the virtual clock, and with real I/O
    # one sync's sleeps could use up the other's max_wait before it triggered, depending on
    # the machine's speed. In process, the interleaving is the same on every run.
    clock = FakeClock()
    fake = FakeBraze(clock=clock)
    users = fake.add_integration(name="users", history=1, duration=300.0)
    events = fake.add_integration(name="events", history=1, duration=300.0)
    ids = [users.integration_id, events.integration_id]
    records: dict[str, SyncHandle] = {}

    async def attempt(**options: object) -> list[object]:
        async with AsyncBrazeCDIClient(
            fake.api_key, "US-01", transport=fake, clock=clock, retry=QUICK_RETRY
        ) as client:
            return await client.sync_many(ids, **options)

    # The first attempt keeps its records, and its waits run out.
    first = asyncio.run(
        attempt(max_wait=30.0, before_trigger=lambda r: records.update({r.integration_id: r}))
    )
    # The retry resumes each sync.
    retry = asyncio.run(attempt(resume=records))

    assert [type(outcome).__name__ for outcome in first] == ["SyncTimeout", "SyncTimeout"]
    assert sorted(records) == sorted(ids)
    assert [type(outcome).__name__ for outcome in retry] == ["SyncResult", "SyncResult"]
    assert (users.triggered_jobs, events.triggered_jobs) == (1, 1)


def test_sync_many_refuses_a_record_of_an_integration_not_given(
    virtual: tuple[FakeBraze, Api],
) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users")
    stray = {"another": SyncHandle(integration_id="another", triggered=True)}

    async def attempt() -> None:
        async with AsyncBrazeCDIClient(fake.api_key, api.url, **api.client_options()) as client:
            await client.sync_many([users.integration_id], resume=stray)

    with pytest.raises(BrazeConfigError, match="resume maps integration ids"):
        asyncio.run(attempt())
    assert fake.count() == 0
