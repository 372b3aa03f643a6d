"""Client-side request budgets, so that fanning out stays under Braze's per-workspace limits.

A budget of ``calls`` per ``period`` is kept as ``calls`` slots. A request takes the slot that
frees first, and holds it until ``period`` after its *response* arrived. Braze counts a request
at some moment between our send and our receipt, so no ``period``-long stretch of Braze's clock
ever sees more than ``calls`` of ours, however Braze aligns its windows.

Budgets are shared by every client of the process that talks to the same host with the same key
(and the same clock), and are safe to use from threads and from asyncio tasks: a reservation is
an instant, lock-protected decision about *when* the caller may send; the caller then sleeps in
whatever way suits it.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import threading
import weakref
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

from ._errors import BrazeConfigError

__all__ = ["Budget", "EndpointKind", "RateLimit", "RateLimits", "Reservation", "shared_budgets"]

EndpointKind = Literal["trigger", "list", "status"]


@dataclass(frozen=True)
class RateLimit:
    """At most ``calls`` requests in any ``period`` seconds.

    Examples:
        >>> from braze_cdi import RateLimit
        >>> RateLimit(20, 60.0)
        RateLimit(calls=20, period=60.0)
        >>> from braze_cdi import BrazeConfigError
        >>> try:
        ...     RateLimit(0, 60.0)
        ... except BrazeConfigError as error:
        ...     print(error)
        A rate limit needs a positive whole number of calls and a positive period, not ...
    """

    calls: int
    period: float

    def __post_init__(self) -> None:
        if not (isinstance(self.calls, int) and self.calls > 0 and self.period > 0):
            raise BrazeConfigError(
                f"A rate limit needs a positive whole number of calls and a positive period, "
                f"not RateLimit({self.calls!r}, {self.period!r})."
            )


@dataclass(frozen=True)
class RateLimits:
    """One budget per kind of CDI endpoint; the defaults are Braze's documented limits.

    ``None`` for a kind sends its requests without a client-side budget. Pass your own when
    Braze raised your workspace's limits, or lower ones to leave room for other callers of the
    same workspace. ``rate_limits=None`` on a client turns every budget off.

    Examples:
        >>> from braze_cdi import BrazeCDIClient, RateLimit, RateLimits
        >>> RateLimits().trigger
        RateLimit(calls=20, period=60.0)
        >>> half = RateLimits(trigger=RateLimit(10, 60.0), status=RateLimit(50, 60.0))
        >>> client = BrazeCDIClient("my-rest-api-key-1234", "US-01", rate_limits=half)
    """

    trigger: RateLimit | None = RateLimit(20, 60.0)
    list: RateLimit | None = RateLimit(50, 60.0)
    status: RateLimit | None = RateLimit(100, 60.0)

    def for_kind(self, kind: EndpointKind) -> RateLimit | None:
        limit: RateLimit | None = getattr(self, kind)
        return limit


@dataclass
class Reservation:
    """A slot promised to one request: send at ``start`` (a monotonic time), then release it."""

    budget: Budget
    start: float
    previous: float

    def release(self, now: float) -> None:
        """The request was sent (or may have been): the slot frees a period after ``now``."""
        self.budget.free(now + self.budget.limit.period)

    def cancel(self) -> None:
        """The request was not sent: the slot is as it was."""
        self.budget.free(self.previous)


class Budget:
    """The slots of one rate limit, for one workspace: a heap of the times each slot frees.

    A slot leaves the heap while its request awaits an answer, and comes back when released.
    """

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._free_at = [-math.inf] * limit.calls
        self._hold_until = -math.inf
        self._lock = threading.Lock()

    def reserve(self, now: float) -> Reservation | None:
        """Promise the slot that frees first, or ``None`` while every slot awaits an answer."""
        with self._lock:
            if not self._free_at:
                return None
            previous = heapq.heappop(self._free_at)
            return Reservation(self, max(now, previous, self._hold_until), previous)

    def free(self, at: float) -> None:
        with self._lock:
            heapq.heappush(self._free_at, at)

    def exhausted(self, now: float, reset_in: float) -> None:
        """Braze said the window is used up (``X-RateLimit-Remaining: 0``).

        When our own slots explain it, they already hold the next request back; otherwise
        someone else shares the workspace, so hold every slot until Braze's window resets.
        """
        with self._lock:
            if self._free_at and self._free_at[0] <= now:
                self._hold_until = max(self._hold_until, now + min(reset_in, self.limit.period))


_registry: weakref.WeakValueDictionary[tuple[object, ...], Budget] = weakref.WeakValueDictionary()
_registry_lock = threading.Lock()


def shared_budgets(
    limits: RateLimits | None, *, host: str, api_key: SecretStr, clock: object
) -> dict[EndpointKind, Budget]:
    """The process-wide budgets for this workspace, created on first use."""
    if limits is None:
        return {}
    # The registry keeps a digest, never the key itself.
    digest = hashlib.sha256(api_key.get_secret_value().encode()).hexdigest()
    budgets: dict[EndpointKind, Budget] = {}
    with _registry_lock:
        kinds: tuple[EndpointKind, ...] = ("trigger", "list", "status")
        for kind in kinds:
            limit = limits.for_kind(kind)
            if limit is None:
                continue
            # The clock itself, not its id: an id is reused once its object is gone, and a
            # budget's times mean nothing on another clock. The entry keeps its clock alive
            # for exactly as long as its budget lives.
            key = (clock, host, digest, kind, limit.calls, limit.period)
            budget = _registry.get(key)
            if budget is None:
                budget = _registry[key] = Budget(limit)
            budgets[kind] = budget
    return budgets
