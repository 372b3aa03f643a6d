"""What every task does around its core call: logs to the run log, failures to an event."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from prefect import get_run_logger
from prefect.exceptions import MissingContextError

from braze_cdi import BrazeCDIError
from braze_cdi._logging import forward_logs

from ._events import emit_failed
from ._retries import is_final_attempt

__all__ = ["reporting"]


@contextmanager
def reporting(integration_id: str) -> Iterator[None]:
    """While the block runs, the core's ``braze_cdi`` records (one per state change) go to the
    run log; a Braze error that Prefect will not retry emits ``braze.cdi.sync.failed``."""
    with _run_log():
        try:
            yield
        except BrazeCDIError as error:
            if is_final_attempt(error):
                emit_failed(integration_id, error)
            raise


def _run_log() -> AbstractContextManager[None]:
    try:
        run_logger = get_run_logger()
    except MissingContextError:  # ``task.fn(...)`` called outside a run, as in unit tests
        return nullcontext()
    return forward_logs(run_logger)
