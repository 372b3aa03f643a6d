"""Properties of the HTTP-free layer, over any conversation with Braze (Hypothesis).

The operations are driven directly (``sans_io.drive``): hundreds of conversations a second, on
a virtual clock. Two kinds of Braze answer them:

* a FakeBraze model, misbehaving at any request in any documented way (5xx before or after
  taking effect, dropped connections, read timeouts, rate limits, broken bodies, a job that
  leaves the list, Braze's own schedule starting jobs, skewed clocks, any list order);
* anything at all: arbitrary statuses, headers, bodies and transport errors, with no model
  behind them.

What must hold for every call, whatever the answers:

* it ends with its result or a ``BrazeCDIError``, never another exception;
* no pause ends after its deadline and no trigger is sent after it; the only requests after it
  are the pages of the one last look at the job list a wait takes when its time is up;
* no page is read twice in one look at a list;
* no trigger is sent after one was answered 2xx, and after an answer that may have taken effect
  a trigger is sent again only once a look at the job list has succeeded in between;
* Braze starts at most one job per call; a result is a finished job that did not start before
  Braze's clock at the last look before the trigger (less the core's 5 s tolerance), nor
  before the trigger itself unless a job Braze had not listed yet started just then; when only
  the call started jobs, the result is that job (or, when it attached, a job nobody triggered);
* an error raised after a trigger that did or may have started a job is not retryable.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from braze_cdi import (
    BrazeCDIError,
    RateLimits,
    RetryPolicy,
    SyncAlreadyRunning,
    SyncFailed,
    SyncJob,
    SyncResult,
)
from braze_cdi._listing import every_item
from braze_cdi._models import Integration
from braze_cdi._protocol import Call, Outcome, integrations_call
from braze_cdi._trigger_and_wait import Polling, sync_and_wait
from braze_cdi.testing import FakeClock, FakeIntegration

from .fakes import ScriptedBraze
from .sans_io import Answer, Trace, answered_by, context, drive

ENDED = {"success", "partial", "error", "config_error"}  # Braze's documented end states
MAX_PAGES = 5  # the job lists here never hold more pages than this
CLOCK_TOLERANCE = 5.0  # seconds the core allows between Braze's API and job clocks

#: A few seconds per property in the normal run; RELIABILITY_EXAMPLES=5000 searches harder.
PROPERTY = settings(
    max_examples=int(os.environ.get("RELIABILITY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HTTP_TIMEOUT = 5.0  # virtual seconds before a held-back reply is a read timeout
FAST_RETRY = RetryPolicy(max_attempts=4, initial_delay=0.5, max_delay=8.0, max_duration=60.0)


# --- a misbehaving FakeBraze -----------------------------------------------------------------

RATE_LIMITED = {
    "status": 429,
    "body": {"message": "API rate limit exceeded"},
    "headers": {"X-RateLimit-Remaining": "0", "Retry-After": "3"},
}
#: What can go wrong with one request; a fault that answers 2xx always takes effect (Braze
#: did what it said), the others may or may not have.
FAULTS: dict[str, dict[str, Any]] = {
    "503": {"status": 503},
    "502 html": {"status": 502, "body": "<html><title>502 Bad Gateway</title></html>"},
    "500": {"status": 500},
    "504": {"status": 504},
    "drop": {"drop": True},
    "read timeout": {"delay": HTTP_TIMEOUT + 1},  # after Braze did the work
    "read timeout, not processed": {"delay": HTTP_TIMEOUT + 1, "status": 503},
    "slow": {"delay": HTTP_TIMEOUT - 1},
    "rate limited": {**RATE_LIMITED, "takes_effect": False},
    "job in progress": {
        "status": 429,
        "body": {"message": "Another job is in progress"},
        "takes_effect": False,
    },
    "malformed json": {"status": 200, "body": '{"results": [', "takes_effect": True},
    "empty body": {"status": 200, "body": "", "takes_effect": True},
    "bad link": {"headers": {"Link": '</cdi/x?page=2>; rel="next"'}},
}


@dataclass(frozen=True)
class Schedule:
    """A job Braze's own schedule starts at ``at`` (virtual seconds), unless one is running."""

    at: float
    duration: float
    outcome: str
    appears_after: float


