"""The core's log lines: the default subscriber to its events, the dispatch of events to a
call's subscribers, and the forwarding of log records to an orchestrator's run log."""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from ._models import JobStatus, rows_text, start_text
from .events import (
    AlreadyRunning,
    JobFinished,
    JobNotListedYet,
    JobPolled,
    JobStatusChanged,
    PollFailed,
    Retrying,
    SyncEvent,
    Triggered,
    TriggerOutcomeUnknown,
    WaitingForBudget,
)

__all__ = ["RunLog", "Subscribers", "forward_logs", "log_event"]

logger = logging.getLogger("braze_cdi")

OnEvent = Callable[[SyncEvent], object]

_CONFIRMED = {
    "answer": "Triggered a sync of integration {}.",
    "job_list": "Integration {}: a new job appeared, so the trigger worked.",
    "resend": "Integration {}: the resent trigger found a job in progress, so the first one "
    "started it.",
}


def log_event(event: SyncEvent) -> None:
    """Log ``event`` through the ``braze_cdi`` logger: INFO once per change of state, DEBUG per
    poll, WARNING when something went wrong and the sync goes on."""
    who = event.integration_id
    if isinstance(event, AlreadyRunning):
        if event.choice == "fail":
            return
        started = "" if event.job is None else f" (job started {start_text(event.job)})"
        then = {"attach": "attaching to it", "wait": "waiting for it to end before triggering"}
        logger.info("Integration %s is already syncing%s; %s.", who, started, then[event.choice])
    elif isinstance(event, Triggered):
        logger.info(_CONFIRMED[event.confirmed_by].format(who))
    elif isinstance(event, TriggerOutcomeUnknown):
        logger.warning(
            "Integration %s: the trigger's outcome is unknown (%s); checking the job list before "
            "sending it again.",
            who,
            event.error.message,
        )
    elif isinstance(event, PollFailed):
        logger.warning(
            "Integration %s: could not read its jobs (%s); trying again at the next poll.",
            who,
            event.error.message,
        )
    elif isinstance(event, JobNotListedYet):
        logger.debug("Integration %s: its new job is not listed yet.", who)
    elif isinstance(event, JobPolled):
        job = event.job
        logger.debug("Integration %s: job started %s is %s.", who, start_text(job), job.job_status)
    elif isinstance(event, JobStatusChanged):
        _log_status(who, event)
    elif isinstance(event, JobFinished):
        job = event.job
        logger.info(
            "Integration %s: job started %s ended %s: %s.",
            who,
            start_text(job),
            job.job_status,
            rows_text(job),
        )
    elif isinstance(event, Retrying):
        logger.info(
            "%s; attempt %d of %d in %.1fs.",
            event.reason.rstrip("."),
            event.attempt + 1,
            event.max_attempts,
            event.delay,
        )
    elif isinstance(event, WaitingForBudget):
        logger.debug(
            "%s: waiting %.1fs for the client-side %s budget.",
            "A call" if who is None else f"Integration {who}",
            event.delay,
            event.endpoint,
        )


def _log_status(who: str | None, event: JobStatusChanged) -> None:
    job = event.job
    if job.finished:
        return  # JobFinished says how it ended
    if isinstance(job.job_status, JobStatus):
        logger.info("Integration %s: job started %s is %s.", who, start_text(job), job.job_status)
    else:
        logger.warning(
            "Integration %s: job started %s has a status Braze does not document (%r); it is not "
            "taken as finished.",
            who,
            start_text(job),
            job.job_status,
        )


class Subscribers:
    """The subscribers of one call: logging, then the caller's ``on_event``.

    A subscriber's exception never breaks the sync: the first is logged, with its traceback,
    and the subscriber goes on being called.
    """

    def __init__(self, on_event: OnEvent | None) -> None:
        if on_event is not None and not callable(on_event):
            from ._errors import BrazeConfigError  # noqa: PLC0415

            raise BrazeConfigError(f"on_event must be callable, not {on_event!r}.")
        self._on_event = on_event
        self._failed = False

    def notify(self, event: SyncEvent) -> None:
        """Hand ``event`` to each subscriber, in the sync client."""
        result = self._hand_on(event)
        if inspect.iscoroutine(result):
            result.close()
            self.failed(TypeError("on_event is a coroutine function: use AsyncBrazeCDIClient"))

    async def anotify(self, event: SyncEvent) -> None:
        """Hand ``event`` to each subscriber, in the async client: a coroutine function's
        result is awaited."""
        result = self._hand_on(event)
        if inspect.isawaitable(result):
            try:
                await result
            except Exception as error:
                self.failed(error)

    def _hand_on(self, event: SyncEvent) -> object:
        log_event(event)
        if self._on_event is None:
            return None
        try:
            return self._on_event(event)
        except Exception as error:
            self.failed(error)
            return None

    def failed(self, error: Exception) -> None:
        if not self._failed:
            self._failed = True
            logger.warning(
                "The on_event subscriber raised %s; the sync goes on (later errors of this "
                "subscriber are not logged).",
                type(error).__name__,
                exc_info=error,
            )


class RunLog(Protocol):
    """Anything with ``log(level, message)``: a ``logging.Logger`` or adapter (Prefect's run
    logger), Dagster's ``context.log``."""

    def log(self, level: int, msg: str) -> object: ...


_target: ContextVar[tuple[RunLog, int] | None] = ContextVar("braze_cdi_run_log", default=None)


class _Installed:
    """How many blocks forward now, and the level to restore when the last one ends."""

    lock = threading.Lock()
    count = 0
    level_before = logging.NOTSET
    effective_before = logging.WARNING


class _Forward(logging.Filter):
    # A filter on the logger sees every record first: it forwards what the block asked for,
    # and lets on to the usual handlers only what they would have had anyway.
    def filter(self, record: logging.LogRecord) -> bool:
        target = _target.get()
        if target is not None and record.levelno >= target[1]:
            target[0].log(record.levelno, record.getMessage())
        return record.levelno >= _Installed.effective_before


_forward = _Forward()


@contextmanager
def forward_logs(run_log: RunLog, level: int = logging.INFO) -> Iterator[None]:
    """While the block runs, records of logger ``braze_cdi`` at ``level`` or above made in this
    thread or task also go to ``run_log``. Concurrent blocks each get only their own records;
    other handlers see no more of ``braze_cdi`` than before."""
    token = _target.set((run_log, level))
    with _Installed.lock:
        if _Installed.count == 0:
            _Installed.level_before = logger.level
            _Installed.effective_before = logger.getEffectiveLevel()
            logger.addFilter(_forward)
        _Installed.count += 1
        if logger.getEffectiveLevel() > level:
            logger.setLevel(level)
    try:
        yield
    finally:
        _target.reset(token)
        with _Installed.lock:
            _Installed.count -= 1
            if _Installed.count == 0:
                logger.removeFilter(_forward)
                logger.setLevel(_Installed.level_before)
