"""A span per sync, when OpenTelemetry's API is installed (the ``otel`` extra).

``start_sync``, ``wait_for_sync``, ``sync_and_wait`` (and each sync of ``sync_many``) run in
``traced``: one span ``braze_cdi.sync``, current while the call runs, with Braze's fields as
attributes, a span event per ``SyncEvent`` and an error status when the call raises.

What it costs:

- ``import braze_cdi`` never imports opentelemetry: the first traced call tries to, once per
  process. Without the package, every call gets ``NO_TRACE``.
- With the API but no SDK configured, the API's tracer starts no span: the call gets
  ``NO_TRACE`` too, after one look at the current span.
- A span that is not recorded (sampled out) builds no attributes.

What a span holds: the operation and integration id, the job's status and rows, ``triggered``,
``waited_seconds`` and ``status_calls``; an error's type and its ``message``, which braze-cdi
redacts as it builds it. The API key is never passed, and no frame locals are. A failure inside
OpenTelemetry never breaks a sync: it is logged once, at DEBUG, and the span is given up.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

from ._errors import BrazeCDIError
from ._models import SyncHandle, SyncJob, SyncResult
from .events import SyncEvent

if TYPE_CHECKING:
    from types import ModuleType

    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer
    from opentelemetry.util.types import AttributeValue

__all__ = ["NO_TRACE", "SPAN_NAME", "SyncOperation", "Trace", "traced"]

SyncOperation = Literal["start_sync", "wait_for_sync", "sync_and_wait"]

#: The name of every span: what the call was is its ``braze_cdi.operation`` attribute.
SPAN_NAME = "braze_cdi.sync"

logger = logging.getLogger("braze_cdi")


class Trace:
    """What one call tells its span: each event, then the call's result. This one tells no
    one."""

    def event(self, event: SyncEvent) -> None:
        """One of the call's events, in order."""

    def ended(self, result: object) -> None:
        """The call's result (a ``SyncHandle`` or ``SyncResult``)."""


NO_TRACE = Trace()


@contextmanager
def traced(operation: SyncOperation, integration_id: str) -> Iterator[Trace]:
    """The trace of one sync call; an exception leaving the block marks it failed."""
    otel = _OTEL if _looked else _load()
    span_trace = None if otel is None else otel.start(operation, integration_id)
    if span_trace is None:
        yield NO_TRACE
        return
    try:
        yield span_trace
    except BaseException as error:
        span_trace.failed(error)
        raise
    finally:
        span_trace.close()


# --- OpenTelemetry, imported on the first traced call -------------------------------------

_looked = False  # whether the first traced call looked for opentelemetry yet
_OTEL: _Otel | None = None  # what it found (None: not installed, or broken)
_complained = False


class _Otel:
    """The parts of OpenTelemetry's API a span needs, imported once."""

    def __init__(self) -> None:
        from opentelemetry import context, trace  # noqa: PLC0415 (the optional extra)
        from opentelemetry.trace import SpanKind, Status, StatusCode  # noqa: PLC0415

        from ._version import __version__  # noqa: PLC0415

        self.context: ModuleType = context
        self.trace: ModuleType = trace
        self.tracer: Tracer = trace.get_tracer("braze_cdi", __version__)
        self.internal = SpanKind.INTERNAL
        self.status = Status
        self.error = StatusCode.ERROR

    def start(self, operation: str, integration_id: str) -> _SpanTrace | None:
        """The call's span, made current; ``None`` when nothing records it (no SDK)."""
        try:
            span = self.tracer.start_span(
                SPAN_NAME,
                kind=self.internal,
                attributes={
                    "braze_cdi.operation": operation,
                    "braze_cdi.integration_id": integration_id,
                },
                record_exception=False,
                set_status_on_exception=False,
            )
            if not span.is_recording() and (
                # The API's no-op tracer hands back the current span: nothing was started.
                span is self.trace.get_current_span() or not span.get_span_context().is_valid
            ):
                return None
            # Current while the call runs, so spans of its HTTP requests nest under it. Even a
            # span sampled out is made current: its children follow its sampling decision.
            context: Context = self.trace.set_span_in_context(span)
            return _SpanTrace(self, span, self.context.attach(context))
        except Exception:
            _otel_failed()
            return None


