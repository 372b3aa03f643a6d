"""The core's log lines, the default subscriber to its events; and the dispatch of events to a
call's subscribers."""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Callable

from ._models import SyncHandle
from ._tracing import NO_TRACE, Trace
from .events import OnEvent, SyncEvent

__all__ = ["BeforeTriggerHook", "OnEvent", "Subscribers", "log_event"]

BeforeTriggerHook = Callable[[SyncHandle], object]

logger = logging.getLogger("braze_cdi")


def log_event(event: SyncEvent) -> None:
    """Log ``event`` through the ``braze_cdi`` logger: INFO once per change of state, DEBUG per
    poll, WARNING when something went wrong and the sync goes on."""
    level = event.level
    if level is not None and logger.isEnabledFor(level):
        logger.log(level, event.message())


class Subscribers:
    """The subscribers of one call: logging, the call's trace, then the caller's ``on_event``;
    and its ``before_trigger`` hook.

    A subscriber's exception never breaks the sync: the first is logged, with its traceback,
    and the subscriber goes on being called. The hook's exception is the call's: a record that
    could not be persisted must stop the trigger.
    """

    def __init__(
        self,
        on_event: OnEvent | None,
        trace: Trace = NO_TRACE,
        *,
        before_trigger: BeforeTriggerHook | None = None,
    ) -> None:
        for name, value in (("on_event", on_event), ("before_trigger", before_trigger)):
            if value is not None and not callable(value):
                from ._errors import BrazeConfigError  # noqa: PLC0415

                raise BrazeConfigError(f"{name} must be callable, not {value!r}.")
        self._on_event = on_event
        self._before_trigger = before_trigger
        self._trace = trace
        self._failure_logged = [False]  # shared by the copies traced_by makes

    def traced_by(self, trace: Trace) -> Subscribers:
        """These subscribers with ``trace`` among them; a failure is still logged once for
        all (``sync_many`` traces each sync)."""
        traced = copy.copy(self)
        traced._trace = trace
        return traced

    def persist(self, record: SyncHandle) -> bool:
        """Hand the record of the trigger about to be sent to the hook, in the sync client;
        whether a hook kept it."""
        if self._before_trigger is None:
            return False
        result = self._before_trigger(record)
        if inspect.iscoroutine(result):
            result.close()
            raise TypeError("before_trigger is a coroutine function: use AsyncBrazeCDIClient")
        return True

    async def apersist(self, record: SyncHandle) -> bool:
        """The same in the async client: a coroutine function's result is awaited."""
        if self._before_trigger is None:
            return False
        result = self._before_trigger(record)
        if inspect.isawaitable(result):
            await result
        return True

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
        self._trace.event(event)
        if self._on_event is None:
            return None
        try:
            return self._on_event(event)
        except Exception as error:
            self.failed(error)
            return None

    def failed(self, error: Exception) -> None:
        if not self._failure_logged[0]:
            self._failure_logged[0] = True
            logger.warning(
                "The on_event subscriber raised %s; the sync goes on (later errors of this "
                "subscriber are not logged).",
                type(error).__name__,
                exc_info=error,
            )
