"""Which failures Prefect may retry: only those the core marks ``retryable``."""

from __future__ import annotations

from typing import Any

from prefect import Task
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import TaskRunContext

from braze_cdi import BrazeCDIError

__all__ = ["is_final_attempt", "retry_only_retryable"]


async def retry_only_retryable(task: Task[..., Any], task_run: TaskRun, state: State) -> bool:
    """A ``retry_condition_fn``: retry a retryable Braze error, fail at once on anything else.

    ``SyncFailed``, ``SyncTimeout``, configuration, authentication and permission errors are
    not retryable. A trigger whose outcome stayed unknown is, because its record was kept with
    the flow run before it was sent: the retry adopts the job it started (the core marks it).
    """
    # Async so that one function serves the sync and the async task engines.
    error = await state.aresult(raise_on_failure=False)
    return isinstance(error, BrazeCDIError) and error.retryable


def is_final_attempt(error: BrazeCDIError) -> bool:
    """True when Prefect will not run the current task again after ``error``."""
    if not error.retryable:
        return True
    context = TaskRunContext.get()
    if context is None or context.task_run is None:
        return True
    # run_count counts this attempt too: attempt n may be retried while n <= retries.
    return context.task_run.run_count > context.task.retries
