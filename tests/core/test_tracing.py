"""OpenTelemetry (the ``otel`` extra): one span ``braze_cdi.sync`` per sync call, with Braze's
fields as attributes, a span event per ``SyncEvent`` in order, an error status when the call
raises; no key in any span; and nothing of opentelemetry imported by ``import braze_cdi``.

The spans go to the SDK's in-memory exporter, on the process's global tracer provider: it can
be set once per process only, and the tests share their worker with others (the documents set
one too), so a processor is added to whichever SDK provider is there, and records only while a
test of this module runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from braze_cdi import (
    AsyncBrazeCDIClient,
    BrazeAuthenticationError,
    BrazeCDIError,
    JobStatus,
    RetryPolicy,
    SyncFailed,
    SyncResult,
    SyncTimeout,
)
from braze_cdi.events import SyncEvent
from braze_cdi.testing import FakeBraze, FakeClock

from .conftest import QUICK_RETRY, Api
from .test_key_canary import CUT_POINT, ECHO_HEADERS, KEY, leaks

SPAN = "braze_cdi.sync"


# --- The exporter -------------------------------------------------------------------------


@dataclass
class Processors:
    """The processors this module adds to the global provider, off between its tests."""

    recorder: Any  # a SimpleSpanProcessor into an InMemorySpanExporter, when armed
    failing: Any  # raises in on_start or on_end, when armed


@pytest.fixture(scope="session")
def processors() -> Processors:
    pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra's SDK is a dev dep")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    class Recorder(SimpleSpanProcessor):
        armed = False

        def on_end(self, span: ReadableSpan) -> None:
            if self.armed:
                super().on_end(span)

    class Failing(SpanProcessor):
        armed: str | None = None  # "on_start" or "on_end"

        def on_start(self, span: Any, parent_context: Any = None) -> None:
            if self.armed == "on_start":
                raise RuntimeError("a broken span processor")

        def on_end(self, span: ReadableSpan) -> None:
            if self.armed == "on_end":
                raise RuntimeError("a broken span processor")

    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())  # once per process: the first one wins
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), f"another provider is global: {provider!r}"
    found = Processors(Recorder(InMemorySpanExporter()), Failing())
    provider.add_span_processor(found.failing)  # first: when it raises, nothing is exported
    provider.add_span_processor(found.recorder)
    return found


class Spans:
    """The spans the test's calls ended, in the order they ended."""

    def __init__(self, processors: Processors) -> None:
        self._exporter = processors.recorder.span_exporter
        self.failing = processors.failing

    def all(self) -> list[Any]:
        return list(self._exporter.get_finished_spans())

    def syncs(self) -> list[Any]:
        return [span for span in self.all() if span.name == SPAN]

    def one(self) -> Any:
        (span,) = self.syncs()
        return span


@pytest.fixture
def spans(processors: Processors) -> Iterator[Spans]:
    processors.recorder.span_exporter.clear()
    processors.recorder.armed = True
    try:
        yield Spans(processors)
    finally:
        processors.recorder.armed = False
        processors.failing.armed = None
        processors.recorder.span_exporter.clear()


def _sync_events(span: Any) -> list[Any]:
    return [event for event in span.events if event.name != "exception"]


def _as_told(events: Sequence[SyncEvent]) -> list[tuple[str, str]]:
    return [(type(event).__name__, event.summary) for event in events]


def _as_recorded(span: Any) -> list[tuple[str, str]]:
    return [(event.name, event.attributes["braze_cdi.summary"]) for event in _sync_events(span)]


# --- One span per call --------------------------------------------------------------------


def test_a_sync_and_wait_is_one_span_with_brazes_fields(
    virtual: tuple[FakeBraze, Api], spans: Spans
) -> None:
    from opentelemetry.trace import SpanKind, StatusCode

    fake, api = virtual
    users = fake.add_integration(
        name="users", duration=300.0, outcome="partial", rows_synced=1200, rows_failed=3
    )

    result = api.call("sync_and_wait", users.integration_id)

    span = spans.one()
    assert span.kind == SpanKind.INTERNAL
    assert span.instrumentation_scope.name == "braze_cdi"
    assert dict(span.attributes) == {
        "braze_cdi.operation": "sync_and_wait",
        "braze_cdi.integration_id": users.integration_id,
        "braze_cdi.job_status": "partial",
        "braze_cdi.rows_synced": 1200,
        "braze_cdi.rows_failed_with_errors": 3,
        "braze_cdi.triggered": True,
        "braze_cdi.waited_seconds": result.waited_seconds,
        "braze_cdi.status_calls": result.status_calls,
    }
    assert result.status_calls >= 2 and result.waited_seconds >= 300
    assert span.status.status_code == StatusCode.UNSET  # OpenTelemetry's word for "no error"
    assert [event.name for event in span.events] == [
        "Triggered",
        "JobStatusChanged",
        *["JobPolled"] * (len(span.events) - 4),
        "JobStatusChanged",
        "JobFinished",
    ]