def _job_settings(draw: st.DrawFn) -> tuple[float, float]:
    """A duration and a listing delay: a job is listed at least two request timeouts before it
    ends. (A job that starts and ends unseen between our look at the list and our trigger is
    indistinguishable from the trigger's own: no client can tell them apart.)"""
    duration = draw(st.floats(3 * HTTP_TIMEOUT, 400.0))
    # Listed at once, or after the first look at the list, or a little later, or much later.
    soon = st.sampled_from([0.0, 0.3, 3.0])
    appears_after = draw(soon | st.floats(0.0, duration - 2 * HTTP_TIMEOUT))
    return duration, appears_after


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    duration, appears_after = _job_settings(draw)
    outcome = draw(st.sampled_from(["success", "partial", "error", "config_error"]))
    return Schedule(draw(st.floats(0.0, 300.0)), duration, outcome, appears_after)


@dataclass(repr=False)
class World:
    """One FakeBraze integration and the client's options for one call of sync_and_wait."""

    clock: FakeClock
    fake: ScriptedBraze
    integration_id: str
    if_running: str
    timeout: float
    polling: Polling
    fail_on_partial: bool
    rate_limits: RateLimits | None
    vanish: bool
    story: list[str]

    def __repr__(self) -> str:
        options = (
            f"if_running={self.if_running!r}, timeout={self.timeout}, polling={self.polling}, "
            f"fail_on_partial={self.fail_on_partial}, rate_limits={self.rate_limits}"
        )
        return f"World({options}; {'; '.join(self.story)})"


@st.composite
def worlds(draw: st.DrawFn) -> World:
    clock = FakeClock()
    fake = ScriptedBraze(
        clock=clock,
        order=draw(st.sampled_from(["newest_first", "oldest_first", "shuffled"])),
        clock_skew=draw(st.sampled_from([0.0, 3600.0, -3600.0, 0.4])),
    )
    duration, appears_after = _job_settings(draw)
    settings = {
        "history": draw(st.integers(0, 25)),
        "duration": duration,
        "job_appears_after": appears_after,
        "outcome": draw(st.sampled_from(["success", "partial", "error", "config_error"])),
        "running_status": draw(st.sampled_from(["running", "running", "queued"])),
    }
    integration = fake.add_integration(**settings)  # type: ignore[arg-type]
    integration_id = integration.integration_id
    story = [f"order={fake.order}, skew={fake.clock_skew}, integration {settings}"]
    if draw(st.booleans()):  # a job of Braze's own schedule is running already ...
        running_for, appears = _job_settings(draw)
        age = draw(st.sampled_from([0.0, 30.0, 300.0]))  # ... started that long ago
        job = fake.start_job(integration_id, duration=age + running_for)
        job.start -= age
        job.listed_from = clock.time() + appears  # and listed only then
        story.append(f"running for {age} s already, for {running_for} more, listed after {appears}")
    for schedule in draw(st.lists(schedules(), max_size=2)):
        fake.script.append(_scheduled(fake, integration_id, schedule))
        story.append(f"{schedule}")
    vanish = draw(st.booleans())
    if vanish:
        story.append("the triggered job vanishes once the client saw it listed")
    poll = draw(st.floats(1.0, 60.0))
    return World(
        clock,
        fake,
        integration_id,
        if_running=draw(st.sampled_from(["wait", "attach", "fail"])),
        timeout=draw(st.floats(10.0, 1800.0)),
        polling=Polling(poll, max(poll, draw(st.sampled_from([poll, 60.0, 300.0])))),
        fail_on_partial=draw(st.booleans()),
        rate_limits=draw(st.sampled_from([RateLimits(), None])),
        vanish=vanish,
        story=story,
    )


def _scheduled(fake: ScriptedBraze, integration_id: str, schedule: Schedule) -> Any:
    integration = fake.integrations[integration_id]
    began = fake.clock.time()
    done = False

    def step(request: httpx.Request) -> None:
        nonlocal done
        now = fake.clock.time()
        if done or now < began + schedule.at or integration.running_job(now):
            return
        done = True
        fake.start_job(
            integration_id,
            duration=schedule.duration,
            outcome=schedule.outcome,
            job_appears_after=schedule.appears_after,
        )

    return step


