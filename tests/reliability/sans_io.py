"""Running the HTTP-free operations directly: no client, no socket, virtual time.

An operation of ``braze_cdi._trigger_and_wait`` or ``braze_cdi._listing`` is a generator of
effects. ``drive`` answers each ``Send`` with whatever ``answer`` returns (an ``httpx.Response``
or an ``httpx.TransportError``), carries out each ``Sleep`` on a ``FakeClock``, keeps the event
of each ``Notify`` and records what happened, so that a test can check the whole conversation
afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from braze_cdi import RateLimits, RetryPolicy, SyncHandle
from braze_cdi._protocol import BeforeTrigger, Call, Emit, Notify, Op, Outcome, Send, Sleep
from braze_cdi._rate_limit import Budget, EndpointKind
from braze_cdi._retry import Context
from braze_cdi.events import SyncEvent
from braze_cdi.testing import FakeBraze, FakeClock

T = TypeVar("T")
Answer = Callable[[Call], Outcome]

#: What every run uses unless a test says otherwise: Braze's own limits, no jitter.
POLICY = RetryPolicy(
    max_attempts=5, initial_delay=1.0, max_delay=30.0, max_duration=300.0, jitter=False
)


@dataclass(frozen=True)
class Exchange:
    """One request the operation sent, and what came back."""

    call: Call
    sent_at: float  # virtual monotonic seconds
    outcome: Outcome


@dataclass(frozen=True)
class Pause:
    began: float
    seconds: float

    @property
    def ended(self) -> float:
        return self.began + self.seconds


@dataclass
class Trace:
    """Everything one run of an operation did, in order."""

    exchanges: list[Exchange] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)
    events: list[SyncEvent] = field(default_factory=list)
    records: list[SyncHandle] = field(default_factory=list)  # handed to before_trigger

    def sent(self, kind: EndpointKind) -> list[Exchange]:
        return [exchange for exchange in self.exchanges if exchange.call.kind == kind]


def context(
    clock: FakeClock,
    *,
    retry: RetryPolicy = POLICY,
    rate_limits: RateLimits | None = RateLimits(),  # noqa: B008 (immutable)
) -> Context:
    """A Context as a client makes one, with budgets of its own (not the process-wide ones)."""
    budgets: dict[EndpointKind, Budget] = {}
    if rate_limits is not None:
        for kind in ("trigger", "list", "status"):
            limit = rate_limits.for_kind(kind)  # type: ignore[arg-type]
            if limit is not None:
                budgets[kind] = Budget(limit)  # type: ignore[index]
    return Context(retry, budgets, clock, lambda text: text)


def drive(op: Op[T], answer: Answer, clock: FakeClock, trace: Trace) -> T:
    """Run ``op`` to its end; return its result or raise what it raises."""
    value: Any = None
    try:
        while True:
            try:
                effect = op.send(value)
            except StopIteration as done:
                result: T = done.value
                return result
            value = None
            if isinstance(effect, Send):
                sent_at = clock.monotonic()
                value = answer(effect.call)
                trace.exchanges.append(Exchange(effect.call, sent_at, value))
            elif isinstance(effect, Sleep):
                trace.pauses.append(Pause(clock.monotonic(), effect.seconds))
                clock.advance(effect.seconds)
            elif isinstance(effect, Emit):
                trace.items.append(effect.item)
            elif isinstance(effect, Notify):
                trace.events.append(effect.event)
            elif isinstance(effect, BeforeTrigger):
                trace.records.append(effect.record)
                value = False  # no hook kept it: the errors stay as without one
            else:  # pragma: no cover - the protocol has five effects
                raise TypeError(f"unknown effect {effect!r}")
    finally:
        op.close()


def answered_by(fake: FakeBraze, *, request_timeout: float = 30.0, latency: float = 0.0) -> Answer:
    """Answer each call the way a client would get it from ``fake`` over HTTP.

    Each request takes ``latency`` virtual seconds; a reply held back past ``request_timeout``
    becomes an ``httpx.ReadTimeout``, a dropped connection an ``httpx.RemoteProtocolError``.
    """

    def answer(call: Call) -> Outcome:
        request = httpx.Request(
            call.method,
            f"https://rest.iad-01.braze.com{call.path}",
            params=call.params,
            headers={"Authorization": f"Bearer {fake.api_key}"},
            extensions={"timeout": {"read": request_timeout}},
        )
        if latency:
            fake.clock.sleep(latency)
        try:
            return fake.handle_request(request)
        except httpx.TransportError as exc:
            return exc

    return answer
