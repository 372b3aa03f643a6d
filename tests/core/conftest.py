"""Run each core behaviour through both clients, over real loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from braze_cdi import AsyncBrazeCDIClient, BrazeCDIClient, RetryPolicy
from braze_cdi.testing import FakeBraze, FakeClock

#: Fast, deterministic retries for tests: delays are 0.01, 0.02, 0.04, ...
QUICK_RETRY = RetryPolicy(initial_delay=0.01, max_delay=0.1, jitter=False)


@dataclass
class Api:
    """Calls one client method, sync or async, with a fresh client each time (as a user would
    in a script), so every test runs the same way through both clients."""

    mode: str
    url: str
    api_key: str
    options: dict[str, Any] = field(default_factory=dict)

    def client_options(self, **overrides: Any) -> dict[str, Any]:
        return {"retry": QUICK_RETRY, **self.options, **overrides}

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.mode == "sync":
            with BrazeCDIClient(self.api_key, self.url, **self.client_options()) as client:
                return getattr(client, method)(*args, **kwargs)

        async def go() -> Any:
            async with AsyncBrazeCDIClient(
                self.api_key, self.url, **self.client_options()
            ) as client:
                return await getattr(client, method)(*args, **kwargs)

        return asyncio.run(go())

    def items(self, method: str, *args: Any, **kwargs: Any) -> list[Any]:
        if self.mode == "sync":
            with BrazeCDIClient(self.api_key, self.url, **self.client_options()) as client:
                return list(getattr(client, method)(*args, **kwargs))

        async def go() -> list[Any]:
            async with AsyncBrazeCDIClient(
                self.api_key, self.url, **self.client_options()
            ) as client:
                return [item async for item in getattr(client, method)(*args, **kwargs)]

        return asyncio.run(go())


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, fake: FakeBraze, url: str) -> Api:
    return Api(request.param, url, fake.api_key)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sync", "async"])
def virtual(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[tuple[FakeBraze, Api]]:
    """A fake and a client sharing a virtual clock: hour-long waits take no real time."""
    fake = FakeBraze(clock=clock)
    with fake.serve() as served:
        yield fake, Api(request.param, served, fake.api_key, {"clock": clock})
