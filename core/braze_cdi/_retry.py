"""How one call is sent: within the rate budget, retried when that is safe, inside a deadline."""

from __future__ import annotations

import random
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._clock import BrazeTime, Clock
from ._config import accept_renamed, renamed_message
from ._errors import BrazeCDIError, BrazeRateLimited, BrazeTransportError
from ._exchange import NoAnswer
from ._protocol import (
    Call,
    Notify,
    Op,
    Outcome,
    Redact,
    Send,
    Sleep,
    braze_epoch,
    error_for,
    header_number,
    may_have_reached_braze,
    rate_limit_exhausted,
    rate_limit_wait,
    transport_error,
)
from ._rate_limit import Budget, EndpointKind, RateLimit, Reservation, window_end_to_free
from .events import Retrying, WaitingForBudget

__all__ = ["Context", "RetryPolicy", "send", "send_once", "take_slot"]

T = TypeVar("T")


class RetryPolicy(BaseModel):  # a model, so that blocks and resources can hold one
    """How transient failures are retried: exponential backoff, full jitter, a longest duration.

    Retried: 5xx answers, transport errors, 2xx answers whose body cannot be read, and
    rate-limit 429s (after the wait Braze's headers give, at most the limit's window). Never
    retried: any other 4xx. A trigger is resent only when it provably did not reach Braze; see
    ``start_sync`` for what happens when its outcome is unknown. The policy applies to each
    HTTP call, ``max_duration`` included (``deadline`` is its deprecated name); a wait's polls
    are bounded by the wait's own ``max_wait``.

    Examples:
        >>> from braze_cdi import BrazeCDIClient, RetryPolicy
        >>> patient = RetryPolicy(max_attempts=8, max_delay=60.0, max_duration=600.0)
        >>> client = BrazeCDIClient("my-rest-api-key-1234", "US-01", retry=patient)
        >>> [RetryPolicy(jitter=False).backoff(attempt) for attempt in range(1, 7)]
        [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    max_attempts: int = Field(5, ge=1, description="Attempts per call, the first included.")
    initial_delay: float = Field(1.0, ge=0, description="Backoff before the second attempt.")
    max_delay: float = Field(30.0, ge=0, description="Longest backoff between two attempts.")
    max_duration: float = Field(
        300.0, gt=0, description="Seconds one call may take, retries included."
    )
    jitter: bool = Field(True, description="Draw each backoff uniformly from [0, backoff].")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        # The deprecated name of max_duration, in code and in saved configuration (a Prefect
        # block) alike: the warning points at RetryPolicy(...) in code.
        if isinstance(data, dict) and "deadline" in data:
            data = dict(data)
            accept_renamed(data, {"deadline": "max_duration"}, of="RetryPolicy", stacklevel=3)
        return data

    @property
    def deadline(self) -> float:
        """Deprecated: ``max_duration``, its new name."""
        warnings.warn(
            renamed_message("deadline", "max_duration", of="RetryPolicy"),
            DeprecationWarning,
            stacklevel=2,
        )
        return self.max_duration

    def backoff(self, attempt: int) -> float:
        """The pause after failed attempt number ``attempt`` (1-based): the initial delay,
        doubled each attempt up to ``max_delay``; with ``jitter``, drawn from zero to that.

        Examples:
            >>> from braze_cdi import RetryPolicy
            >>> 0.0 <= RetryPolicy().backoff(3) <= 4.0
            True
        """
        ceiling = min(self.max_delay, self.initial_delay * 2 ** (attempt - 1))
        return random.uniform(0, ceiling) if self.jitter else ceiling


@dataclass
class Context:
    """What every operation of one client shares."""

    retry: RetryPolicy
    budgets: dict[EndpointKind, Budget]
    clock: Clock
    redact: Redact
    # Requests sent per endpoint kind, retries included.
    sent: Counter[str] = field(default_factory=Counter)
    # The REST endpoint the calls go to, for the messages of failures to reach it.
    endpoint: str | None = None
    # Braze's clock against ours, from the answers' Date headers.
    braze_time: BrazeTime = field(default_factory=BrazeTime)


def send(
    ctx: Context,
    call: Call,
    read: Callable[[httpx.Response], T],
    *,
    deadline: float | None = None,
    trigger: bool = False,
    reservation: Reservation | None = None,
) -> Op[T]:
    """Send ``call`` until ``read`` accepts the answer, or raise the typed error.

    ``trigger`` limits retries to failures that provably did not reach Braze. ``deadline`` (an
    instant on the monotonic clock) ends the call sooner than the policy's ``max_duration``
    would, when it comes first. The call's ``max_duration`` starts when it is first sent: a
    wait for the client-side budget before that is bounded by ``deadline`` alone, when there
    is one (a fan-out's last trigger may wait minutes for its turn). ``reservation``, a slot
    of the call's budget taken already (``take_slot``), is the first attempt's.
    """
    policy, clock = ctx.retry, ctx.clock
    give_up_at = clock.monotonic() + policy.max_duration
    if deadline is not None:
        give_up_at = min(give_up_at, deadline)
    budget = ctx.budgets.get(call.kind)
    for attempt in count(1):
        if attempt > 1 or reservation is None:
            # give_up_at is never past the deadline: before the first send, the deadline bounds.
            until = deadline if attempt == 1 and deadline is not None else give_up_at
            reservation = yield from take_slot(ctx, call, until)
        if attempt == 1:
            give_up_at = clock.monotonic() + policy.max_duration
            if deadline is not None:
                give_up_at = min(give_up_at, deadline)
        outcome = yield from send_in_slot(ctx, call, reservation, give_up_at)
        try:
            if isinstance(outcome, NoAnswer | Exception):
                raise transport_error(call, outcome, ctx.redact, endpoint=ctx.endpoint)
            if not outcome.is_success:
                raise error_for(call, outcome, ctx.redact)
            return read(outcome)
        except BrazeCDIError as error:
            if isinstance(error, BrazeRateLimited):
                # Braze refused what its windows should have taken: stop trusting them.
                ctx.braze_time.distrust()
            retry = error.retryable and not (trigger and may_have_reached_braze(error))
            if not retry or attempt >= policy.max_attempts:
                raise
            delay = _pause(policy, attempt, error, budget)
            if clock.monotonic() + delay > give_up_at:
                raise
            yield Notify(
                Retrying(call.integration_id, error.message, attempt, policy.max_attempts, delay)
            )
        yield Sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def send_once(ctx: Context, call: Call, give_up_at: float) -> Op[Outcome]:
    """One attempt at ``call`` within its rate budget, by ``give_up_at`` (monotonic): the
    outcome as the driver handed it back, whatever it is (``send`` decides what it means)."""
    reservation = yield from take_slot(ctx, call, give_up_at)
    return (yield from send_in_slot(ctx, call, reservation, give_up_at))


def take_slot(ctx: Context, call: Call, until: float) -> Op[Reservation | None]:
    """Wait for a slot of ``call``'s budget, until ``until`` at the latest (``None``: the call
    has no budget)."""
    budget = ctx.budgets.get(call.kind)
    if budget is None:
        return None
    # While every slot waits for an answer, none can be promised yet (a slot frees a period
    # after its answer): look again after a fair share of the period.
    while (reservation := budget.reserve(now := ctx.clock.monotonic())) is None:
        if now >= until:
            raise _over_budget(call, budget, retry_after=budget.limit.period)
        delay = min(budget.limit.period / budget.limit.calls, until - now)
        yield Notify(WaitingForBudget(call.integration_id, call.kind, delay))
        yield Sleep(delay)
    if reservation.start > until:
        reservation.cancel()
        if reservation.start <= now:  # the budget holds nothing back: the time is up already
            raise _out_of_time(call)
        raise _over_budget(call, budget, retry_after=reservation.start - now)
    if reservation.start > now:
        delay = reservation.start - now
        yield Notify(WaitingForBudget(call.integration_id, call.kind, delay))
        try:
            yield Sleep(delay)
        except BaseException:
            reservation.cancel()  # ended before it was sent
            raise
    return reservation


def send_in_slot(
    ctx: Context, call: Call, reservation: Reservation | None, give_up_at: float
) -> Op[Outcome]:
    """Send ``call`` once in its slot, then give the slot back: it frees a period after the
    answer, or when Braze's window that counted it ends, if that comes first."""
    if reservation is None:
        return (yield from _exchange(ctx, call, give_up_at))
    limit = reservation.budget.limit
    free_at: float | None = None
    try:
        outcome = yield from _exchange(ctx, call, give_up_at)
        free_at = window_end_to_free(limit, ctx.clock.monotonic(), _window_end(ctx, outcome, limit))
    finally:
        # Cut short, the request may still have been sent: the slot is held a whole period.
        reservation.release(free_at or ctx.clock.monotonic() + limit.period)
    if isinstance(outcome, httpx.Response) and rate_limit_exhausted(outcome):
        reset_in = rate_limit_wait(outcome)
        now = ctx.clock.monotonic()
        reservation.budget.exhausted(now, now + (limit.period if reset_in is None else reset_in))
    return outcome