def test_span_events_are_the_events_a_subscriber_sees_in_order(
    virtual: tuple[FakeBraze, Api], spans: Spans
) -> None:
    fake, api = virtual
    users = fake.add_integration(
        name="users", history=1, duration=300.0, outcome="partial", rows_failed=2
    )
    fake.start_job(users.integration_id, duration=300.0, outcome="success")  # Braze's schedule
    only = {"integration_id": users.integration_id}
    fake.inject("status", status=503, **only)  # the first look is retried
    fake.inject("trigger", drop=True, takes_effect=True, **only)  # the answer is lost
    seen: list[SyncEvent] = []

    api.call("sync_and_wait", users.integration_id, on_event=seen.append)

    span = spans.one()
    assert _as_recorded(span) == _as_told(seen)
    kinds = [type(event).__name__ for event in seen]
    assert {"Retrying", "AlreadyRunning", "TriggerOutcomeUnknown", "Triggered"} <= set(kinds)
    by_name = {event.name: dict(event.attributes) for event in span.events}
    retrying = by_name["Retrying"]
    assert isinstance(retrying["braze_cdi.attempt"], int)
    assert isinstance(retrying["braze_cdi.delay"], float)
    assert retrying["braze_cdi.max_attempts"] == QUICK_RETRY.max_attempts
    assert "Service Unavailable" in str(retrying["braze_cdi.reason"])
    assert by_name["AlreadyRunning"]["braze_cdi.choice"] == "wait"
    assert by_name["AlreadyRunning"]["braze_cdi.job_status"] == "running"
    assert by_name["TriggerOutcomeUnknown"]["error.type"] == "BrazeTransportError"
    assert by_name["Triggered"]["braze_cdi.confirmed_by"] == "job_list"
    assert by_name["JobFinished"] == {
        "braze_cdi.summary": seen[-1].summary,
        "braze_cdi.job_status": "partial",
        "braze_cdi.rows_synced": 1000,
        "braze_cdi.rows_failed_with_errors": 2,
    }
    changed = [dict(event.attributes) for event in span.events if event.name == "JobStatusChanged"]
    assert "braze_cdi.previous_status" not in changed[0]  # None is no attribute value
    assert changed[1]["braze_cdi.previous_status"] == "running"
    for event in span.events:  # only the values OpenTelemetry exports as they are
        assert all(type(value) in (str, int, float, bool) for value in event.attributes.values())


def test_a_failed_sync_is_an_error_span(virtual: tuple[FakeBraze, Api], spans: Spans) -> None:
    from opentelemetry.trace import StatusCode

    fake, api = virtual
    events = fake.add_integration(name="events", duration=60.0, outcome="error", rows_synced=0)

    with pytest.raises(SyncFailed) as raised:
        api.call("sync_and_wait", events.integration_id)

    span = spans.one()
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == raised.value.message
    attributes = dict(span.attributes)
    assert attributes["error.type"] == "SyncFailed"
    assert attributes["braze_cdi.job_status"] == "error"
    assert attributes["braze_cdi.rows_synced"] == 0
    assert attributes["braze_cdi.retryable"] is False
    assert "braze_cdi.waited_seconds" not in attributes  # no result: the call raised
    assert [event.name for event in span.events][-2:] == ["JobFinished", "exception"]
    exception = dict(span.events[-1].attributes)
    assert exception["exception.type"].endswith("SyncFailed")
    assert exception["exception.message"] == str(raised.value)


def test_a_timed_out_sync_is_an_error_span(virtual: tuple[FakeBraze, Api], spans: Spans) -> None:
    from opentelemetry.trace import StatusCode

    fake, api = virtual
    users = fake.add_integration(name="users", duration=7200.0)

    with pytest.raises(SyncTimeout) as raised:
        api.call("sync_and_wait", users.integration_id, max_wait=600)

    span = spans.one()
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == raised.value.message
    attributes = dict(span.attributes)
    assert attributes["error.type"] == "SyncTimeout"
    assert attributes["braze_cdi.job_status"] == "running"
    assert attributes["braze_cdi.triggered"] is True  # from the handle that resumes the wait
    assert "JobFinished" not in [event.name for event in span.events]


