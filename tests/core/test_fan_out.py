"""Fanning out over many integrations stays under Braze's limits: zero 429s."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from braze_cdi import (
    AsyncBrazeCDIClient,
    BrazeCDIClient,
    BrazeConfigError,
    RateLimit,
    RateLimits,
    SyncFailed,
    SyncResult,
)
from braze_cdi.testing import FakeBraze, FakeClock

LIMITS = RateLimits(trigger=RateLimit(10, 1.0), list=RateLimit(50, 1.0), status=RateLimit(100, 1.0))


def test_thirty_integrations_all_succeed_with_zero_429s() -> None:
    fake = FakeBraze(rate_limits=LIMITS)
    ids = [fake.add_integration(history=1, duration=0.2).integration_id for _ in range(30)]

    async def main(url: str) -> list[SyncResult | Exception]:
        async with AsyncBrazeCDIClient(fake.api_key, url, rate_limits=LIMITS) as client:
            return await client.sync_many(ids, max_concurrency=30, poll_interval=0.05)

    with fake.serve() as url:
        results = asyncio.run(main(url))
    assert all(isinstance(r, SyncResult) and r.triggered for r in results)
    assert [r.integration_id for r in results] == ids  # type: ignore[union-attr]
    assert fake.count(status=429) == 0
    assert fake.count("trigger", status=202) == 30
    assert all(i.triggered_jobs == 1 for i in fake.integrations.values())


def test_sync_many_reports_every_outcome_in_input_order() -> None:
    fake = FakeBraze(rate_limits=None)
    good = fake.add_integration(duration=0.1).integration_id
    bad = fake.add_integration(duration=0.1, outcome="error").integration_id
    also_good = fake.add_integration(duration=0.3).integration_id

    async def main(url: str) -> list[SyncResult | Exception]:
        async with AsyncBrazeCDIClient(fake.api_key, url, rate_limits=None) as client:
            return await client.sync_many([good, bad, also_good], poll_interval=0.05)

    with fake.serve() as url:
        first, second, third = asyncio.run(main(url))
    assert isinstance(first, SyncResult) and isinstance(third, SyncResult)
    assert isinstance(second, SyncFailed) and second.integration_id == bad


def test_sync_many_refuses_duplicates_before_any_request(fake: FakeBraze, url: str) -> None:
    async def main() -> None:
        async with AsyncBrazeCDIClient(fake.api_key, url) as client:
            await client.sync_many(["a", "a"])

    with pytest.raises(BrazeConfigError, match="twice"):
        asyncio.run(main())
    assert fake.requests == []


def test_clients_of_one_workspace_share_one_budget() -> None:
    clock = FakeClock()  # 1_800_000_000: the start of one of Braze's minutes
    fake = FakeBraze(clock=clock)
    limits = RateLimits(list=RateLimit(3, 60.0))
    with (
        BrazeCDIClient(
            fake.api_key, "US-01", transport=fake, clock=clock, rate_limits=limits
        ) as first,
        BrazeCDIClient(
            fake.api_key, "US-01", transport=fake, clock=clock, rate_limits=limits
        ) as second,
    ):
        clock.advance(20.0)
        for client in (first, second, first):
            list(client.list_integrations())
        # A fourth call within the minute waits for the shared budget: until Braze's window
        # ends (its X-RateLimit-Reset), plus a quarter of a second, not a minute after the third.
        budget = second._budgets["list"]
        reservation = budget.reserve(clock.monotonic())
        assert reservation is not None
        reservation.cancel()
        assert reservation.start == 60.25


def test_rate_limits_none_sends_without_a_budget(fake: FakeBraze, url: str) -> None:
    with BrazeCDIClient(fake.api_key, url, rate_limits=None) as client:
        for _ in range(5):
            list(client.list_integrations())
        assert client._budgets == {}
    assert fake.count("list", status=200) == 5


def _two_syncs(fake: FakeBraze, clock: FakeClock) -> tuple[str, str]:
    """A sync that takes 10 minutes and one that takes 10 seconds, in virtual time."""
    slow = fake.add_integration(name="slow", duration=600.0).integration_id
    quick = fake.add_integration(name="quick", duration=10.0).integration_id
    return slow, quick


def test_sync_as_completed_hands_out_each_outcome_as_its_sync_ends() -> None:
    clock = FakeClock()
    fake = FakeBraze(clock=clock, rate_limits=None)
    slow, quick = _two_syncs(fake, clock)

    async def main() -> list[tuple[str, str]]:
        async with AsyncBrazeCDIClient(
            fake.api_key, "US-01", transport=fake, clock=clock, rate_limits=None
        ) as client:
            return [
                (integration_id, type(outcome).__name__)
                async for integration_id, outcome in client.sync_as_completed(
                    [slow, quick], poll_interval=5.0
                )
            ]

    assert asyncio.run(main()) == [(quick, "SyncResult"), (slow, "SyncResult")]


def test_leaving_sync_as_completed_early_stops_the_other_waits() -> None:
    clock = FakeClock()
    fake = FakeBraze(clock=clock, rate_limits=None)
    slow, quick = _two_syncs(fake, clock)

    async def main() -> tuple[str, int]:
        async with AsyncBrazeCDIClient(
            fake.api_key, "US-01", transport=fake, clock=clock, rate_limits=None
        ) as client:
            syncs = client.sync_as_completed([slow, quick], poll_interval=5.0)
            async with contextlib.aclosing(syncs):
                integration_id, _ = await anext(syncs)
            seen = len(fake.requests)
            await asyncio.sleep(0.05)  # a wait still running would poll meanwhile
            return integration_id, len(fake.requests) - seen

    first, requests_after = asyncio.run(main())
    assert first == quick
    assert requests_after == 0
    assert fake.integrations[slow].triggered_jobs == 1  # Braze's job goes on


def test_sync_as_completed_checks_its_arguments_before_any_request(fake: FakeBraze) -> None:
    async def main() -> None:
        async with AsyncBrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            async for _ in client.sync_as_completed(["a", "b"], max_concurrency=0):
                pass

    with pytest.raises(BrazeConfigError, match="max_concurrency must be a positive integer"):
        asyncio.run(main())
    assert fake.requests == []