def _faulty(world: World, data: st.DataObject) -> Answer:
    """Answer through the fake, first drawing what goes wrong with each request."""
    through_fake = answered_by(world.fake, request_timeout=HTTP_TIMEOUT, latency=0.05)
    kinds = st.sampled_from([None] * 6 + [*FAULTS, "connect error"])
    integration = world.fake.integrations[world.integration_id]

    def answer(call: Call) -> Outcome:
        kind = data.draw(kinds, label=f"fault on {call.kind}")
        if kind == "connect error":  # never reached Braze
            return httpx.ConnectError("connection refused")
        lie = kind is not None and call.kind == "trigger" and FAULTS[kind].get("status") == 200
        if lie and integration.running_job(world.clock.time()):
            kind = None  # Braze refuses with a 429 then: a 2xx would be a lie
        if kind is not None:
            fault = dict(FAULTS[kind])
            fault.setdefault("takes_effect", data.draw(st.booleans(), label="takes effect"))
            world.fake.inject(call.kind, integration_id=call.integration_id, **fault)
        outcome = through_fake(call)
        if world.vanish and call.kind == "status" and kind != "bad link":
            _vanish_once_seen(integration, _page(outcome, SyncJob) or [], world.fake.clock_skew)
        return outcome

    return answer


def _vanish_once_seen(integration: FakeIntegration, listed: list[SyncJob], skew: float) -> None:
    """Hide the triggered job from every later answer once the client has read it in one.
    (Hidden before the client ever saw it, it would be a job no client could know of.)"""
    for job in integration.jobs:
        if job.triggered and _among(job.start, {_epoch(seen) - skew for seen in listed}):
            job.hidden = True


@PROPERTY
@given(world=worlds(), data=st.data())
def test_sync_and_wait_against_a_misbehaving_braze(world: World, data: st.DataObject) -> None:
    ctx = context(world.clock, retry=FAST_RETRY, rate_limits=world.rate_limits)
    trace = Trace()
    op = sync_and_wait(
        ctx,
        world.integration_id,
        if_running=world.if_running,  # type: ignore[arg-type]
        timeout=world.timeout,
        polling=world.polling,
        fail_on_partial=world.fail_on_partial,
    )
    outcome = _outcome(lambda: drive(op, _faulty(world, data), world.clock, trace))

    integration = world.fake.integrations[world.integration_id]
    started = [job for job in integration.jobs if job.triggered]
    assert len(started) <= 1, "Braze started two jobs for one call"
    _check_conversation(trace, deadline=world.timeout)
    # The fake's clock is the client's, plus a fixed offset; Braze's adds the skew.
    offset = world.clock.time() - world.clock.monotonic()
    scheduled = [j for j in integration.jobs if not j.triggered and j.start >= offset]
    skew = world.fake.clock_skew
    if isinstance(outcome, SyncResult):
        assert str(outcome.job.job_status) in ENDED, f"not finished: {outcome.job}"
        start = _epoch(outcome.job) - skew
        if outcome.triggered:
            [first, *_] = trace.sent("trigger")
            trigger_time = offset + first.sent_at
            looks = [e for e in trace.sent("status") if e.sent_at <= first.sent_at]
            seen = {_epoch(job) - skew for job in _jobs_read(trace, before=first.sent_at)}
            # Never a job that started before Braze's own clock, at the last look at the list
            # before the trigger, said it was time (less the core's tolerance between clocks).
            said = [_braze_date(e.outcome) for e in looks if _page(e.outcome, SyncJob) is not None]
            if said and said[-1] is not None:
                assert start >= said[-1] - skew - CLOCK_TOLERANCE - 1e-3, "older than the trigger"
            unseen = [
                j
                for j in integration.jobs
                if not j.triggered and j.start < trigger_time and not _among(j.start, seen)
            ]
            if not unseen:
                # Unless a job Braze had not listed yet started in those few seconds (no client
                # can tell it from the trigger's own), the result started after the trigger.
                assert start >= trigger_time, "a job older than the trigger"
            if not scheduled:
                # Only the call started a job: the result must be that job. (Had Braze's
                # schedule started one just after a trigger of unknown outcome, no client
                # could tell the two apart: Braze gives no job ids.)
                assert started and start == pytest.approx(started[0].start, abs=1e-3)
        else:
            assert world.if_running == "attach" and not started
            [attached] = [j for j in integration.jobs if start == pytest.approx(j.start, abs=1e-3)]
            assert not attached.triggered
    else:
        if started:
            _check_not_retryable(outcome)
        if isinstance(outcome, SyncAlreadyRunning):
            assert world.if_running == "fail"
        if isinstance(outcome, SyncFailed):
            assert outcome.job.job_status in ("error", "config_error") or (
                world.fail_on_partial and outcome.job.job_status == "partial"
            )


