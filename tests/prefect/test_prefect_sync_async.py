"""The sync forms and their async twins, from sync and from async flows."""

from __future__ import annotations

import asyncio
import inspect
import itertools
from typing import TYPE_CHECKING, Any

import httpx
from prefect import flow

from braze_cdi import JobStatus, RetryPolicy, SyncHandle, SyncResult
from braze_cdi.testing import FakeBraze, FakeIntegration
from prefect_braze_cdi import (
    BrazeCDICredentials,
    atrigger_sync,
    atrigger_sync_and_wait_for_completion,
    await_for_sync,
    trigger_sync,
    trigger_sync_and_wait_for_completion,
    wait_for_sync,
)

if TYPE_CHECKING:
    from tests.prefect.conftest import PrefectRecords

POLL = 0.05


def test_sync_forms_are_plain_functions_and_twins_are_coroutines() -> None:
    sync_forms = (trigger_sync, wait_for_sync, trigger_sync_and_wait_for_completion)
    async_twins = (atrigger_sync, await_for_sync, atrigger_sync_and_wait_for_completion)

    assert not any(inspect.iscoroutinefunction(form.fn) for form in sync_forms)
    assert all(inspect.iscoroutinefunction(twin.fn) for twin in async_twins)


def test_async_flow_twin_returns_the_sync_result(
    credentials: BrazeCDICredentials, integration: FakeIntegration
) -> None:
    result = asyncio.run(
        atrigger_sync_and_wait_for_completion(
            credentials, integration.integration_id, poll_interval_seconds=POLL
        )
    )

    assert isinstance(result, SyncResult)
    assert result.job_status == JobStatus.SUCCESS
    assert integration.triggered_jobs == 1


def test_sync_flow_calls_the_sync_tasks(
    credentials: BrazeCDICredentials, integration: FakeIntegration
) -> None:
    @flow
    def sync_flow() -> tuple[object, object]:
        handle = trigger_sync(credentials, integration.integration_id)
        return handle, wait_for_sync(credentials, handle, poll_interval_seconds=POLL)

    handle, result = sync_flow()

    assert isinstance(handle, SyncHandle)
    assert isinstance(result, SyncResult) and result.job_status == JobStatus.SUCCESS


def test_sync_flow_submits_the_async_twins(
    credentials: BrazeCDICredentials, integration: FakeIntegration
) -> None:
    @flow
    def sync_flow() -> object:
        handle = atrigger_sync.submit(credentials, integration.integration_id).result()
        return await_for_sync.submit(credentials, handle, poll_interval_seconds=POLL).result()

    result = sync_flow()

    assert isinstance(result, SyncResult) and result.job_status == JobStatus.SUCCESS


def test_async_flow_awaits_the_async_twins(
    credentials: BrazeCDICredentials, integration: FakeIntegration
) -> None:
    @flow
    async def async_flow() -> object:
        handle = await atrigger_sync(credentials, integration.integration_id)
        return await await_for_sync(credentials, handle, poll_interval_seconds=POLL)

    result = asyncio.run(async_flow())

    assert isinstance(result, SyncResult) and result.job_status == JobStatus.SUCCESS


def test_async_flow_calls_the_sync_tasks_and_flow(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_records: PrefectRecords,
) -> None:
    @flow
    async def async_flow() -> tuple[object, object]:
        handle = trigger_sync(credentials, integration.integration_id)
        waited = wait_for_sync(
            credentials, handle, poll_interval_seconds=POLL, artifact_key="from-async-flow"
        )
        subflow = trigger_sync_and_wait_for_completion(
            credentials, integration.integration_id, poll_interval_seconds=POLL
        )
        return waited, subflow

    state = asyncio.run(async_flow(return_state=True))

    waited, subflow = state.result()
    assert isinstance(waited, SyncResult) and isinstance(subflow, SyncResult)
    assert integration.triggered_jobs == 2
    # The sync task made its artifact synchronously, even inside an async flow.
    assert [a.key for a in prefect_records.artifacts(state)] == ["from-async-flow"]


def test_async_twin_retries_only_retryable_errors(
    fake: FakeBraze, url: str, prefect_records: PrefectRecords
) -> None:
    one_attempt = BrazeCDICredentials(
        api_key=fake.api_key, rest_endpoint=url, retry=RetryPolicy(max_attempts=1)
    )
    flaky = fake.add_integration(duration=0.1)
    failing = fake.add_integration(duration=0.1, outcome="error")
    fake.inject("status", status=503, integration_id=flaky.integration_id)
    retried = {"retries": 2, "retry_delay_seconds": 0}

    @flow
    async def async_flow() -> None:
        await atrigger_sync.with_options(**retried)(one_attempt, flaky.integration_id)
        handle = await atrigger_sync(one_attempt, failing.integration_id)
        await await_for_sync.with_options(**retried)(
            one_attempt, handle, poll_interval_seconds=POLL
        )

    state = asyncio.run(async_flow(return_state=True))

    assert state.is_failed()
    [flaky_trigger] = prefect_records.task_runs(state, f"trigger-sync-{flaky.integration_id}")
    [wait] = prefect_records.task_runs(state, "wait-for-sync-")
    assert (flaky_trigger.run_count, wait.run_count) == (2, 1)


def test_async_twins_run_many_syncs_concurrently(
    credentials: BrazeCDICredentials, fake: FakeBraze
) -> None:
    integrations = [fake.add_integration(duration=0.6) for _ in range(3)]

    async def sync_one(integration_id: str) -> SyncResult:
        handle = await atrigger_sync(credentials, integration_id)
        return await await_for_sync(credentials, handle, poll_interval_seconds=POLL)

    @flow
    async def fan_out() -> list[SyncResult]:
        return await asyncio.gather(*(sync_one(i.integration_id) for i in integrations))

    results = asyncio.run(fan_out())

    assert [r.job_status for r in results] == [JobStatus.SUCCESS] * 3
    # Every sync was triggered before the first one finished.
    starts = [r.job.sync_start_time for r in results]
    finishes = [r.job.sync_finish_time for r in results]
    assert max(starts) < min(finishes)  # type: ignore[type-var]


def test_async_flow_never_blocks_the_event_loop(
    credentials: BrazeCDICredentials, fake: FakeBraze
) -> None:
    slow = fake.add_integration(duration=0.6)
    loop_turns = [0]  # how often another task of the loop got to run
    at_each_request: list[int] = []
    reply = fake.reply

    def recording_reply(request: httpx.Request) -> Any:
        at_each_request.append(loop_turns[0])
        return reply(request)

    fake.reply = recording_reply  # type: ignore[method-assign]

    async def main() -> SyncResult:
        done = asyncio.Event()

        async def spin() -> None:
            while not done.is_set():
                await asyncio.sleep(0)  # runs on every turn of the loop
                loop_turns[0] += 1

        spinner = asyncio.create_task(spin())
        try:
            return await atrigger_sync_and_wait_for_completion(
                credentials, slow.integration_id, poll_interval_seconds=POLL
            )
        finally:
            done.set()
            await spinner

    result = asyncio.run(main())

    assert result.job_status == JobStatus.SUCCESS
    # A request made with blocking I/O on the loop's thread (a sync client, a sync wait) holds
    # the loop until it is answered, so the spinner cannot run between it and the next one.
    # Async I/O lets the loop turn while each answer is awaited. No clock is read: a loaded
    # machine cannot make this fail.
    assert len(at_each_request) >= 4  # the baseline, the trigger and the polls
    assert all(later > earlier for earlier, later in itertools.pairwise(at_each_request))
