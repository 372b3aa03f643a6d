"""What is retried, how long it waits, and what is never sent twice (virtual clock)."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from braze_cdi import BrazeRateLimited, BrazeServerError, BrazeTransportError, RetryPolicy
from braze_cdi.testing import FakeBraze, FakeClock

from .conftest import Api

NO_JITTER = RetryPolicy(max_attempts=5, initial_delay=1.0, max_delay=30.0, jitter=False)


def test_two_503s_then_success(virtual: tuple[FakeBraze, Api]) -> None:
    fake, api = virtual
    integration = fake.add_integration(history=2)
    fake.inject("status", status=503, times=2)
    api.options["retry"] = NO_JITTER
    assert api.call("latest_sync_job", integration.integration_id) is not None
    assert [r.status for r in fake.requests] == [503, 503, 200]


def test_503_forever_gives_server_error_after_the_policy_attempts_and_delays(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    integration = fake.add_integration()
    fake.inject("status", status=503, times=99)
    api.options["retry"] = NO_JITTER
    with pytest.raises(BrazeServerError) as caught:
        api.call("latest_sync_job", integration.integration_id)
    assert caught.value.status_code == 503
    assert fake.count("status") == 5
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]


def test_backoff_is_capped_by_max_delay_and_jittered_within_it(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    fake.inject("list", status=500, times=99)
    api.options["retry"] = RetryPolicy(
        max_attempts=6, initial_delay=1.0, max_delay=5.0, max_duration=1e6
    )
    with pytest.raises(BrazeServerError):
        api.items("list_integrations")
    ceilings = [1.0, 2.0, 4.0, 5.0, 5.0]
    assert len(clock.sleeps) == 5
    assert all(0 <= slept <= ceiling for slept, ceiling in zip(clock.sleeps, ceilings, strict=True))


def test_max_duration_stops_retries_early(virtual: tuple[FakeBraze, Api], clock: FakeClock) -> None:
    fake, api = virtual
    fake.inject("list", status=503, times=99)
    api.options["retry"] = RetryPolicy(
        max_attempts=10, initial_delay=1.0, jitter=False, max_duration=10.0
    )
    with pytest.raises(BrazeServerError):
        api.items("list_integrations")
    assert clock.sleeps == [1.0, 2.0, 4.0]  # the next pause (8 s) would cross the 10 s deadline
    assert fake.count("list") == 4


def test_rate_limit_waits_until_reset_measured_by_brazes_date_header(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    braze_now = clock.time() + 3600  # Braze's clock an hour ahead of ours: irrelevant
    fake.inject(
        "list",
        status=429,
        body={"message": "API rate limit exceeded"},
        headers={
            "Date": formatdate(braze_now, usegmt=True),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(braze_now) + 17),
        },
    )
    api.options["retry"] = NO_JITTER
    assert api.items("list_integrations") == []
    assert clock.sleeps == [17.0]


def test_rate_limit_wait_never_exceeds_the_window(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    fake.inject("list", status=429, headers={"Retry-After": "3600", "X-RateLimit-Remaining": "0"})
    api.options["retry"] = NO_JITTER
    api.items("list_integrations")
    assert clock.sleeps == [60.0]


def test_a_500_on_a_bare_trigger_is_not_resent(virtual: tuple[FakeBraze, Api]) -> None:
    fake, api = virtual
    integration = fake.add_integration()
    fake.inject("trigger", status=500, takes_effect=True)
    with pytest.raises(BrazeServerError):
        api.call("trigger_sync", integration.integration_id)
    assert fake.count("trigger") == 1
    assert integration.triggered_jobs == 1


def test_a_dropped_trigger_connection_is_not_resent(virtual: tuple[FakeBraze, Api]) -> None:
    fake, api = virtual
    integration = fake.add_integration()
    fake.inject("trigger", drop=True)
    with pytest.raises(BrazeTransportError) as caught:
        api.call("trigger_sync", integration.integration_id)
    assert caught.value.connected
    assert fake.count("trigger") == 1


def test_a_rate_limited_trigger_is_resent(virtual: tuple[FakeBraze, Api]) -> None:
    fake, api = virtual
    integration = fake.add_integration()
    fake.inject(
        "trigger",
        status=429,
        body={"message": "API rate limit exceeded"},
        headers={"X-RateLimit-Remaining": "0", "Retry-After": "2"},
    )
    api.call("trigger_sync", integration.integration_id)
    assert [r.status for r in fake.requests] == [429, 202]
    assert integration.triggered_jobs == 1


def test_rate_limit_exhausted_after_all_attempts(virtual: tuple[FakeBraze, Api]) -> None:
    fake, api = virtual
    fake.inject(
        "list", status=429, headers={"Retry-After": "1", "X-RateLimit-Remaining": "0"}, times=99
    )
    with pytest.raises(BrazeRateLimited):
        api.items("list_integrations")
    assert fake.count("list") == 5