def _unknown_trigger(trace: Trace) -> bool:
    """Whether a trigger was answered in a way that leaves its outcome unknown."""
    return any(_may_have_taken_effect(e.outcome) for e in trace.sent("trigger"))


def _check_not_retryable(error: BrazeCDIError) -> None:
    """An error after a trigger that did or may have started a job must not invite a retry."""
    assert not error.retryable, f"retryable after a trigger that may have started a job: {error!r}"


def _braze_date(outcome: Outcome) -> float | None:
    assert isinstance(outcome, httpx.Response)
    date = outcome.headers.get("date")
    return None if date is None else parsedate_to_datetime(date).timestamp()


def _outcome(run: Any) -> Any:
    try:
        return run()
    except BrazeCDIError as error:
        return error


def _among(start: float, starts: set[float]) -> bool:
    return any(abs(start - other) < 1e-3 for other in starts)


def _epoch(job: SyncJob) -> float:
    assert job.sync_start_time is not None
    return job.sync_start_time.timestamp()


# --- anything at all -------------------------------------------------------------------------

T0 = datetime(2027, 1, 15, 8, 0, tzinfo=timezone.utc)
STATUSES = ["running", "success", "partial", "error", "config_error", "queued", "", "SUCCESS"]


@st.composite
def listed_jobs(draw: st.DrawFn) -> dict[str, Any]:
    """A job as Braze lists it: start times from a small range, so that they collide."""
    start = T0 + timedelta(minutes=draw(st.integers(-5, 20)))
    status = draw(st.sampled_from(STATUSES))
    finish = start + timedelta(minutes=3) if status not in ("running", "queued") else None
    return {
        "job_status": status,
        "sync_start_time": start.isoformat().replace("+00:00", "Z"),
        "sync_finish_time": finish and finish.isoformat(),
        "rows_synced": 10,
        "rows_failed_with_errors": 0,
    }


@st.composite
def job_items(draw: st.DrawFn) -> Any:
    """A job as Braze might list it, or something that is almost one."""
    start = T0 + timedelta(minutes=draw(st.integers(-5, 20)))
    item: dict[str, Any] = {
        "job_status": draw(st.sampled_from(STATUSES)),
        "sync_start_time": draw(
            st.sampled_from([start.isoformat(), start.isoformat().replace("+00:00", "Z")])
            | st.sampled_from([None, "yesterday", 17])
        ),
        "sync_finish_time": draw(
            st.sampled_from([None, (start + timedelta(minutes=3)).isoformat()])
        ),
        "rows_synced": draw(st.sampled_from([0, 10, None, "many"])),
        "rows_failed_with_errors": draw(st.sampled_from([0, 2, None])),
    }
    for key in draw(st.lists(st.sampled_from(sorted(item)), unique=True, max_size=2)):
        del item[key]
    return item


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
BODIES = st.one_of(
    st.builds(
        lambda jobs: {"results": jobs, "message": "success"}, st.lists(job_items(), max_size=12)
    ),
    st.builds(
        lambda items: {"results": items, "message": "success"},
        st.lists(
            st.fixed_dictionaries({"integration_id": st.text(min_size=1, max_size=5)}), max_size=12
        ),
    ),
    st.sampled_from(
        [
            {"message": "success"},
            {"message": "Another job is in progress"},
            {"message": "API rate limit exceeded"},
            {"errors": ["Invalid cursor"]},
            {"results": "none"},
        ]
    ),
    JSON,
)
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@st.composite
def headers(draw: st.DrawFn, now: float) -> dict[str, str]:
    candidates = {
        "Link": st.sampled_from(
            [
                '</cdi/integrations?cursor=b>; rel="next"',
                '</cdi/integrations?cursor=c>; rel="next",</cdi/integrations?cursor=a>; rel=prev',
                '</cdi/integrations?cursor=>; rel="next"',
                "</cdi/integrationsjob_sync_status?cursor=d>; rel=next",
                '</cdi/integrations?cursor=a>; rel="prev"',
            ]
        )
        | HEADER_TEXT,
        "X-RateLimit-Remaining": st.sampled_from(["0", "3", "", "-1"]) | HEADER_TEXT,
        "X-RateLimit-Reset": st.builds(lambda s: str(int(now) + s), st.integers(-100, 10**6))
        | HEADER_TEXT,
        "Retry-After": st.sampled_from(["0", "2", "3600", "-5", "1e308", "nan", "inf"])
        | st.just(formatdate(now + 30, usegmt=True))
        | HEADER_TEXT,
        "Date": st.builds(lambda s: formatdate(now + s, usegmt=True), st.integers(-7200, 7200))
        | HEADER_TEXT,
    }
    chosen = draw(st.lists(st.sampled_from(sorted(candidates)), unique=True, max_size=4))
    return {name: draw(candidates[name]) for name in chosen}


