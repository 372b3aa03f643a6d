"""One pipeline run, one sync: whatever Prefect runs again (a task retry, a flow-run retry, a
crashed flow run run again under its id, a subflow its parent's retry runs again) adopts the job
the first attempt's trigger started; a new flow run starts a new sync.

Each fault strikes after Braze started the job, and each first attempt ends for good: what the
tests count is the jobs Braze started.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterParentTaskRunId,
)
from prefect.client.schemas.objects import FlowRun
from prefect.settings import get_current_settings
from prefect.states import Crashed, Pending

from braze_cdi import JobStatus, RetryPolicy, SyncFailed, SyncHandle, SyncResult, SyncTimeout
from braze_cdi.testing import FakeBraze, FakeClock, FakeIntegration, Fault
from prefect_braze_cdi import (
    BrazeCDICredentials,
    atrigger_sync,
    await_for_sync,
    trigger_sync,
    trigger_sync_and_wait_for_completion,
    wait_for_sync,
)
from prefect_braze_cdi._events import RESUMED
from prefect_braze_cdi._resume import KEY_PREFIX, run_record

if TYPE_CHECKING:
    from prefect.states import State

    from tests.prefect.conftest import PrefectRecords

POLL = 0.05
FAULTS = ["5xx", "dropped"]
DEADLINE = 60.0  # seconds to wait for something another process does; never reached


def _fault_after_the_trigger(fake: FakeBraze, fault: str, credentials: BrazeCDICredentials) -> None:
    """Braze starts the job, but its answer is lost (a 503 from a proxy, or the connection
    drops), and every look at the job list that would tell is answered 503: the attempt ends
    with the trigger's outcome unknown."""
    fake.inject("status", times=1)  # the look before the trigger is answered
    if fault == "5xx":
        fake.inject("trigger", status=503, takes_effect=True)
    else:
        fake.inject("trigger", drop=True, takes_effect=True)
    fake.inject("status", status=503, times=credentials.retry.max_attempts)


def _storm_after_the_trigger(fake: FakeBraze) -> Fault:
    """The job list answers 503 from the trigger on, until the storm's ``times`` is set to 0."""
    fake.inject("status", times=1)
    return fake.inject("status", status=503, times=10**9)


def _records(flow_run_id: UUID) -> list[SyncHandle]:
    """The trigger records kept with a flow run."""
    with get_client(sync_client=True) as client:
        inputs = client.filter_flow_run_input(flow_run_id, KEY_PREFIX, 100, set())
    return [SyncHandle.model_validate_json(item.value) for item in inputs]


def _flow_run_id(state: State) -> UUID:
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    return flow_run_id


def _only_one_sync(fake: FakeBraze, integration: FakeIntegration) -> None:
    assert integration.triggered_jobs == 1
    assert fake.count("trigger") == 1  # no attempt sent a trigger of its own


@pytest.mark.parametrize("fault", FAULTS)
def test_a_task_retry_adopts_the_job_its_first_attempt_triggered(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    fake: FakeBraze,
    prefect_records: PrefectRecords,
    fault: str,
) -> None:
    _fault_after_the_trigger(fake, fault, credentials)

    @flow
    def pipeline() -> SyncResult:
        retried = trigger_sync.with_options(retries=3, retry_delay_seconds=0)
        handle = retried(credentials, integration.integration_id)
        return wait_for_sync(credentials, handle, poll_interval_seconds=POLL)

    state = pipeline(return_state=True)

    result = state.result()
    assert result.job_status == JobStatus.SUCCESS and result.triggered
    _only_one_sync(fake, integration)
    [trigger] = prefect_records.task_runs(state, "trigger-sync-")
    assert trigger.run_count == 2  # the trigger's outcome was unknown: retried, and it resumed
    assert any("resuming the sync" in line for line in prefect_records.logs(state))
    [resumed] = [e for e in prefect_records.events(state, until=RESUMED) if e.event == RESUMED]
    assert resumed.resource.id == f"braze.cdi.integration.{integration.integration_id}"
    assert (
        resumed.payload["job"]["sync_start_time"]
        == result.job.model_dump(mode="json")["sync_start_time"]
    )


