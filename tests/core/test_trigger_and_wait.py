"""sync_and_wait, start_sync and wait_for_sync: finding the job a trigger started and waiting for
it, through both clients, on a virtual clock shared with the fake (no real waiting)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from braze_cdi import (
    BrazePermissionError,
    BrazeServerError,
    JobStatus,
    SyncAlreadyRunning,
    SyncFailed,
    SyncHandle,
    SyncResult,
    SyncTimeout,
)
from braze_cdi.testing import FakeBraze, FakeClock

from .conftest import Api

Scene = Callable[..., tuple[FakeBraze, Api]]


@pytest.fixture(params=["sync", "async"])
def scene(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Scene]:
    """Build a fake with the given options, served on loopback, and a client for it."""
    stack = []

    def build(**fake_options: object) -> tuple[FakeBraze, Api]:
        fake = FakeBraze(clock=clock, **fake_options)  # type: ignore[arg-type]
        serving = fake.serve()
        stack.append(serving)
        return fake, Api(request.param, serving.__enter__(), fake.api_key, {"clock": clock})

    yield build
    for serving in stack:
        serving.__exit__(None, None, None)


def _start(fake: FakeBraze, job_index: int = -1, integration: str | None = None) -> float:
    target = (
        fake.integrations[integration] if integration else next(iter(fake.integrations.values()))
    )
    return target.jobs[job_index].start


def test_sync_and_wait_returns_the_job_it_started(scene: Scene, clock: FakeClock) -> None:
    fake, api = scene()
    integration = fake.add_integration(history=3, duration=25.0, rows_synced=42)
    result = api.call("sync_and_wait", integration.integration_id)
    assert isinstance(result, SyncResult)
    assert result.triggered and result.job.job_status is JobStatus.SUCCESS
    assert result.job.rows_synced == 42
    assert result.job.sync_start_time.timestamp() == pytest.approx(
        integration.jobs[-1].start, abs=1e-3
    )
    assert integration.triggered_jobs == 1
    # Polls at 0, then at the end its history expects (its jobs took 25 s too), and half a
    # second for the clocks of Braze's job runners.
    assert result.waited_seconds == clock.monotonic() == 25.5
    assert result.status_calls == fake.count("status") == 3  # baseline + 2 polls


@pytest.mark.parametrize("skew_minutes", [-10, 10])
def test_clock_skew_does_not_matter(scene: Scene, skew_minutes: int) -> None:
    fake, api = scene(clock_skew=skew_minutes * 60.0)
    integration = fake.add_integration(history=2, duration=5.0)
    fake.start_job(integration.integration_id, duration=0.0, outcome="error")  # just finished
    result = api.call("sync_and_wait", integration.integration_id, poll_interval=1.0)
    assert result.job.job_status is JobStatus.SUCCESS
    assert integration.triggered_jobs == 1


@pytest.mark.parametrize("order", ["oldest_first", "shuffled"])
def test_list_order_does_not_matter(scene: Scene, order: str) -> None:
    fake, api = scene(order=order)
    integration = fake.add_integration(history=24, duration=5.0, outcome="partial", rows_failed=3)
    result = api.call("sync_and_wait", integration.integration_id, poll_interval=2.0)
    assert result.job.job_status is JobStatus.PARTIAL
    assert result.job.rows_failed_with_errors == 3


def test_a_job_that_appears_late_is_still_found(
    scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    fake, api = scene()
    integration = fake.add_integration(history=1, duration=5.0, job_appears_after=35.0)
    caplog.set_level(logging.DEBUG, "braze_cdi")
    result = api.call("sync_and_wait", integration.integration_id, poll_interval=10.0)
    assert result.triggered and result.job.job_status is JobStatus.SUCCESS
    assert integration.triggered_jobs == 1
    assert sum("not listed yet" in r.message for r in caplog.records) == 4  # at 0, 10, 20, 30 s


def test_running_job_with_if_running_wait_waits_then_triggers(scene: Scene) -> None:
    fake, api = scene()
    integration = fake.add_integration(history=1, duration=5.0)
    scheduled = fake.start_job(integration.integration_id, duration=40.0, outcome="error")
    result = api.call("sync_and_wait", integration.integration_id, poll_interval=5.0)
    assert result.triggered and result.job.job_status is JobStatus.SUCCESS
    assert result.job.sync_start_time.timestamp() > scheduled.start + 40.0 - 1e-3
    assert integration.triggered_jobs == 1
    assert fake.count("trigger", status=429) == 0  # it waited instead of being refused


def test_running_job_with_if_running_attach_adopts_it(scene: Scene) -> None:
    fake, api = scene()
    integration = fake.add_integration(history=2)
    scheduled = fake.start_job(integration.integration_id, duration=40.0, rows_synced=7)
    result = api.call(
        "sync_and_wait", integration.integration_id, if_running="attach", poll_interval=5.0
    )
    assert not result.triggered
    assert result.job.sync_start_time.timestamp() == pytest.approx(scheduled.start, abs=1e-3)
    assert result.job.rows_synced == 7
    assert fake.count("trigger") == 0


def test_running_job_with_if_running_fail_raises_without_triggering(scene: Scene) -> None:
    fake, api = scene()
    integration = fake.add_integration(history=1)
    fake.start_job(integration.integration_id, duration=40.0)
    with pytest.raises(SyncAlreadyRunning, match="already syncing"):
        api.call("sync_and_wait", integration.integration_id, if_running="fail")
    assert fake.count("trigger") == 0


@pytest.mark.parametrize("if_running", ["wait", "attach", "fail"])
def test_a_running_job_braze_has_not_listed_yet(scene: Scene, if_running: str) -> None:
    fake, api = scene()
    integration = fake.add_integration(history=1, duration=5.0)
    hidden = fake.start_job(integration.integration_id, duration=30.0, job_appears_after=12.0)
    if if_running == "fail":
        with pytest.raises(SyncAlreadyRunning, match="Another job is in progress"):
            api.call("sync_and_wait", integration.integration_id, if_running="fail")
        return
    result = api.call(
        "sync_and_wait", integration.integration_id, if_running=if_running, poll_interval=5.0
    )
    assert fake.count("trigger", status=429) == 1
    if if_running == "attach":
        assert not result.triggered
        assert result.job.sync_start_time.timestamp() == pytest.approx(hidden.start, abs=1e-3)
    else:
        assert result.triggered and integration.triggered_jobs == 1
        assert result.job.sync_start_time.timestamp() > hidden.start + 30.0 - 1e-3


@pytest.mark.parametrize(
    ("outcome", "fail_on_partial", "fails"),
    [
        ("success", False, False),
        ("partial", False, False),
        ("partial", True, True),
        ("error", False, True),
        ("config_error", False, True),
    ],
)
def test_each_terminal_status(
    scene: Scene, outcome: str, fail_on_partial: bool, fails: bool
) -> None:
    fake, api = scene()
    integration = fake.add_integration(duration=5.0, outcome=outcome, rows_failed=2)
    if not fails:
        result = api.call(
            "sync_and_wait", integration.integration_id, fail_on_partial=fail_on_partial
        )
        assert result.job.job_status == outcome
        return
    with pytest.raises(SyncFailed, match=f"ended {outcome}") as caught:
        api.call("sync_and_wait", integration.integration_id, fail_on_partial=fail_on_partial)
    assert caught.value.job.job_status == outcome
    assert caught.value.integration_id == integration.integration_id
    assert not caught.value.retryable


def test_the_deadline_raises_sync_timeout_with_the_last_job_and_a_handle(
    scene: Scene, clock: FakeClock
) -> None:
    fake, api = scene()
    integration = fake.add_integration(history=1, duration=7200.0)
    with pytest.raises(SyncTimeout, match="still running") as caught:
        api.call("sync_and_wait", integration.integration_id, max_wait=600.0)
    assert clock.monotonic() == 600.0  # the last pause was cut to the deadline
    assert caught.value.job is not None and caught.value.job.job_status is JobStatus.RUNNING
    assert caught.value.handle is not None and caught.value.handle.triggered
    # Braze's job went on; the handle resumes the wait, even in another process.
    handle = SyncHandle.model_validate_json(caught.value.handle.model_dump_json())
    result = api.call("wait_for_sync", handle, max_wait=7200.0)
    assert result.job.job_status is JobStatus.SUCCESS and result.triggered
    assert integration.triggered_jobs == 1


def test_timeout_when_no_job_ever_appears(scene: Scene) -> None:
    fake, api = scene()
    integration = fake.add_integration(history=1, job_appears_after=1e9)
    with pytest.raises(SyncTimeout, match="no new job appeared") as caught:
        api.call("sync_and_wait", integration.integration_id, max_wait=60.0)
    assert caught.value.job is None


def test_polls_back_off_while_a_job_runs(scene: Scene, clock: FakeClock) -> None:
    fake, api = scene()
    integration = fake.add_integration(duration=200.0)
    api.call(
        "sync_and_wait", integration.integration_id, poll_interval=10.0, max_poll_interval=30.0
    )
    assert clock.sleeps[:6] == [10.0, 15.0, 22.5, 30.0, 30.0, 30.0]


def test_unknown_status_is_logged_and_not_taken_as_finished(
    scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    fake, api = scene()
    integration = fake.add_integration(duration=30.0, running_status="queued")
    caplog.set_level(logging.INFO, "braze_cdi")
    result = api.call("sync_and_wait", integration.integration_id, poll_interval=10.0)
    assert result.job.job_status is JobStatus.SUCCESS
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "'queued'" in warnings[0].message


def test_state_changes_are_logged_once_each(scene: Scene, caplog: pytest.LogCaptureFixture) -> None:
    fake, api = scene()
    integration = fake.add_integration(duration=100.0)
    caplog.set_level(logging.INFO, "braze_cdi")
    api.call("sync_and_wait", integration.integration_id, poll_interval=5.0)
    messages = [r.message for r in caplog.records if r.name == "braze_cdi"]
    assert len(messages) == 3  # though it polled many times
    assert messages[0] == f"Triggered a sync of integration {integration.integration_id}."
    assert messages[1].endswith("is running.")
    assert messages[2].endswith("ended success: 1,000 rows synced, 0 failed.")


def test_a_newer_scheduled_job_is_not_mistaken_for_ours(scene: Scene) -> None:
    fake, api = scene()
    integration = fake.add_integration(duration=5.0, outcome="error")
    handle = api.call("start_sync", integration.integration_id)
    fake.integrations[integration.integration_id].jobs[-1].duration = 0.0  # ours ended at once...
    fake.start_job(
        integration.integration_id, duration=0.0, outcome="success"
    )  # ...then another ran
    with pytest.raises(SyncFailed):
        api.call("wait_for_sync", handle)


def test_start_then_wait_in_separate_steps(scene: Scene) -> None:
    fake, api = scene()
    integration = fake.add_integration(history=4, duration=12.0)
    handle = api.call("start_sync", integration.integration_id)
    assert handle.triggered and handle.previous_job is not None
    assert fake.count("status") == 1 and fake.count("trigger") == 1
    result = api.call("wait_for_sync", SyncHandle.model_validate_json(handle.model_dump_json()))
    assert result.job.job_status is JobStatus.SUCCESS and integration.triggered_jobs == 1


# --- unknown trigger outcomes: never two syncs for one call --------------------------------


def test_a_5xx_after_the_trigger_took_effect_counts_as_triggered(scene: Scene) -> None:
    fake, api = scene()
    integration = fake.add_integration(history=1, duration=30.0)
    fake.inject("trigger", status=504, takes_effect=True)
    result = api.call("sync_and_wait", integration.integration_id)
    assert result.triggered and integration.triggered_jobs == 1
    assert fake.count("trigger") == 1


def test_a_5xx_before_the_trigger_took_effect_is_resent_once_checked(scene: Scene) -> None:
    fake, api = scene()
    integration = fake.add_integration(history=1, duration=30.0)
    fake.inject("trigger", status=503)
    result = api.call("sync_and_wait", integration.integration_id)
    assert result.triggered and integration.triggered_jobs == 1
    assert [r.status for r in fake.requests if r.kind == "trigger"] == [503, 202]


def test_a_resend_refused_as_in_progress_means_the_first_trigger_worked(scene: Scene) -> None:
    fake, api = scene()
    integration = fake.add_integration(history=1, duration=60.0, job_appears_after=20.0)
    fake.inject("trigger", drop=True, takes_effect=True)
    result = api.call("sync_and_wait", integration.integration_id)
    assert result.triggered and integration.triggered_jobs == 1
    assert [r.status for r in fake.requests if r.kind == "trigger"] == [None, 429]


def test_an_outcome_that_stays_unknown_is_not_retryable(scene: Scene) -> None:
    fake, api = scene()
    integration = fake.add_integration(history=1)
    fake.inject("trigger", status=502, times=99)
    with pytest.raises(BrazeServerError, match="may have reached Braze") as caught:
        api.call("sync_and_wait", integration.integration_id)
    assert not caught.value.retryable
    assert fake.count("trigger") == 5


def test_a_rate_limited_trigger_recovers(scene: Scene) -> None:
    fake, api = scene()
    integration = fake.add_integration(duration=3.0)
    fake.inject(
        "trigger",
        status=429,
        body={"message": "Rate limit"},
        headers={"X-RateLimit-Remaining": "0", "Retry-After": "7"},
    )
    result = api.call("sync_and_wait", integration.integration_id)
    assert result.triggered and integration.triggered_jobs == 1


def test_polls_survive_a_passing_outage_within_the_deadline(scene: Scene) -> None:
    fake, api = scene()
    integration = fake.add_integration(duration=600.0)
    handle = api.call("start_sync", integration.integration_id)
    fake.inject("status", status=503, times=12)  # more than one poll's retries
    result = api.call("wait_for_sync", handle, poll_interval=30.0)
    assert result.job.job_status is JobStatus.SUCCESS


def test_a_poll_refused_for_good_ends_the_wait(scene: Scene) -> None:
    fake, api = scene()
    integration = fake.add_integration(duration=600.0)
    handle = api.call("start_sync", integration.integration_id)
    fake.keys[fake.api_key] = frozenset({"cdi.integration_sync"})
    with pytest.raises(BrazePermissionError, match=r"cdi\.integration_job_status") as caught:
        api.call("wait_for_sync", handle)
    assert caught.value.handle == handle  # the sync goes on: where to wait for it again
