"""Client-side request budgets, so that fanning out stays under Braze's per-workspace limits.

A budget of ``calls`` per ``period`` is kept as ``calls`` slots. A request takes the slot that
frees first, and holds it until ``period`` after its *response* arrived. Braze counts a request
at some moment between our send and our receipt, so no ``period``-long stretch of Braze's clock
ever sees more than ``calls`` of ours, however Braze aligns its windows. When Braze's answer
says when the window that counted the request ends (``X-RateLimit-Reset``, placed on our clock
through ``BrazeTime``), the slot frees at that end instead: the next request goes out as soon
as Braze can accept it, not a period after the last.

Budgets are shared by every client of the process that talks to the same host with the same key
(and the same clock), and by default with every process of the machine (``MachineBudget``). They
are safe to use from threads and from asyncio tasks: a reservation is an instant, lock-protected
decision about *when* the caller may send; the caller then sleeps in whatever way suits it.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import math
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from ._budget_store import SlotStore, StoreUnavailable, state_directory
from ._clock import SYSTEM_CLOCK, BrazeTime
from ._errors import BrazeConfigError

__all__ = [
    "Budget",
    "EndpointKind",
    "MachineBudget",
    "RateLimit",
    "RateLimits",
    "Reservation",
    "shared_braze_time",
    "shared_budgets",
    "window_end_to_free",
]

logger = logging.getLogger("braze_cdi")

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

    With ``across_processes`` (the default), every process of this machine that calls the same
    workspace shares one budget, kept in a small SQLite file in ``BRAZE_CDI_STATE_DIR`` (else
    ``$XDG_STATE_HOME/braze-cdi``): a Dagster run's step processes and several Prefect workers
    on one host stay inside Braze's limits together. Set it to ``False`` to keep budgets to
    one process. Across machines, use the orchestrator's own limits (Dagster pools, Prefect's
    global concurrency limits).

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
    across_processes: bool = True

    def for_kind(self, kind: EndpointKind) -> RateLimit | None:
        limit: RateLimit | None = getattr(self, kind)
        return limit


@dataclass
class Reservation:
    """A slot promised to one request: send at ``start`` (a monotonic time), then release it."""

    budget: Budget
    start: float
    slot: int = 0
    previous: float = -math.inf
    lease_until: float = math.inf  # a budget shared between processes frees the slot then

    def release(self, free_at: float) -> None:
        """The request was sent (or may have been): the slot frees at ``free_at``."""
        self.budget.give_back(self, free_at)

    def cancel(self) -> None:
        """The request was not sent: the slot is as it was."""
        self.budget.give_back(self, self.previous)


class Budget:
    """The slots of one rate limit, for one workspace, kept by this process alone: a heap of
    the times each slot frees. A slot leaves the heap while its request awaits an answer."""

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
            return Reservation(self, max(now, previous, self._hold_until), previous=previous)

    def give_back(self, reservation: Reservation, free_at: float) -> None:
        with self._lock:
            heapq.heappush(self._free_at, free_at)

    def exhausted(self, now: float, until: float) -> None:
        """Braze said the window is used up (``X-RateLimit-Remaining: 0``) until ``until``.

        When our own slots explain it, they already hold the next request back; otherwise
        someone else shares the workspace, so hold every slot until Braze's window resets (at
        most a period from now).
        """
        with self._lock:
            if self._free_at and self._free_at[0] <= now:
                self._hold_until = max(self._hold_until, min(until, now + self.limit.period))


class MachineBudget(Budget):
    """The slots of one rate limit, for one workspace, shared by every process of this
    machine through a ``SlotStore``. When the store cannot be used (a read-only disk, say),
    the budget falls back to this process alone, and says so once in the log."""

    def __init__(
        self, limit: RateLimit, store: SlotStore, name: str, longest_request: float
    ) -> None:
        super().__init__(limit)
        self._store = store
        self._name = name
        # A slot is leased from when its request may be sent until its answer is due at the
        # latest, plus the period; no time in the store can lie further ahead than the horizon.
        self._lease = longest_request + limit.period
        self._horizon = 2 * (longest_request + 2 * limit.period)
        self._alone = False

    def reserve(self, now: float) -> Reservation | None:
        if not self._alone:
            try:
                taken = self._store.take(
                    self._name, self.limit.calls, now, self._lease, self._horizon
                )
            except StoreUnavailable as error:
                self._fall_back(error)
            else:
                if taken is None:
                    return None
                slot, previous, start, lease_until = taken
                return Reservation(self, start, slot, previous, lease_until)
        return super().reserve(now)

    def give_back(self, reservation: Reservation, free_at: float) -> None:
        if self._alone:
            return super().give_back(reservation, free_at)
        try:
            self._store.give_back(self._name, reservation.slot, reservation.lease_until, free_at)
        except StoreUnavailable as error:
            self._fall_back(error)
        return None

    def exhausted(self, now: float, until: float) -> None:
        if self._alone:
            return super().exhausted(now, until)
        until = min(until, now + self.limit.period)
        try:
            self._store.hold(self._name, self.limit.calls, until, now, self._horizon)
        except StoreUnavailable as error:
            self._fall_back(error)
        return None

    def _fall_back(self, error: StoreUnavailable) -> None:
        if not self._alone:
            self._alone = True
            logger.warning(
                "braze-cdi: the rate budgets shared with other processes in %s cannot be used "
                "(%s); this process keeps its own budgets.",
                self._store.path,
                error,
            )


WINDOW_MARGIN = 0.25
"""Seconds, at most, between the end of Braze's window and the first request meant for the
next: a fiftieth of the window for short ones."""


def window_end_to_free(limit: RateLimit, answered: float, window_end: float | None) -> float:
    """When a slot may be used again, given its request's answer came at ``answered``.

    A period after the answer is always safe, however Braze aligns its windows. When Braze
    said when the window that counted the request ends (``window_end``, on our clock, at the
    latest), the slot frees then instead, plus a margin for the granularity of clocks.
    """
    after_a_period = answered + limit.period
    if window_end is None:
        return after_a_period
    return min(after_a_period, window_end + min(WINDOW_MARGIN, limit.period / 50))


_registry: weakref.WeakValueDictionary[tuple[object, ...], Budget] = weakref.WeakValueDictionary()
_times: weakref.WeakValueDictionary[tuple[object, ...], BrazeTime] = weakref.WeakValueDictionary()
_registry_lock = threading.Lock()
_stores: weakref.WeakValueDictionary[Path, SlotStore] = weakref.WeakValueDictionary()


def shared_budgets(
    limits: RateLimits | None,
    *,
    host: str,
    api_key: SecretStr,
    clock: object,
    longest_request: float,
) -> dict[EndpointKind, Budget]:
    """The budgets for this workspace, created on first use: shared by every client of the
    process, and with ``limits.across_processes`` on the real clock, by every process of the
    machine. ``longest_request`` is the longest a slot may be held before its request's answer
    (a trigger's slot is held through the look at the job list before it, that call's retries
    included): a slot shared between processes frees a period after it, if its holder died."""
    if limits is None:
        return {}
    # The registry and the store keep a digest, never the key itself.
    digest = hashlib.sha256(api_key.get_secret_value().encode()).hexdigest()
    machine = limits.across_processes and clock is SYSTEM_CLOCK
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
            key = (clock, host, digest, kind, limit.calls, limit.period, machine, longest_request)
            budget = _registry.get(key)
            if budget is None:
                if machine:
                    name = hashlib.sha256(repr(key[1:6]).encode()).hexdigest()[:32]
                    path = state_directory() / "rate-budgets.sqlite3"
                    store = _stores.get(path)
                    if store is None:
                        store = _stores[path] = SlotStore(path)
                    budget = MachineBudget(limit, store, name, longest_request)
                else:
                    budget = Budget(limit)
                _registry[key] = budget
            budgets[kind] = budget
    return budgets


def shared_braze_time(host: str, clock: object) -> BrazeTime:
    """What the process knows of ``host``'s clock against ``clock``, shared by its clients."""
    with _registry_lock:
        known = _times.get((clock, host))
        if known is None:
            known = _times[(clock, host)] = BrazeTime()
        return known
