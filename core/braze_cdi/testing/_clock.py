"""Virtual time for tests: sleeping advances it at once, so long waits take no real time."""

from __future__ import annotations

import asyncio
import threading


class FakeClock:
    """A clock that only moves when something sleeps on it (or ``advance`` is called).

    Pass the same instance to ``FakeBraze(clock=...)`` and to the client (``clock=...``): jobs
    then run, and waits end, without real time passing. ``sleeps`` records every sleep.

    Examples:
        >>> from braze_cdi.testing import FakeClock
        >>> clock = FakeClock()
        >>> clock.sleep(90.0)
        >>> clock.monotonic(), clock.sleeps
        (90.0, [90.0])
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._elapsed = 0.0
        self._start = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """Seconds slept (or advanced) so far."""
        return self._elapsed

    def time(self) -> float:
        """Wall-clock seconds since the epoch: ``start`` plus the time slept so far."""
        return self._start + self._elapsed

    def advance(self, seconds: float) -> None:
        """Move time on without recording a sleep (a job "runs" meanwhile)."""
        with self._lock:
            self._elapsed += max(0.0, seconds)

    def sleep(self, seconds: float) -> None:
        """Record the sleep and advance by it, at once."""
        self.sleeps.append(seconds)
        self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        """``sleep``, then let other tasks run."""
        self.sleep(seconds)
        await asyncio.sleep(0)