def test_the_async_twin_resumes_in_the_same_way(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    fake: FakeBraze,
    prefect_records: PrefectRecords,
) -> None:
    _fault_after_the_trigger(fake, "5xx", credentials)

    @flow
    async def pipeline() -> SyncResult:
        retried = atrigger_sync.with_options(retries=3, retry_delay_seconds=0)
        handle = await retried(credentials, integration.integration_id)
        return await await_for_sync(credentials, handle, poll_interval_seconds=POLL)

    state = asyncio.run(pipeline(return_state=True))

    assert state.result().job_status == JobStatus.SUCCESS
    _only_one_sync(fake, integration)
    [trigger] = prefect_records.task_runs(state, "trigger-sync-")
    assert trigger.run_count == 2
    [record] = _records(_flow_run_id(state))
    assert record.integration_id == integration.integration_id and record.triggered


@pytest.mark.parametrize("fault", FAULTS)
def test_a_flow_run_retry_adopts_the_job_its_first_attempt_triggered(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    fake: FakeBraze,
    prefect_records: PrefectRecords,
    fault: str,
) -> None:
    _fault_after_the_trigger(fake, fault, credentials)

    @flow(retries=2, retry_delay_seconds=0)
    def pipeline() -> SyncResult:
        once = trigger_sync.with_options(retries=0)  # the first attempt fails the flow run
        handle = once(credentials, integration.integration_id)
        return wait_for_sync(credentials, handle, poll_interval_seconds=POLL)

    state = pipeline(return_state=True)

    assert state.result().job_status == JobStatus.SUCCESS
    assert prefect_records.flow_run(state).run_count == 2
    _only_one_sync(fake, integration)
    # One record: the retry adopted the first attempt's, and kept no other.
    [record] = _records(_flow_run_id(state))
    assert record.integration_id == integration.integration_id


def test_a_flow_run_retry_after_the_wait_ran_out_in_a_5xx_storm_adopts_the_job(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    fake: FakeBraze,
    prefect_records: PrefectRecords,
) -> None:
    # The ready-made flow, retried by Prefect: its first attempt triggers, then waits in a storm
    # of 503s until its max_wait_seconds run out; Braze meanwhile finishes the job.
    storms: list[Fault] = []

    def storm_in_the_first_attempt(*_: Any) -> None:  # the flow's on_running hook
        if storms:
            storms[0].times = 0
        else:
            storms.append(_storm_after_the_trigger(fake))

    retried = trigger_sync_and_wait_for_completion.with_options(
        retries=2, retry_delay_seconds=0, on_running=[storm_in_the_first_attempt]
    )

    state = retried(
        credentials,
        integration.integration_id,
        poll_interval_seconds=POLL,
        max_wait_seconds=2.0,
        return_state=True,
    )

    assert state.result().job_status == JobStatus.SUCCESS
    assert prefect_records.flow_run(state).run_count == 2
    assert fake.count("status", status=503) > 0  # the first attempt did meet the storm
    _only_one_sync(fake, integration)


