"""Faults the reliability work found in the core (fixed in 0c5fec2), each pinned through a real
client over loopback HTTP: what a user would have met, and must not meet again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from braze_cdi import (
    BrazeAPIError,
    BrazeCDIClient,
    BrazeCDIError,
    RateLimit,
    RateLimits,
    RetryPolicy,
    SyncTimeout,
)
from braze_cdi.testing import FakeClock

from .fakes import ScriptedBraze, Step

QUICK = RetryPolicy(max_attempts=5, initial_delay=1.0, max_delay=4.0, jitter=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> ScriptedBraze:
    return ScriptedBraze(clock=clock)


@pytest.fixture
def url(fake: ScriptedBraze) -> Iterator[str]:
    with fake.serve() as served:
        yield served


def _client(fake: ScriptedBraze, url: str, **options: Any) -> BrazeCDIClient:
    return BrazeCDIClient(fake.api_key, url, **{"retry": QUICK, "clock": fake.clock, **options})


def test_an_error_after_a_trigger_of_unknown_outcome_is_never_retryable(
    fake: ScriptedBraze, url: str
) -> None:
    # The trigger starts a job, but its answer is lost; Braze lists the job only later.
    integration = fake.add_integration(history=1, duration=600.0, job_appears_after=300.0)
    fake.inject("trigger", drop=True, takes_effect=True)
    # Other syncs of the process used the trigger budget: a resend would have to wait a minute.
    busy = RateLimits(trigger=RateLimit(1, 60.0))

    with pytest.raises(BrazeCDIError) as caught, _client(fake, url, rate_limits=busy) as client:
        client.sync_and_wait(integration.integration_id, max_wait=30.0, poll_interval=5.0)

    assert integration.triggered_jobs == 1  # the sync runs at Braze ...
    assert not caught.value.retryable, f"an orchestrator would retry: {caught.value!r}"


def test_a_bare_trigger_of_unknown_outcome_is_not_retryable(fake: ScriptedBraze, url: str) -> None:
    integration = fake.add_integration()
    fake.inject("trigger", drop=True, takes_effect=True)

    with pytest.raises(BrazeCDIError) as caught, _client(fake, url) as client:
        client.trigger_sync(integration.integration_id)

    assert integration.triggered_jobs == 1
    assert not caught.value.retryable, f"an orchestrator would retry: {caught.value!r}"


@pytest.mark.parametrize("rate_limits", [None, RateLimits()], ids=["no budgets", "budgets"])
def test_no_trigger_is_sent_after_the_deadline(rate_limits: RateLimits | None) -> None:
    # Real time: the look at the job list before triggering answers after the whole max_wait.
    fake = ScriptedBraze()
    integration = fake.add_integration(history=1, duration=0.2)
    fake.inject("status", delay=0.6)

    with (
        fake.serve() as url,
        BrazeCDIClient(fake.api_key, url, rate_limits=rate_limits) as client,
        pytest.raises(BrazeCDIError) as caught,
    ):
        client.sync_and_wait(integration.integration_id, max_wait=0.3, poll_interval=0.05)

    assert fake.count("trigger") == 0, "a sync was started after the call's deadline"
    assert isinstance(caught.value, SyncTimeout)


def test_a_job_list_whose_next_page_loops_ends_with_a_typed_error(
    fake: ScriptedBraze, url: str
) -> None:
    fake.order = "oldest_first"  # so no page proves the rest of the list is older
    integration = fake.add_integration(history=3, duration=5.0)
    first_page = "c2tpcDow"  # the fake's cursor of offset 0
    fake.inject(
        "status", headers={"Link": f'</cdi/x?cursor={first_page}>; rel="next"'}, times=10**6
    )
    fake.script.append(_cut_off_after(fake, requests=200))

    started = time.monotonic()
    with pytest.raises(BrazeCDIError) as caught, _client(fake, url) as client:
        client.sync_and_wait(integration.integration_id, max_wait=60.0, poll_interval=5.0)

    assert fake.count("status") < 10, f"read {fake.count('status')} pages in a loop"
    assert isinstance(caught.value, BrazeAPIError) and "cursor" in caught.value.message
    assert time.monotonic() - started < 5


def _cut_off_after(fake: ScriptedBraze, *, requests: int) -> Step:
    """After ``requests`` requests, answer 401: what stops the loop when the client does not."""

    def step(request: httpx.Request) -> None:
        if len(fake.requests) == requests:
            fake.faults.clear()
            fake.inject(None, status=401, body={"message": "cut off by the test"}, times=10**6)

    return step


def test_a_job_older_than_the_trigger_is_never_its_result(
    fake: ScriptedBraze, url: str, clock: FakeClock
) -> None:
    integration = fake.add_integration(history=1, duration=25.0)
    # Braze's schedule started a sync two minutes ago, which its list shows only in a moment.
    scheduled = fake.start_job(integration.integration_id, duration=600.0)
    scheduled.start -= 120.0
    scheduled.listed_from = clock.time() + 0.5
    # The trigger fails with a 503; Braze would have refused it anyway, a job is running.
    fake.inject("trigger", status=503)

    with _client(fake, url) as client:
        result = client.sync_and_wait(integration.integration_id, max_wait=3600.0)

    assert result.job.sync_start_time is not None
    started = result.job.sync_start_time.timestamp()
    assert started > scheduled.start + 1, "the result is a job that started before the trigger"
    assert result.triggered and integration.triggered_jobs == 1


def test_the_job_waited_for_is_never_the_result_when_a_look_misses_it(
    fake: ScriptedBraze, url: str, clock: FakeClock
) -> None:
    # Hypothesis found it: a job of Braze's schedule runs, ends, and the next look at the job
    # list comes back empty (a lagging replica); the trigger's job was then looked for after
    # nothing, and the scheduled job, listed again, passed for it. Without a Date header
    # (Braze documents none) nothing else tells the two jobs apart.
    integration = fake.add_integration(duration=300.0)
    scheduled = fake.start_job(integration.integration_id, duration=30.0)
    path = f"/cdi/integrations/{integration.integration_id}/job_sync_status"
    looks_since_it_ended = 0

    def miss_it_once(request: httpx.Request) -> None:
        nonlocal looks_since_it_ended
        if request.url.path == path and clock.time() >= scheduled.start + scheduled.duration:
            looks_since_it_ended += 1
            scheduled.hidden = looks_since_it_ended == 2  # the look just before the trigger

    fake.script.append(miss_it_once)
    fake.without_date = True

    with _client(fake, url) as client:
        result = client.sync_and_wait(integration.integration_id, poll_interval=10.0)

    assert result.job.sync_start_time is not None
    assert result.job.sync_start_time.timestamp() > scheduled.start + 1
    assert result.triggered and integration.triggered_jobs == 1