def test_an_error_before_any_job_is_an_error_span(
    virtual: tuple[FakeBraze, Api], spans: Spans
) -> None:
    from opentelemetry.trace import StatusCode

    fake, api = virtual
    users = fake.add_integration(name="users")
    api.api_key = "not-the-workspace-key-0123"

    with pytest.raises(BrazeAuthenticationError) as raised:
        api.call("sync_and_wait", users.integration_id)

    span = spans.one()
    assert (span.status.status_code, span.status.description) == (
        StatusCode.ERROR,
        raised.value.message,
    )
    assert span.attributes["error.type"] == "BrazeAuthenticationError"
    assert span.attributes["braze_cdi.status_code"] == 401
    assert "braze_cdi.job_status" not in span.attributes


def test_start_sync_then_wait_for_sync_are_two_spans(
    virtual: tuple[FakeBraze, Api], spans: Spans
) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users", history=2, duration=120.0, rows_synced=50)

    handle = api.call("start_sync", users.integration_id)
    result = api.call("wait_for_sync", handle)

    started, waited = spans.syncs()
    assert dict(started.attributes) == {
        "braze_cdi.operation": "start_sync",
        "braze_cdi.integration_id": users.integration_id,
        "braze_cdi.triggered": True,
    }
    assert [event.name for event in started.events] == ["Triggered"]
    assert waited.attributes["braze_cdi.operation"] == "wait_for_sync"
    assert waited.attributes["braze_cdi.job_status"] == "success"
    assert waited.attributes["braze_cdi.rows_synced"] == 50
    assert waited.attributes["braze_cdi.status_calls"] == result.status_calls
    assert waited.attributes["braze_cdi.triggered"] is True
    assert "Triggered" not in [event.name for event in waited.events]
    assert started.context.trace_id != waited.context.trace_id  # two calls, two traces


def test_sync_many_gives_each_sync_its_own_span(fake: FakeBraze, url: str, spans: Spans) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import StatusCode

    outcomes = {"success": "success", "error": "error", "partial": "partial"}
    ids = {
        fake.add_integration(name=name, duration=0.3, outcome=outcome).integration_id: outcome
        for name, outcome in outcomes.items()
    }
    seen: list[SyncEvent] = []

    async def sync_all() -> list[SyncResult | Exception]:
        async with AsyncBrazeCDIClient(fake.api_key, url) as client:
            return await client.sync_many(
                list(ids), max_concurrency=3, poll_interval=0.1, on_event=seen.append
            )

    with trace.get_tracer("tests").start_as_current_span("nightly") as parent:
        results = asyncio.run(sync_all())

    assert [type(result) for result in results] == [SyncResult, SyncFailed, SyncResult]
    by_id = {span.attributes["braze_cdi.integration_id"]: span for span in spans.syncs()}
    assert set(by_id) == set(ids)
    for integration_id, outcome in ids.items():
        span = by_id[integration_id]
        assert span.parent.span_id == parent.get_span_context().span_id  # siblings
        assert span.attributes["braze_cdi.operation"] == "sync_and_wait"
        assert span.attributes["braze_cdi.job_status"] == outcome
        failed = span.status.status_code == StatusCode.ERROR
        assert failed == (outcome == "error")
        mine = [event for event in seen if event.integration_id == integration_id]
        assert _as_recorded(span) == _as_told(mine)


def test_a_sync_inside_a_span_is_its_child(virtual: tuple[FakeBraze, Api], spans: Spans) -> None:
    from opentelemetry import trace

    fake, api = virtual
    users = fake.add_integration(name="users", duration=0.0)

    with trace.get_tracer("tests").start_as_current_span("pipeline") as parent:
        api.call("sync_and_wait", users.integration_id)
        assert trace.get_current_span() is parent  # the sync's span is current no longer

    span = spans.one()
    assert span.parent.span_id == parent.get_span_context().span_id


# --- The key, and a broken tracer ---------------------------------------------------------


def _echoing_job(**fields: Any) -> dict[str, Any]:
    return {
        KEY: KEY,
        "echo": [KEY],
        "job_status": KEY,
        "sync_start_time": "2026-01-01T00:00:00Z",
        "rows_synced": 1,
        "rows_failed_with_errors": 0,
        **fields,
    }


def _page(*jobs: dict[str, Any]) -> dict[str, Any]:
    return {"results": list(jobs), "message": f"{CUT_POINT}{KEY}", "errors": [KEY]}