def test_a_flow_run_killed_after_its_trigger_and_run_again_adopts_the_job(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    fake: FakeBraze,
    prefect_records: PrefectRecords,
) -> None:
    # The ready-made flow, run the way a worker runs a flow run: in a process of its own.
    block_id = credentials.save("braze-cdi-killed-run", overwrite=True)
    entrypoint = "prefect_braze_cdi.flows.trigger_sync_and_wait_for_completion"
    parameters = {
        "braze_cdi_credentials": {"$ref": {"block_document_id": str(block_id)}},
        "integration_id": integration.integration_id,
        "poll_interval_seconds": POLL,
    }
    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(
            trigger_sync_and_wait_for_completion, parameters=parameters, state=Pending()
        )
    env = _prefect_env()

    with _process(
        [sys.executable, "-m", "prefect.flow_engine", entrypoint],
        env={**env, "PREFECT__FLOW_RUN_ID": str(flow_run.id)},
    ) as first:
        _wait_for(lambda: fake.count("trigger") == 1, "the first process to trigger")
        first.kill()  # SIGKILL: no handler runs, no state is reported
        first.wait(timeout=DEADLINE)
    # What Prefect's worker reports when the process dies; then the same flow run, again.
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run.id, Crashed(message="killed"), force=True)
    rerun = subprocess.run(
        [*_prefect_cli(), "flow-run", "retry", str(flow_run.id), "--entrypoint", entrypoint],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    with get_client(sync_client=True) as client:
        stored = client.read_flow_run(flow_run.id)
    assert stored.state is not None and stored.state.is_completed()
    _only_one_sync(fake, integration)
    assert [record.integration_id for record in _records(flow_run.id)] == [
        integration.integration_id
    ]


def test_two_flow_runs_start_two_syncs(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    fake: FakeBraze,
) -> None:
    states = [
        trigger_sync_and_wait_for_completion(
            credentials, integration.integration_id, poll_interval_seconds=POLL, return_state=True
        )
        for _ in range(2)
    ]

    assert [state.result().triggered for state in states] == [True, True]
    assert integration.triggered_jobs == 2
    first, second = (_records(_flow_run_id(state)) for state in states)
    assert len(first) == len(second) == 1 and first != second


def test_one_flow_run_that_syncs_twice_starts_two_syncs_and_its_retry_none(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    fake: FakeBraze,
) -> None:
    attempts: list[list[SyncResult]] = []

    @flow(retries=1, retry_delay_seconds=0)
    def twice() -> list[SyncResult]:
        results: list[SyncResult] = []
        attempts.append(results)
        for _ in range(2):
            handle = trigger_sync(credentials, integration.integration_id)
            results.append(wait_for_sync(credentials, handle, poll_interval_seconds=POLL))
        if len(attempts) == 1:
            raise RuntimeError("a later step of the first attempt fails")
        return results

    state = twice(return_state=True)

    first, retried = attempts
    assert state.is_completed()
    assert integration.triggered_jobs == 2  # two in the first attempt, none in the retry
    assert fake.count("trigger") == 2
    assert [r.job for r in retried] == [r.job for r in first]
    assert first[0].job != first[1].job
    assert len(_records(_flow_run_id(state))) == 2


def test_a_flow_run_retry_after_the_sync_failed_adopts_the_failed_job(
    credentials: BrazeCDICredentials, fake: FakeBraze, prefect_records: PrefectRecords
) -> None:
    failing = fake.add_integration(name="broken", duration=0.2, outcome="error")
    retried = trigger_sync_and_wait_for_completion.with_options(retries=1, retry_delay_seconds=0)

    state = retried(
        credentials, failing.integration_id, poll_interval_seconds=POLL, return_state=True
    )

    with pytest.raises(SyncFailed) as raised:
        state.result()
    assert raised.value.handle is not None and raised.value.handle.triggered
    assert prefect_records.flow_run(state).run_count == 2
    _only_one_sync(fake, failing)  # to sync again, start a new flow run


def test_a_subflow_its_parent_runs_again_adopts_the_job(
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    fake: FakeBraze,
) -> None:
    storms: list[Fault] = []

    @flow(retries=1, retry_delay_seconds=0)
    def parent() -> SyncResult:
        if storms:
            storms[0].times = 0
        else:
            storms.append(_storm_after_the_trigger(fake))
        # A subflow: when it fails, the parent's retry makes a new flow run for it.
        return trigger_sync_and_wait_for_completion(
            credentials,
            integration.integration_id,
            poll_interval_seconds=POLL,
            max_wait_seconds=2.0,
        )

    state = parent(return_state=True)

    assert state.result().job_status == JobStatus.SUCCESS
    _only_one_sync(fake, integration)
    subflow_runs = _subflow_runs(_flow_run_id(state))
    assert len(subflow_runs) == 2  # two flow runs of the subflow, one sync between them
    # The record is kept with the pipeline's root flow run, not with either subflow run.
    assert len(_records(_flow_run_id(state))) == 1
    assert all(_records(run.id) == [] for run in subflow_runs)


def test_a_retry_triggers_again_once_braze_shows_the_first_trigger_started_nothing(
    fake_clock_braze: tuple[FakeBraze, FakeClock, str],
) -> None:
    # The first trigger's answer is a 503 and Braze started nothing. The retry does not
    # trigger while Braze may still list a job late; once its clock says a minute has passed
    # since the record, it triggers, and keeps the new record in place of the old one.
    fake, clock, url = fake_clock_braze
    users = fake.add_integration(name="users", duration=0.0)
    credentials = BrazeCDICredentials(
        api_key=fake.api_key,
        rest_endpoint=url,
        retry=RetryPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.05),
    )
    fake.inject("status", times=1)
    fake.inject("trigger", status=503)  # replaces Braze's answer: nothing started
    fake.inject("status", status=503, times=2)  # the look that would tell fails
    triggers_before: list[int] = []

    def a_minute_later() -> None:
        # The retry looks at the job list a few times, finds no job, and does not trigger.
        _wait_for(lambda: fake.count("status", status=200) >= 4, "the retry to look")
        triggers_before.append(fake.count("trigger"))
        clock.advance(61)

    @flow
    def pipeline() -> SyncResult:
        retried = trigger_sync.with_options(retries=1, retry_delay_seconds=0)
        handle = retried(credentials, users.integration_id, poll_interval_seconds=POLL)
        return wait_for_sync(credentials, handle, poll_interval_seconds=POLL)

    watcher = threading.Thread(target=a_minute_later, daemon=True)
    watcher.start()
    state = pipeline(return_state=True)
    watcher.join(timeout=DEADLINE)

    assert triggers_before == [1]
    assert state.result().triggered
    assert users.triggered_jobs == 1
    assert fake.count("trigger") == 2  # the lost one, then one once Braze showed no job
    [record] = _records(_flow_run_id(state))
    assert record.not_before is not None
    assert record.not_before.timestamp() >= clock.time() - 1  # the second trigger's record