def _exchange(ctx: Context, call: Call, give_up_at: float) -> Op[Outcome]:
    """Send ``call`` once; what its answer tells of Braze's clock goes to ``ctx.braze_time``."""
    sent = ctx.clock.monotonic()
    outcome: Outcome = yield Send(call, give_up_at)
    ctx.sent[call.kind] += 1
    if isinstance(outcome, httpx.Response) and (date := braze_epoch(outcome)) is not None:
        ctx.braze_time.observe(date, sent, ctx.clock.monotonic())
    return outcome


def _window_end(ctx: Context, outcome: Outcome, limit: RateLimit) -> float | None:
    """The latest instant, on our clock, at which the window that counted ``outcome``'s
    request ends, if Braze said so plausibly (a reset within a window of its ``Date``)."""
    if not isinstance(outcome, httpx.Response):
        return None
    reset, date = header_number(outcome, "x-ratelimit-reset"), braze_epoch(outcome)
    if reset is None or date is None or not date <= reset <= date + limit.period + 1:
        return None
    return ctx.braze_time.latest(reset)


def _over_budget(call: Call, budget: Budget, *, retry_after: float) -> BrazeRateLimited:
    return BrazeRateLimited(
        f"{call}: the client-side budget of {budget.limit.calls} calls per "
        f"{budget.limit.period:g}s allows the next call only after the deadline.",
        retry_after=retry_after,
        hint="Other calls of this process use the same workspace's budget.",
    )


def _out_of_time(call: Call) -> BrazeTransportError:
    # Not the budget's doing: the call's deadline (a wait's max_wait, or the policy's
    # max_duration) had passed before it could be sent.
    return BrazeTransportError(
        f"{call} was not sent: the time it was given had run out.",
        connected=False,
        hint="The wait or the retries it belonged to used all their time.",
    )


def _pause(policy: RetryPolicy, attempt: int, error: BrazeCDIError, budget: Budget | None) -> float:
    if isinstance(error, BrazeRateLimited) and error.retry_after is not None:
        # Never longer than the window, whatever the headers say.
        window = budget.limit.period if budget is not None else 60.0
        return min(error.retry_after, window)
    return policy.backoff(attempt)
