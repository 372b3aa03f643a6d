"""Virtual time for many asyncio tasks: an event loop whose clock jumps instead of waiting.

``braze_cdi.testing.FakeClock`` is right for one task only: its ``asleep`` moves time on at once,
so the sleeps of concurrent tasks add up. Here the event loop keeps the time. When no callback
is ready, the loop would block in its selector until the next timer is due; this selector moves
the loop's time on to that moment instead, and returns at once. Concurrent sleeps therefore
overlap as they would in real time, and a run of an hour takes as long as its callbacks take.

There is no real I/O to wait for: the client talks to an in-process ``FakeBraze`` through
``transport=fake``. What is ready on the loop's own file descriptors (its self-pipe) is still
handed over first. A loop with nothing ready and no timer left could only wait forever: that
is a deadlock, and it raises ``Deadlock`` (after a few real seconds for a thread to wake it).

Examples:
    >>> import asyncio
    >>> async def two_sleepers(clock):
    ...     await asyncio.gather(clock.asleep(300.0), clock.asleep(300.0))
    ...     return clock.monotonic()
    >>> run_virtual(two_sleepers)  # overlapping, as in real time: not 600
    300.0
"""

from __future__ import annotations

import asyncio
import random
import selectors
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

#: A wall-clock start that is a multiple of 60 s (Braze's windows are aligned to the period).
ALIGNED_EPOCH = 1_800_000_000.0
#: How far into a window of Braze's the runs start. Not a window boundary, so that a client
#: gets no help from starting just as a window opens (see ``docs/performance.md``).
START_OFFSET = 17.3

#: Real seconds a loop with nothing to do waits for another thread before calling it a deadlock.
_DEADLOCK_AFTER = 5.0


class Deadlock(RuntimeError):
    """The loop had nothing ready and no timer: it would have waited forever."""


class _VirtualSelector(selectors.BaseSelector):
    """The loop's real selector, except that waiting moves the loop's time on instead."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            # Only another thread could still wake the loop (call_soon_threadsafe).
            ready = self._real.select(_DEADLOCK_AFTER)
            if not ready:
                raise Deadlock(
                    "the event loop has no callback ready and no timer: every task waits for "
                    "something that nothing will do"
                )
            return ready
        self._loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on virtual time: ``time()`` starts at 0 and moves only when the loop
    would otherwise wait (by exactly the wait)."""

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(selector=_VirtualSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += max(0.0, seconds)


class VirtualClock:
    """The ``braze_cdi`` Clock on a ``VirtualTimeLoop``: give the same instance to the
    ``FakeBraze`` and to the client.

    ``monotonic()`` is the loop's time; ``time()`` is ``epoch`` plus it. ``asleep`` is
    ``asyncio.sleep``, so concurrent sleeps overlap. The blocking ``sleep`` would stop every
    task at once, which the async client never does: it raises.
    """

    def __init__(self, loop: VirtualTimeLoop, epoch: float = ALIGNED_EPOCH + START_OFFSET) -> None:
        self.loop = loop
        self.epoch = epoch

    def monotonic(self) -> float:
        return self.loop.time()

    def time(self) -> float:
        return self.epoch + self.loop.time()

    def sleep(self, seconds: float) -> None:
        raise RuntimeError(
            f"a blocking sleep({seconds}) on virtual time: only asleep is meaningful here"
        )

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def run_virtual(
    main: Callable[[VirtualClock], Coroutine[Any, Any, T]],
    *,
    epoch: float = ALIGNED_EPOCH + START_OFFSET,
    seed: int | None = 16,
) -> T:
    """Run ``main(clock)`` to its end on a fresh ``VirtualTimeLoop``; ``clock`` is its
    ``VirtualClock`` (build the fake and the client on it, inside ``main`` or before).

    With ``seed``, the global ``random`` generator (the retry's jitter draws from it) is
    seeded first, so that a run on virtual time gives the same figures every time.
    """
    if seed is not None:
        random.seed(seed)
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main(VirtualClock(loop, epoch)))
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()
