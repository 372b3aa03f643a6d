"""Triggers take slots of a Prefect global concurrency limit, shared by every worker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prefect import flow
from prefect.testing.cli import invoke_and_assert

from braze_cdi.testing import FakeBraze
from prefect_braze_cdi import (
    BrazeCDICredentials,
    atrigger_sync,
    trigger_sync,
    trigger_sync_and_wait_for_completion,
)


@pytest.fixture
def trigger_limit() -> str:
    """A limit created the way the guide says, with the Prefect CLI: one slot, freed in 0.2 s."""
    name = f"braze-triggers-{uuid.uuid4().hex[:8]}"
    invoke_and_assert(
        ["gcl", "create", name, "--limit", "1", "--slot-decay-per-second", "5"],
        expected_output_contains=name,
    )
    return name


def trigger_times(fake: FakeBraze) -> list[float]:
    return sorted(r.time for r in fake.requests if r.kind == "trigger")


def test_triggers_take_a_slot_of_the_global_rate_limit(
    credentials: BrazeCDICredentials, fake: FakeBraze, trigger_limit: str
) -> None:
    first, second = (fake.add_integration(duration=0.1) for _ in range(2))

    @flow
    def two_triggers() -> None:
        for integration in (first, second):
            trigger_sync(credentials, integration.integration_id, rate_limit_name=trigger_limit)

    two_triggers()

    earlier, later = trigger_times(fake)
    assert later - earlier >= 0.15


def test_async_twin_takes_a_slot_too(
    credentials: BrazeCDICredentials, fake: FakeBraze, trigger_limit: str
) -> None:
    first, second = (fake.add_integration(duration=0.1) for _ in range(2))

    @flow
    async def two_triggers_at_once() -> None:
        await asyncio.gather(
            *(
                atrigger_sync(credentials, i.integration_id, rate_limit_name=trigger_limit)
                for i in (first, second)
            )
        )

    asyncio.run(two_triggers_at_once())

    earlier, later = trigger_times(fake)
    assert later - earlier >= 0.15


def test_missing_rate_limit_fails_before_any_request(
    credentials: BrazeCDICredentials, fake: FakeBraze
) -> None:
    integration = fake.add_integration(duration=0.1)

    state = trigger_sync_and_wait_for_completion(
        credentials,
        integration.integration_id,
        rate_limit_name="no-such-limit",
        return_state=True,
    )

    assert state.is_failed()
    assert "no-such-limit" in (state.message or "")
    assert fake.count() == 0