TRANSPORT_ERRORS = [
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.LocalProtocolError,
    httpx.ProxyError,
]
STATUS_CODES = st.sampled_from(
    [200, 202, 204, 400, 401, 403, 404, 429, 500, 502, 503]
) | st.integers(100, 599)


def _anything(clock: FakeClock, data: st.DataObject, *, max_requests: int = 60) -> Answer:
    """Answer each call with whatever Hypothesis draws; every request takes virtual time."""
    count = 0

    def answer(call: Call) -> Outcome:
        nonlocal count
        count += 1
        clock.advance(data.draw(st.sampled_from([1.0, 0.1, 4.0]), label="latency"))
        if count > max_requests:  # the example is long enough: let the call end
            return httpx.Response(401, json={"message": "enough"})
        if data.draw(st.booleans(), label="as Braze would?"):  # reach the deeper paths too
            if call.kind == "trigger":
                return httpx.Response(202, json={"message": "success"})
            items = st.builds(lambda n: {"integration_id": f"i{n}"}, st.integers(0, 30))
            results = data.draw(
                st.lists(listed_jobs() if call.kind == "status" else items, max_size=4),
                label="items",
            )
            # Now and then a next page, from a small set of cursors: lists that loop.
            following = data.draw(st.sampled_from([None, None, "a", "b"]), label="next")
            link = {} if following is None else {"Link": f'</x?cursor={following}>; rel="next"'}
            return httpx.Response(200, json={"results": results}, headers=link)
        if data.draw(st.integers(0, 9), label="transport error?") == 0:
            return data.draw(st.sampled_from(TRANSPORT_ERRORS), label="error")("boom")
        status = data.draw(STATUS_CODES, label="status")
        body = data.draw(BODIES | st.binary(max_size=20), label="body")
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(
            status,
            content=content,
            headers={**data.draw(headers(clock.time()), label="headers")},
        )

    return answer


@PROPERTY
@given(
    data=st.data(),
    if_running=st.sampled_from(["wait", "attach", "fail"]),
    timeout=st.floats(1.0, 120.0),
    poll=st.floats(0.5, 30.0),
)
def test_sync_and_wait_whatever_braze_answers(
    data: st.DataObject, if_running: str, timeout: float, poll: float
) -> None:
    clock = FakeClock()
    trace = Trace()
    op = sync_and_wait(
        context(clock, retry=FAST_RETRY),
        "abc",
        if_running=if_running,  # type: ignore[arg-type]
        timeout=timeout,
        polling=Polling(poll, max(poll, 60.0)),
        fail_on_partial=False,
    )
    outcome = _outcome(lambda: drive(op, _anything(clock, data), clock, trace))

    _check_conversation(trace, deadline=timeout)
    if isinstance(outcome, SyncResult):
        assert str(outcome.job.job_status) in ENDED, f"not finished: {outcome.job}"
        if outcome.triggered:
            assert trace.sent("trigger"), "a result claims a trigger that was never sent"
            first_trigger = trace.sent("trigger")[0].sent_at
            seen_before = _jobs_read(trace, before=first_trigger)
            newest_seen = max((_epoch(job) for job in seen_before), default=None)
            assert newest_seen is None or _epoch(outcome.job) > newest_seen, (
                "the result started before a job seen before the trigger"
            )
    elif _accepted_triggers(trace) or _unknown_trigger(trace):
        _check_not_retryable(outcome)


