"""Time as the clients see it, replaceable in tests so that waits take no real time."""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["BrazeTime", "Clock", "SystemClock"]


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


class BrazeTime:
    """Braze's clock against ours, read off its ``Date`` headers: bounds that tighten with
    every answer.

    ``Date`` is Braze's time to the second, truncated, when it answered; we know only that it
    answered between sending at ``sent`` and reading at ``answered`` (our monotonic clock). So
    Braze's clock less ours lies in ``[date - answered, date + 1 - sent]``, and every answer
    narrows that interval: once an answer comes back just after Braze's second ticked, the
    lower bound is within a round trip of the truth.

    Only the lower bound is used, to place an instant of Braze's clock on ours no earlier than
    it can be (``latest``): a request sent then reaches Braze after that instant. Answers that
    contradict each other (servers whose clocks disagree, a ``Date`` that is rounded or forged)
    end the estimate for good, and ``latest`` returns ``None``.
    """

    def __init__(self) -> None:
        self._low = -float("inf")
        self._high = float("inf")
        self.trusted = True
        self._lock = threading.Lock()

    def observe(self, date: float, sent: float, answered: float) -> None:
        """Take one answer: its ``Date`` (epoch seconds) and when it was sent and read."""
        with self._lock:
            self._low = max(self._low, date - answered)
            self._high = min(self._high, date + 1 - sent)
            if self._low > self._high:
                self.trusted = False

    def distrust(self) -> None:
        """Braze did something the estimate said it would not (a 429 the windows ruled out)."""
        with self._lock:
            self.trusted = False

    def latest(self, braze_time: float) -> float | None:
        """The latest instant of our clock at which Braze's clock can read ``braze_time``."""
        with self._lock:
            if not self.trusted or self._low == -float("inf"):
                return None
            return braze_time - self._low
