"""A wait times its polls by the integration's history: around the job's expected end.

Each sync runs alone against a served FakeBraze on a virtual clock shared with the client, so
an hour-long job takes no real time and every poll is counted by the fake.
"""

from __future__ import annotations

import pytest

from braze_cdi import SyncFailed, SyncHandle, SyncResult
from braze_cdi.testing import FakeBraze, FakeClock

from .conftest import Api

MINUTE = 60.0


@pytest.mark.parametrize(
    ("duration", "most_calls"),
    # Without a history: 6, 15, 65 and 245 status calls.
    [(MINUTE, 3), (10 * MINUTE, 4), (60 * MINUTE, 8), (240 * MINUTE, 26)],
)
def test_a_stable_history_costs_few_polls_and_the_end_is_seen_at_once(
    virtual: tuple[FakeBraze, Api], clock: FakeClock, duration: float, most_calls: int
) -> None:
    fake, api = virtual
    users = fake.add_integration(history=5, history_duration=duration, duration=duration)

    result = api.call("sync_and_wait", users.integration_id, max_wait=2 * duration)

    assert isinstance(result, SyncResult) and result.triggered
    assert result.status_calls == fake.count("status") <= most_calls
    # The job ended `duration` after its trigger; the wait saw it within a second.
    assert duration <= result.waited_seconds <= duration + 1.0
    # Before the expected end, no pause is longer than half the job, nor than ten minutes.
    assert max(clock.sleeps) <= max(MINUTE, min(duration / 2, 10 * MINUTE)) + 1.0


def test_a_job_that_runs_past_its_history_is_polled_as_without_one(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    users = fake.add_integration(history=5, history_duration=MINUTE, duration=5 * MINUTE)

    result = api.call("sync_and_wait", users.integration_id, poll_interval=10.0)

    # One pause to the expected end (60 s, and a second for the clocks of Braze's job
    # runners), then the backoff starts over: 10, 15, 22.5, ...
    assert clock.sleeps[:4] == [61.0, 10.0, 15.0, 22.5]
    assert 5 * MINUTE <= result.waited_seconds <= 5 * MINUTE + 60.0


def test_a_job_that_fails_early_is_seen_within_half_its_expected_time(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    users = fake.add_integration(
        history=5, history_duration=3600.0, duration=120.0, outcome="error"
    )

    with pytest.raises(SyncFailed):
        api.call("sync_and_wait", users.integration_id, max_wait=7200)

    assert clock.monotonic() == 600.0  # the first pause: ten minutes, not the hour expected


def test_a_history_of_failures_and_nonsense_durations_sets_no_expectation(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    users = fake.add_integration(duration=MINUTE)
    now = clock.time()
    # Jobs that failed, one that "ended" before it started, one that took a year.
    fake.start_job(users.integration_id, duration=600.0, outcome="error").start = now - 7200
    fake.start_job(users.integration_id, duration=-30.0).start = now - 5400
    fake.start_job(users.integration_id, duration=365 * 86400.0).start = now - 366 * 86400

    result = api.call("sync_and_wait", users.integration_id, poll_interval=10.0)

    assert clock.sleeps == [10.0, 15.0, 22.5, 33.75]  # the backoff of a wait without a history
    assert result.waited_seconds == pytest.approx(81.25)


def test_an_end_expected_after_the_deadline_is_no_guide(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    users = fake.add_integration(history=5, history_duration=3600.0, duration=20.0)

    result = api.call("sync_and_wait", users.integration_id, max_wait=600, poll_interval=10.0)

    # The history says an hour, the wait may take ten minutes: it polls as without a history,
    # and sees the job end, shorter than its history, in good time.
    assert clock.sleeps == [10.0, 15.0]
    assert result.waited_seconds == 25.0


def test_the_expectation_travels_with_the_handle(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    users = fake.add_integration(history=3, history_duration=1800.0, duration=1800.0)

    saved = api.call("start_sync", users.integration_id).model_dump_json()
    handle = SyncHandle.model_validate_json(saved)  # in another process, say
    result = api.call("wait_for_sync", handle)

    assert handle.expected_seconds == 1800.0
    assert clock.sleeps == [600.0, 600.0, 601.0]  # ten minutes at most, then the expected end
    assert result.status_calls == 4
    assert result.waited_seconds == 1801.0