@PROPERTY
@given(data=st.data())
def test_listing_whatever_braze_answers(data: st.DataObject) -> None:
    clock = FakeClock()
    trace = Trace()
    op = every_item(context(clock, retry=FAST_RETRY), integrations_call, Integration)
    outcome = _outcome(lambda: drive(op, _anything(clock, data), clock, trace))

    _check_conversation(trace, deadline=None)
    read: set[str | None] = set()
    emitted: list[Any] = []
    for exchange in trace.exchanges:
        cursor = exchange.call.params.get("cursor")
        assert cursor not in read, "a page read again after it was read"
        items = _page(exchange.outcome, Integration)
        if items is not None:
            read.add(cursor)
            emitted += items
    if not isinstance(outcome, BrazeCDIError):
        assert trace.items == emitted, "an item lost, or emitted twice"


# --- what every conversation must respect ----------------------------------------------------


def _check_conversation(trace: Trace, *, deadline: float | None) -> None:
    answered_2xx = False
    unknown = False
    looked = False
    read: set[str] = set()  # the pages of the current look at a list
    for exchange in trace.exchanges:
        cursor = exchange.call.params.get("cursor")
        if exchange.call.kind != "trigger":
            if cursor is None:
                read = set()  # a look begins at the first page
            assert cursor not in read, "a page read twice in one look at a list"
            model = SyncJob if exchange.call.kind == "status" else Integration
            if cursor is not None and _page(exchange.outcome, model) is not None:
                read.add(cursor)
        if exchange.call.kind == "trigger":
            assert not answered_2xx, "a trigger sent after one was answered 2xx"
            assert not unknown or looked, "a trigger resent without a look at the job list"
            answered_2xx = _is_2xx(exchange.outcome)
            unknown = _may_have_taken_effect(exchange.outcome)
            looked = False
        elif exchange.call.kind == "status" and _is_2xx(exchange.outcome):
            looked = True
    if deadline is None:
        return
    for pause in trace.pauses:
        assert pause.ended <= deadline + 1e-6, f"a pause ends after the deadline: {pause}"
    late = [e for e in trace.exchanges if e.sent_at > deadline + 1e-6]
    assert all(e.call.kind != "trigger" for e in late), "a trigger sent after the deadline"
    # A wait whose time is up still reads the job list once (it may show the job just ended):
    # the pages of that one look, each asked once.
    reads = [e for e in late if e.call.kind == "status"]
    assert len(reads) <= MAX_PAGES, f"{len(reads)} job-list reads after the deadline"


def _is_2xx(outcome: Outcome) -> bool:
    return isinstance(outcome, httpx.Response) and outcome.is_success


def _may_have_taken_effect(outcome: Outcome) -> bool:
    if isinstance(outcome, httpx.TransportError):
        return not isinstance(
            outcome, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
        )
    return outcome.status_code >= 500


def _accepted_triggers(trace: Trace) -> list[Any]:
    return [e for e in trace.sent("trigger") if _is_2xx(e.outcome)]


def _page(outcome: Outcome, model: type[Any]) -> list[Any] | None:
    """A 2xx page's items if every one of them is valid, else None."""
    if not _is_2xx(outcome):
        return None
    assert isinstance(outcome, httpx.Response)
    try:
        results = outcome.json()["results"]
        return (
            [model.model_validate(item) for item in results] if isinstance(results, list) else None
        )
    except Exception:
        return None


def _jobs_read(trace: Trace, *, before: float) -> list[SyncJob]:
    jobs: list[SyncJob] = []
    for exchange in trace.sent("status"):
        if exchange.sent_at <= before:
            items = _page(exchange.outcome, SyncJob)
            jobs += [job for job in items or [] if job.sync_start_time is not None]
    return jobs
