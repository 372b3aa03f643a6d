"""The flow and its tasks against FakeBraze: outcomes, failures and which errors are retried."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import pytest
from prefect import flow
from prefect.exceptions import ParameterTypeError

from braze_cdi import (
    BrazeConfigError,
    BrazeServerError,
    JobStatus,
    RetryPolicy,
    SyncFailed,
    SyncHandle,
    SyncResult,
    SyncTimeout,
)
from braze_cdi.testing import FakeBraze, FakeIntegration
from prefect_braze_cdi import (
    BrazeCDICredentials,
    atrigger_sync_and_wait_for_completion,
    flows,
    trigger_sync,
    trigger_sync_and_wait_for_completion,
    wait_for_sync,
)

if TYPE_CHECKING:
    from tests.conftest import RunningJob
    from tests.prefect.conftest import PrefectRecords

POLL = 0.05


def test_flow_returns_the_sync_result(
    credentials: BrazeCDICredentials, integration: FakeIntegration
) -> None:
    result = trigger_sync_and_wait_for_completion(
        credentials, integration.integration_id, poll_interval_seconds=POLL
    )

    assert isinstance(result, SyncResult)
    assert result.job_status == JobStatus.SUCCESS
    assert (result.job.rows_synced, result.triggered) == (1234, True)
    assert integration.triggered_jobs == 1


@pytest.mark.parametrize("outcome", ["error", "config_error"])
def test_failed_job_fails_the_flow_run_with_braze_status(
    credentials: BrazeCDICredentials,
    fake: FakeBraze,
    prefect_records: PrefectRecords,
    outcome: str,
) -> None:
    failing = fake.add_integration(duration=0.2, outcome=outcome, rows_failed=7)

    state = trigger_sync_and_wait_for_completion(
        credentials, failing.integration_id, poll_interval_seconds=POLL, return_state=True
    )

    stored = prefect_records.flow_run(state).state
    assert stored is not None and stored.is_failed()
    assert f"ended {outcome}" in (stored.message or "")
    with pytest.raises(SyncFailed) as raised:
        state.result()
    assert raised.value.job.job_status == outcome


def test_partial_job_succeeds_unless_asked_to_fail(
    credentials: BrazeCDICredentials, fake: FakeBraze
) -> None:
    partial = fake.add_integration(duration=0.2, outcome="partial", rows_failed=3)

    result = trigger_sync_and_wait_for_completion(
        credentials, partial.integration_id, poll_interval_seconds=POLL
    )
    state = trigger_sync_and_wait_for_completion(
        credentials,
        partial.integration_id,
        poll_interval_seconds=POLL,
        fail_on_partial=True,
        return_state=True,
    )

    assert (result.job_status, result.job.rows_failed_with_errors) == (JobStatus.PARTIAL, 3)
    assert state.is_failed()
    assert "ended partial" in (state.message or "")


def test_a_503_burst_is_absorbed(
    credentials: BrazeCDICredentials, integration: FakeIntegration, fake: FakeBraze
) -> None:
    fake.inject("trigger", status=503)  # outcome unknown: the core reads the jobs, then resends
    fake.inject("status", status=503, times=3)

    result = trigger_sync_and_wait_for_completion(
        credentials, integration.integration_id, poll_interval_seconds=POLL
    )

    assert result.job_status == JobStatus.SUCCESS
    assert fake.count(status=503) == 4
    assert integration.triggered_jobs == 1


def test_sync_failed_is_attempted_once_never_retried(
    credentials: BrazeCDICredentials, fake: FakeBraze, prefect_records: PrefectRecords
) -> None:
    failing = fake.add_integration(duration=0.2, outcome="error")

    state = trigger_sync_and_wait_for_completion(
        credentials, failing.integration_id, poll_interval_seconds=POLL, return_state=True
    )

    assert state.is_failed()
    [wait] = prefect_records.task_runs(state, "wait-for-sync-")
    assert wait.run_count == 1
    assert wait.state is not None and wait.state.is_failed()
    assert failing.triggered_jobs == 1


def test_authentication_error_fails_at_once_with_braze_message(
    fake: FakeBraze,
    url: str,
    integration: FakeIntegration,
    prefect_records: PrefectRecords,
) -> None:
    wrong_key = BrazeCDICredentials(api_key="not-the-workspace-key", rest_endpoint=url)

    state = trigger_sync_and_wait_for_completion(
        wrong_key, integration.integration_id, poll_interval_seconds=POLL, return_state=True
    )

    assert state.is_failed()
    assert "401" in (state.message or "")
    assert "Invalid API key" in (state.message or "")
    [trigger] = prefect_records.task_runs(state, "trigger-sync-")
    assert trigger.run_count == 1
    assert fake.count(status=401) == 1


def test_retryable_error_is_retried_by_prefect(
    fake: FakeBraze,
    url: str,
    integration: FakeIntegration,
    prefect_records: PrefectRecords,
) -> None:
    # One attempt per call: the core gives up at once and leaves the retry to Prefect.
    one_attempt = BrazeCDICredentials(
        api_key=fake.api_key, rest_endpoint=url, retry=RetryPolicy(max_attempts=1)
    )
    fake.inject("status", status=503)  # the job list read before the trigger fails once

    @flow
    def retried() -> SyncResult:
        handle = trigger_sync.with_options(retries=1, retry_delay_seconds=0)(
            one_attempt, integration.integration_id
        )
        return wait_for_sync(one_attempt, handle, poll_interval_seconds=POLL)

    state = retried(return_state=True)

    assert state.result().job_status == JobStatus.SUCCESS
    [trigger] = prefect_records.task_runs(state, "trigger-sync-")
    assert trigger.run_count == 2
    assert integration.triggered_jobs == 1


def test_trigger_with_unknown_outcome_is_retryable_once_its_record_is_kept(
    fake: FakeBraze,
    url: str,
    integration: FakeIntegration,
    prefect_records: PrefectRecords,
) -> None:
    # Retrying it is safe: the retry adopts the job the trigger started, if any
    # (tests/prefect/test_prefect_exactly_once.py). Here the task has no retries left.
    two_attempts = BrazeCDICredentials(
        api_key=fake.api_key,
        rest_endpoint=url,
        retry=RetryPolicy(max_attempts=2, initial_delay=0.01),
    )
    fake.inject("trigger", status=503, times=10)

    @flow
    def once() -> None:
        trigger_sync.with_options(retries=0)(two_attempts, integration.integration_id)

    state = once(return_state=True)

    with pytest.raises(BrazeServerError, match="adopts its job instead of triggering again"):
        state.result()
    assert state.result(raise_on_failure=False).retryable
    [trigger] = prefect_records.task_runs(state, "trigger-sync-")
    assert trigger.run_count == 1
    assert fake.count("trigger") == 2  # the core's own resend after checking the jobs


def test_running_job_is_waited_for_before_triggering(
    credentials: BrazeCDICredentials, integration: FakeIntegration, running_job: RunningJob
) -> None:
    scheduled = running_job(integration.integration_id)

    result = trigger_sync_and_wait_for_completion(
        credentials, integration.integration_id, poll_interval_seconds=POLL
    )

    assert result.triggered
    assert result.job.sync_start_time is not None
    assert result.job.sync_start_time.timestamp() >= scheduled.start + scheduled.duration
    assert integration.triggered_jobs == 1


def test_invalid_integration_id_fails_before_any_request(
    credentials: BrazeCDICredentials, fake: FakeBraze
) -> None:
    state = trigger_sync_and_wait_for_completion(
        credentials, "../other", poll_interval_seconds=POLL, return_state=True
    )

    with pytest.raises(BrazeConfigError, match="Invalid integration id"):
        state.result()
    assert fake.count() == 0


def test_invalid_if_running_is_refused_before_any_request(
    credentials: BrazeCDICredentials, integration: FakeIntegration, fake: FakeBraze
) -> None:
    with pytest.raises(ParameterTypeError, match="if_running"):
        trigger_sync_and_wait_for_completion(
            credentials, integration.integration_id, if_running="sometimes"
        )
    assert fake.count() == 0


def test_task_functions_run_outside_a_flow_run(
    credentials: BrazeCDICredentials, integration: FakeIntegration
) -> None:
    handle = trigger_sync.fn(credentials, integration.integration_id)
    # Prefect deprecates artifacts made outside a run.
    result = wait_for_sync.fn(
        credentials, handle, poll_interval_seconds=POLL, create_artifact=False
    )

    assert result.job_status == JobStatus.SUCCESS
    assert integration.triggered_jobs == 1


@pytest.mark.parametrize("form", ["sync", "async"])
def test_max_wait_seconds_bounds_the_whole_flow(
    credentials: BrazeCDICredentials,
    fake: FakeBraze,
    monkeypatch: pytest.MonkeyPatch,
    form: str,
) -> None:
    # The trigger task waits up to 2 s for a running job; the new job takes 10 s. Within
    # max_wait_seconds=3, the wait task gets only what is left, not 3 s of its own.
    max_wait, running_for = 3.0, 2.0
    integration = fake.add_integration(duration=10.0)
    fake.start_job(integration.integration_id, duration=running_for)
    budgets: list[float] = []
    wait_task = "await_for_sync" if form == "async" else "wait_for_sync"
    task = getattr(flows, wait_task)

    def spy(*args: Any, **kwargs: Any) -> Any:
        budgets.append(kwargs["max_wait_seconds"])
        return task(*args, **kwargs)

    monkeypatch.setattr(flows, wait_task, spy)
    run = (
        (lambda **options: asyncio.run(atrigger_sync_and_wait_for_completion(**options)))
        if form == "async"
        else trigger_sync_and_wait_for_completion
    )

    with pytest.raises(SyncTimeout) as raised:
        run(
            braze_cdi_credentials=credentials,
            integration_id=integration.integration_id,
            poll_interval_seconds=0.1,
            max_wait_seconds=max_wait,
            if_running="wait",
        )

    assert raised.value.handle is not None and raised.value.handle.triggered
    assert integration.triggered_jobs == 1
    # The flow began before its first request and computed the wait's budget after the
    # trigger: the budget is at most max_wait less the time between the two (the fake
    # records wall-clock times: a little slack for a clock that is slewed meanwhile).
    first = fake.requests[0].time
    [triggered_at] = [request.time for request in fake.requests if request.kind == "trigger"]
    assert triggered_at > first
    if budgets:  # the wait task got what was left, and ran out waiting for the new job
        assert 0 < budgets[0] <= max_wait - (triggered_at - first) + 0.05
        # (On a loaded machine so little may be left that no poll saw the new job yet.)
        job = raised.value.job
        assert job is None or job.job_status == "running"
    else:  # a loaded machine: the trigger task spent it all, and the flow ended at once
        assert "max_wait_seconds" in str(raised.value)
    # No request after the flow's max_wait: the whole flow waited about max_wait, not
    # running_for + max_wait. A generous margin for slow machines, still well under the
    # ~5 s of two separate bounds.
    assert fake.requests[-1].time - first < 1.5 * max_wait


def test_nothing_left_for_the_wait_is_a_sync_timeout_at_once() -> None:
    handle = SyncHandle(integration_id="abc", triggered=True)

    with pytest.raises(SyncTimeout, match="max_wait_seconds") as raised:
        flows._time_left(handle, 3.0, began=time.monotonic() - 3.5)

    assert raised.value.handle == handle
    assert 0 < flows._time_left(handle, 3.0, began=time.monotonic()) <= 3.0
