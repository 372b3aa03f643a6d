"""What a sync's outcome looks like in Dagster: metadata rows and failures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dagster as dg

from braze_cdi import BrazeCDIError, Surface, SyncFailed, SyncJob, SyncTimeout, dashboard_url

__all__ = ["Row", "dagster_metadata", "failure_for", "job_record"]

Row = dict[str, str | int | float | bool | None]

# The keys of the core's rows that hold an instant, as ISO 8601 text there.
_INSTANTS = frozenset(
    {
        "sync_start_time",
        "sync_finish_time",
        "last_timestamp_synced",
        "next_scheduled_run",
        "last_job_start_time",
    }
)


def job_record(integration_id: str, job: SyncJob) -> Row:
    """The job's part of ``SyncResult.record()``: the same keys and formats, for a job this
    process did not wait for (one read from Braze's history, or one a failure carries)."""
    return {"integration_id": integration_id, **job.record()}


def dagster_metadata(
    row: Row, *, rest_endpoint: str | None = None
) -> dict[str, dg.MetadataValue[Any]]:
    """A core row (``SyncResult.record()``, ``job_record``, ``ScheduleVerdict.record()``) as
    Dagster metadata, under the same keys: instants as timestamps, counts as ints, durations
    (``*_seconds``) as floats, the rest as text or booleans.

    With the ``rest_endpoint`` of the row's instance, ``dashboard_url`` links to the
    integration in the Braze dashboard, where ``braze_cdi.dashboard_url`` knows the page.

    Examples:
        >>> from dagster_braze_cdi._metadata import dagster_metadata
        >>> row = {"integration_id": "abc", "sync_start_time": "2026-01-01T00:00:00+00:00"}
        >>> metadata = dagster_metadata(row, rest_endpoint="US-03")
        >>> metadata["sync_start_time"].value, metadata["dashboard_url"].value
        (1767225600.0, 'https://dashboard-03.braze.com/integrations/cloud_data_ingestion/abc')
    """
    metadata = {key: _value(key, value) for key, value in row.items()}
    integration_id = row.get("integration_id")
    if rest_endpoint is not None and isinstance(integration_id, str):
        url = dashboard_url(rest_endpoint, integration_id)
        if url is not None:
            metadata["dashboard_url"] = dg.MetadataValue.url(url)
    return metadata


def _value(key: str, value: str | int | float | bool | None) -> dg.MetadataValue[Any]:
    if value is None:
        return dg.MetadataValue.null()
    if key in _INSTANTS and isinstance(value, str):
        # The core writes aware times only, so the instant is exact.
        return dg.MetadataValue.timestamp(datetime.fromisoformat(value))
    if isinstance(value, bool):
        return dg.MetadataValue.bool(value)
    if key.endswith("_seconds") and isinstance(value, int | float):
        return dg.MetadataValue.float(float(value))
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    return dg.MetadataValue.text(value)


def failure_for(
    error: BrazeCDIError, hints_for: Surface = "python", *, rest_endpoint: str | None = None
) -> dg.Failure:
    """A ``dg.Failure`` that says what went wrong, its hint spelled for ``hints_for`` (Python
    code, or the component's YAML), and carries the job as Braze reported it (with a
    ``dashboard_url`` where ``rest_endpoint`` names a known instance).

    Dagster retries the step (under a retry policy) only when the core says the error is
    retryable.
    """
    row: Row = {
        "error": type(error).__name__,
        "status_code": error.status_code,
        "retryable": error.retryable,
    }
    if isinstance(error, SyncFailed | SyncTimeout):
        row["integration_id"] = error.integration_id
        if error.job is not None:
            row.update(job_record(error.integration_id, error.job))
    if error.handle is not None:
        # Braze cannot cancel a sync: the handle lets a later step wait for the same job.
        row["handle"] = error.handle.model_dump_json()
    return dg.Failure(
        description=error.describe(hints_for),
        metadata=dagster_metadata(row, rest_endpoint=rest_endpoint),
        allow_retries=error.retryable,
    )