class _SpanTrace(Trace):
    """The trace of one call, told to its span."""

    def __init__(self, otel: _Otel, span: Span, token: object) -> None:
        self._otel = otel
        self._span = span
        self._token = token
        self._recording = span.is_recording()

    def event(self, event: SyncEvent) -> None:
        if self._recording:
            try:
                self._span.add_event(type(event).__name__, _event_attributes(event))
            except Exception:
                _otel_failed()

    def ended(self, result: object) -> None:
        if self._recording:
            try:
                self._span.set_attributes(_result_attributes(result))
            except Exception:
                _otel_failed()

    def failed(self, error: BaseException) -> None:
        """The call raised ``error``: an error status, with only what braze-cdi wrote."""
        if not self._recording:
            return
        try:
            attributes: dict[str, AttributeValue] = {"error.type": type(error).__name__}
            if isinstance(error, BrazeCDIError):
                # Its message is redacted as it is built; any other exception's text may hold
                # anything, so only its type is told.
                description = error.message
                if error.status_code is not None:
                    attributes["braze_cdi.status_code"] = error.status_code
                attributes["braze_cdi.retryable"] = error.retryable
                job = getattr(error, "job", None)  # SyncFailed, SyncTimeout
                if isinstance(job, SyncJob):
                    attributes.update(_job_attributes(job))
                if error.handle is not None:
                    attributes["braze_cdi.triggered"] = error.handle.triggered
                self._span.record_exception(error)  # its text and traceback, never frame locals
            else:
                description = type(error).__name__
            self._span.set_attributes(attributes)
            self._span.set_status(self._otel.status(self._otel.error, description))
        except Exception:
            _otel_failed()

    def close(self) -> None:
        try:
            self._otel.context.detach(self._token)
        except Exception:
            _otel_failed()
        try:
            self._span.end()
        except Exception:
            _otel_failed()


def _load() -> _Otel | None:
    """OpenTelemetry's API, looked for once per process."""
    global _looked, _OTEL  # noqa: PLW0603
    if not _looked:
        try:
            _OTEL = _Otel()
        except ImportError:
            _OTEL = None  # the otel extra is not installed
        except Exception:
            _OTEL = None
            _otel_failed()
        _looked = True
    return _OTEL


def _otel_failed() -> None:
    """Log, once, the exception OpenTelemetry raised; the sync goes on without its span."""
    global _complained  # noqa: PLW0603
    if not _complained:
        _complained = True
        logger.debug(
            "OpenTelemetry raised an error; the sync goes on without its span (later errors "
            "are not logged).",
            exc_info=True,
        )


# --- Attributes: only str, int, float and bool, never None --------------------------------


def _simple(value: object) -> AttributeValue | None:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, (bool, str, int, float)):
        return value
    return None


def _job_attributes(job: SyncJob) -> dict[str, AttributeValue]:
    return _present(
        {
            "braze_cdi.job_status": _simple(job.job_status),
            "braze_cdi.rows_synced": job.rows_synced,
            "braze_cdi.rows_failed_with_errors": job.rows_failed_with_errors,
        }
    )


def _result_attributes(result: object) -> dict[str, AttributeValue]:
    if isinstance(result, SyncResult):
        return {
            **_job_attributes(result.job),
            "braze_cdi.triggered": result.triggered,
            "braze_cdi.waited_seconds": result.waited_seconds,
            "braze_cdi.status_calls": result.status_calls,
        }
    if isinstance(result, SyncHandle):
        return {"braze_cdi.triggered": result.triggered}
    return {}


def _event_attributes(event: SyncEvent) -> dict[str, AttributeValue]:
    """``braze_cdi.summary``, then the event's fields that are simple values; a job as its
    status and rows, an error as its type (the summary quotes its message)."""
    attributes: dict[str, AttributeValue] = {"braze_cdi.summary": event.summary}
    for field in dataclasses.fields(event):
        if field.name == "integration_id":  # the span's
            continue
        value = getattr(event, field.name)
        if isinstance(value, SyncJob):
            attributes.update(_job_attributes(value))
        elif isinstance(value, BrazeCDIError):
            attributes["error.type"] = type(value).__name__
        else:
            simple = _simple(value)
            if simple is not None:
                attributes[f"braze_cdi.{field.name}"] = simple
    return attributes


def _present(attributes: Mapping[str, AttributeValue | None]) -> dict[str, AttributeValue]:
    return {name: value for name, value in attributes.items() if value is not None}
