"""Triggers sent to Braze's window: as soon as its X-RateLimit-Reset says the next window
opens, never into a window that is used up.

In process, on a virtual clock: FakeBraze counts requests in fixed windows of its own clock
(which may run apart from ours, by any fraction of a second), and says when each ends.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from braze_cdi import BrazeCDIClient, RateLimit, RateLimits
from braze_cdi._clock import BrazeTime
from braze_cdi.testing import FakeBraze, FakeClock, FakeJob


def _scene(
    calls: int, period: float, *, start: float, skew: float = 0.0
) -> tuple[FakeBraze, BrazeCDIClient, list[str]]:
    clock = FakeClock(start=start)
    limits = RateLimits(trigger=RateLimit(calls, period))
    fake = FakeBraze(clock=clock, rate_limits=limits, clock_skew=skew)
    ids = [fake.add_integration(duration=0.0).integration_id for _ in range(3 * calls)]
    client = BrazeCDIClient(fake.api_key, "US-01", transport=fake, clock=clock, rate_limits=limits)
    return fake, client, ids


def test_the_next_trigger_goes_when_brazes_window_ends_not_a_period_later() -> None:
    # 17.3 s into one of Braze's minutes.
    fake, client, ids = _scene(3, 60.0, start=1_800_000_017.3)
    with client:
        for integration_id in ids[:6]:
            client.trigger_sync(integration_id)

    assert fake.count(status=429) == 0
    sent = [r.time - 1_800_000_000.0 for r in fake.requests]
    assert sent[:3] == pytest.approx([17.3, 17.3, 17.3])
    # Braze's next minute starts at 60: the fourth trigger goes then, not at 77.3, a minute
    # after the third. Then is 60.55: Braze's Date said 17 s when it was 17.3, so its clock
    # is placed 0.3 s late, and a quarter of a second is left for the granularity of clocks.
    assert sent[3:] == pytest.approx([60.55, 60.55, 60.55])


def test_a_window_placed_by_whole_seconds_of_date_is_never_entered_early() -> None:
    # Braze's clock is 0.6 s ahead of ours: its Date, to the second, hides that.
    fake, client, ids = _scene(2, 1.0, start=1_800_000_000.55, skew=0.6)
    with client:
        for integration_id in ids:
            client.trigger_sync(integration_id)

    assert fake.count(status=429) == 0
    assert len(fake.requests) == len(ids)


@settings(max_examples=60, deadline=None)
@given(
    calls=st.integers(1, 4),
    period=st.sampled_from([1.0, 10.0, 60.0]),
    offset=st.floats(0.0, 1.0, exclude_max=True),
    skew=st.floats(-5.0, 5.0),
    pauses=st.lists(st.floats(0.0, 3.0), min_size=1, max_size=12),
)
def test_triggers_on_brazes_windows_never_meet_a_429(
    calls: int, period: float, offset: float, skew: float, pauses: list[float]
) -> None:
    fake, client, ids = _scene(calls, period, start=1_800_000_000.0 + offset * period, skew=skew)
    with client:
        for integration_id, pause in zip(ids, pauses, strict=False):
            fake.clock.advance(pause)  # type: ignore[attr-defined]
            client.trigger_sync(integration_id)

    assert fake.count(status=429) == 0
    per_window: dict[int, int] = {}
    for request in fake.requests:
        window = math.floor((request.time + skew) / period)
        per_window[window] = per_window.get(window, 0) + 1
    assert max(per_window.values()) <= calls


def test_a_proxy_that_misplaces_the_window_costs_one_429_then_none() -> None:
    fake, client, ids = _scene(2, 60.0, start=1_800_000_030.0)
    # A proxy says every window ends 20 s before Braze's does.
    fake.inject("trigger", headers={"X-RateLimit-Reset": str(1_800_000_040)}, times=2)
    with client:
        for integration_id in ids[:6]:
            client.trigger_sync(integration_id)

    # The second window's first trigger went too early and was refused, then resent: from
    # then on the windows are not trusted, and slots free a minute after their answer.
    assert fake.count(status=429) == 1
    assert client._braze_time.trusted is False
    assert sum(i.triggered_jobs for i in fake.integrations.values()) == 6


def test_a_reset_beyond_one_window_of_date_is_ignored() -> None:
    fake, client, ids = _scene(2, 60.0, start=1_800_000_030.0)
    fake.inject("trigger", headers={"X-RateLimit-Reset": "99999999999"}, times=10)
    with client:
        for integration_id in ids[:4]:
            client.trigger_sync(integration_id)

    assert fake.count(status=429) == 0
    sent = [r.time - 1_800_000_000.0 for r in fake.requests]
    assert sent[2] >= 90.0  # a minute after the first answers: the sliding budget


def test_brazes_clock_is_known_from_when_its_second_ticks() -> None:
    braze = BrazeTime()
    assert braze.latest(100.0) is None
    braze.observe(date=1000.0, sent=10.0, answered=10.2)  # offset in [989.8, 990.8]
    assert braze.latest(1100.0) == pytest.approx(110.2)
    braze.observe(date=1001.0, sent=10.9, answered=10.95)  # the second ticked in between
    assert braze.latest(1100.0) == pytest.approx(109.95)
    braze.observe(date=1005.0, sent=11.0, answered=11.0)  # a Date that cannot be
    assert braze.trusted is False and braze.latest(1100.0) is None


def test_a_trigger_that_waits_for_its_turn_looks_at_the_job_list_after_the_wait() -> None:
    # One trigger a minute: the second sync waits for its turn, and meanwhile Braze's schedule
    # runs a job of that integration from start to end.
    class ScheduleRunsDuringTheWait(FakeClock):
        def sleep(self, seconds: float) -> None:
            if seconds > 30 and not scheduled:
                scheduled.append(fake.start_job(later.integration_id, duration=5.0))
            super().sleep(seconds)

    scheduled: list[FakeJob] = []
    clock = ScheduleRunsDuringTheWait()
    one_a_minute = RateLimits(trigger=RateLimit(1, 60.0))
    fake = FakeBraze(clock=clock, rate_limits=one_a_minute)
    first, later = (fake.add_integration(history=2, duration=10.0) for _ in range(2))
    with BrazeCDIClient(
        fake.api_key, "US-01", transport=fake, clock=clock, rate_limits=one_a_minute
    ) as client:
        client.sync_and_wait(first.integration_id)
        result = client.sync_and_wait(later.integration_id)

    [job] = scheduled
    assert result.triggered and later.triggered_jobs == 1
    # Its own job, not the scheduled one that ended while it waited for its turn: it looked at
    # the job list once its turn had come (one look, the scheduled job in it), then triggered.
    own = later.jobs[-1]
    assert own.triggered and own.start > job.start + job.duration
    assert result.job.sync_start_time.timestamp() == pytest.approx(own.start, abs=1e-3)
    assert fake.count("status") == 3 + 3  # each: a look, a poll at once, one at the end
    assert fake.count(status=429) == 0