def test_outside_a_flow_run_nothing_is_kept(
    credentials: BrazeCDICredentials, integration: FakeIntegration
) -> None:
    assert run_record(integration.integration_id) is None

    handle = trigger_sync.fn(credentials, integration.integration_id)

    assert handle.triggered and integration.triggered_jobs == 1


def test_a_wait_that_runs_out_keeps_the_record_for_the_next_attempt(
    credentials: BrazeCDICredentials, fake: FakeBraze
) -> None:
    slow = fake.add_integration(name="slow", duration=30.0)

    state = trigger_sync_and_wait_for_completion(
        credentials,
        slow.integration_id,
        poll_interval_seconds=POLL,
        max_wait_seconds=0.5,
        return_state=True,
    )

    with pytest.raises(SyncTimeout):
        state.result()
    [record] = _records(_flow_run_id(state))
    assert record.integration_id == slow.integration_id and record.triggered


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def fake_clock_braze() -> Iterator[tuple[FakeBraze, FakeClock, str]]:
    """A served FakeBraze whose clock (its ``Date`` header, its jobs) a test moves on."""
    clock = FakeClock(start=time.time())
    fake = FakeBraze(clock=clock)
    with fake.serve() as url:
        yield fake, clock, url


def _wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Gave up waiting for {what}.")
        time.sleep(0.01)


def _subflow_runs(parent_id: UUID) -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[parent_id]))
        )
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_task_run_id=FlowRunFilterParentTaskRunId(
                    any_=[task_run.id for task_run in task_runs]
                )
            )
        )


def _prefect_env() -> dict[str, str]:
    """The environment of a process that uses this session's Prefect API."""
    settings = get_current_settings()
    assert settings.api.url is not None
    return {**os.environ, "PREFECT_API_URL": settings.api.url, "PREFECT_HOME": str(settings.home)}


def _prefect_cli() -> list[str]:
    return [sys.executable, "-m", "prefect"]


@contextmanager
def _process(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, killed when the block ends if it is still running."""
    child = subprocess.Popen(args, env=env)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=DEADLINE)