ECHOES = {
    # Job lists whose every field echoes the key: an undocumented status, polled to the timeout.
    "echoed job status": lambda fake: fake.inject(
        "status", status=200, headers=ECHO_HEADERS, body=_page(_echoing_job()), times=50
    ),
    # A trigger answered 500 past the cut, with echoing headers: retried, then unknown.
    "500 trigger": lambda fake: fake.inject(
        "trigger", status=500, headers=ECHO_HEADERS, body=_page(_echoing_job()), times=50
    ),
    "401 trigger": lambda fake: fake.inject(
        "trigger", status=401, headers=ECHO_HEADERS, body={"message": f"Invalid API key {KEY}"}
    ),
    "429 status": lambda fake: fake.inject(
        "status", status=429, headers=ECHO_HEADERS, body={"message": f"{CUT_POINT}{KEY}"}
    ),
}


def _everything_in(span: Any) -> list[str]:
    texts = [span.name, repr(dict(span.attributes)), str(span.status.description)]
    for event in span.events:
        texts += [event.name, repr(dict(event.attributes))]
    return texts


@pytest.mark.parametrize("echo", list(ECHOES))
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_api_key_reaches_no_span(echo: str, mode: str, spans: Spans) -> None:
    clock = FakeClock()
    fake = FakeBraze(api_key=KEY, clock=clock)
    users = fake.add_integration(name="users", duration=60.0)
    ECHOES[echo](fake)

    with fake.serve() as url:
        api = Api(mode, url, KEY, {"clock": clock, "retry": RetryPolicy(max_attempts=2)})
        with contextlib.suppress(BrazeCDIError):
            api.call("sync_and_wait", users.integration_id, max_wait=30, poll_interval=5)

    span = spans.one()
    texts = _everything_in(span)
    assert span.events, "the call told nothing: the check would be empty"
    if echo == "echoed job status":  # the echo reached the span, redacted
        assert span.attributes["braze_cdi.job_status"] == "*" * 10
    assert [piece for text in texts for piece in leaks(text)] == []


def test_a_broken_tracer_never_breaks_a_sync(
    virtual: tuple[FakeBraze, Api],
    spans: Spans,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from braze_cdi import _tracing

    fake, api = virtual
    users = fake.add_integration(name="users", duration=30.0)
    monkeypatch.setattr(_tracing, "_complained", False)
    caplog.set_level(logging.DEBUG, logger="braze_cdi")

    for where in ("on_start", "on_end"):
        spans.failing.armed = where
        result = api.call("sync_and_wait", users.integration_id)
        assert result.job.job_status == JobStatus.SUCCESS

    assert spans.syncs() == []  # neither span reached the exporter
    told = [r for r in caplog.records if "OpenTelemetry raised" in r.getMessage()]
    assert len(told) == 1  # logged once, however often it fails
    assert told[0].levelno == logging.DEBUG


# --- What costs nothing -------------------------------------------------------------------


def _api_installed() -> bool:
    """Whether the otel extra is installed (the core's tests also run without it)."""
    try:
        return importlib.util.find_spec("opentelemetry.trace") is not None
    except ImportError:  # no opentelemetry package at all
        return False


def _run(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


SYNC_ONCE = """
from braze_cdi import BrazeCDIClient
from braze_cdi.testing import FakeBraze
fake = FakeBraze()
users = fake.add_integration(name="users", duration=0.0)
client = BrazeCDIClient(fake.api_key, "US-01", transport=fake)
print("opentelemetry" in sys.modules)
print(client.sync_and_wait(users.integration_id).job_status.value)
print("opentelemetry" in sys.modules)
"""


def test_import_braze_cdi_imports_no_opentelemetry_until_a_sync() -> None:
    installed = _api_installed()

    before, status, after = _run("import sys\nimport braze_cdi, braze_cdi.testing\n" + SYNC_ONCE)

    assert (before, status) == ("False", "success")
    assert after == str(installed)  # looked for on the first sync only


BLOCK_OPENTELEMETRY = """
import sys

class NoOpenTelemetry:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "opentelemetry":
            raise ImportError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, NoOpenTelemetry())
"""


def test_a_sync_works_without_opentelemetry() -> None:
    before, status, after = _run(BLOCK_OPENTELEMETRY + SYNC_ONCE)

    assert (before, status, after) == ("False", "success", "False")


def test_without_an_sdk_every_call_gets_the_no_op_trace() -> None:
    if not _api_installed():
        pytest.skip("the otel extra is not installed")
    code = (
        "from braze_cdi._tracing import NO_TRACE, traced\n"
        "with traced('sync_and_wait', 'users') as trace:\n"
        "    print(trace is NO_TRACE)\n"
    )

    assert _run(code) == ["True"]
