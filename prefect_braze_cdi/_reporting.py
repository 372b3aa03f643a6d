"""What every task does around its core calls: their progress to the run log and to Prefect
events, and a failure Prefect will not retry to an event (and to a failed materialization of
the integration's asset)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prefect import get_run_logger
from prefect.exceptions import MissingContextError

from braze_cdi import BrazeCDIError
from braze_cdi.events import SyncEvent, log_to

from ._events import emit_failed, emit_progress
from ._lineage import SyncLineage
from ._retries import is_final_attempt

__all__ = ["progress_subscriber", "reporting"]


def progress_subscriber() -> Callable[[SyncEvent], None]:
    """The subscriber to hand a core call as ``on_event``: each event becomes a run log line
    (one per state change) and, where an automation may react to it, a Prefect event. One
    subscriber serves many syncs: every event names its integration."""
    try:
        to_run_log = log_to(get_run_logger())
    except MissingContextError:  # ``task.fn(...)`` called outside a run, as in unit tests
        to_run_log = None

    def on_event(event: SyncEvent) -> None:
        if to_run_log is not None:
            to_run_log(event)
        emit_progress(event)

    return on_event


@contextmanager
def reporting(
    integration_id: str, lineage: SyncLineage | None = None
) -> Iterator[Callable[[SyncEvent], None]]:
    """``progress_subscriber()`` for a call about one integration. A Braze error that Prefect
    will not retry emits ``braze.cdi.sync.failed`` and, with ``lineage``, a failed
    materialization of the integration's asset."""
    try:
        yield progress_subscriber()
    except BrazeCDIError as error:
        if is_final_attempt(error):
            emit_failed(integration_id, error)
            if lineage is not None:
                lineage.failed(error)
        raise
