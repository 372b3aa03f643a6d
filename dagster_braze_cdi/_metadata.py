"""What a sync's outcome looks like in Dagster: metadata rows and failures."""

from __future__ import annotations

import dagster as dg

from braze_cdi import BrazeCDIError, Surface, SyncFailed, SyncJob, SyncTimeout

__all__ = ["Row", "failure_for", "job_record"]

Row = dict[str, str | int | float | bool | None]


def job_record(integration_id: str, job: SyncJob) -> Row:
    """The job's part of ``SyncResult.record()``: the same keys and formats, for a job this
    process did not wait for (one read from Braze's history, or one a failure carries)."""
    return {"integration_id": integration_id, **job.record()}


def failure_for(error: BrazeCDIError, hints_for: Surface = "python") -> dg.Failure:
    """A ``dg.Failure`` that says what went wrong, its hint spelled for ``hints_for`` (Python
    code, or the component's YAML), and carries the job as Braze reported it.

    Dagster retries the step (under a retry policy) only when the core says the error is
    retryable.
    """
    metadata: dict[str, str | int | float | bool | None] = {
        "error": type(error).__name__,
        "status_code": error.status_code,
        "retryable": error.retryable,
    }
    if isinstance(error, SyncFailed | SyncTimeout):
        metadata["integration_id"] = error.integration_id
        if error.job is not None:
            metadata.update(job_record(error.integration_id, error.job))
    if error.handle is not None:
        # Braze cannot cancel a sync: the handle lets a later step wait for the same job.
        metadata["handle"] = error.handle.model_dump_json()
    return dg.Failure(
        description=error.describe(hints_for), metadata=metadata, allow_retries=error.retryable
    )
