"""Time as the clients see it, replaceable in tests so that waits take no real time."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """What the clients need of time. ``braze_cdi.testing.FakeClock`` is the test double."""

    def monotonic(self) -> float: ...

    def time(self) -> float:
        """Wall-clock seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None: ...

    async def asleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        import asyncio  # noqa: PLC0415 (only async users pay for importing asyncio)

        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
