"""What Braze returns, as typed objects named with Braze's own field names."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = ["IfRunning", "Integration", "JobStatus", "SyncHandle", "SyncJob", "SyncResult"]

IfRunning = Literal["wait", "attach", "fail"]
"""What a sync does when a job of its integration is already running: ``"wait"`` for it to
end, then trigger; ``"attach"``: adopt it as the sync's job; ``"fail"``: raise
``SyncAlreadyRunning``."""


def _as_utc(value: datetime | None) -> datetime | None:
    # Braze documents ISO 8601 without saying whether an offset is always present;
    # a time without one is taken as UTC so every time we hand out is aware.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


Timestamp = Annotated[datetime | None, AfterValidator(_as_utc)]


class JobStatus(str, enum.Enum):
    """The documented values of ``job_status``.

    ``running`` until the job ends ``success`` (all rows synced), ``partial`` (some rows
    failed), ``error`` (no rows synced) or ``config_error`` (the integration's configuration is
    wrong). A member equals its string, and ``str()`` gives the value.

    ``finished``, ``succeeded`` and ``failed`` say how a status counts: every sync, check and
    sensor judges a job by them.

    Examples:
        >>> from braze_cdi import JobStatus
        >>> JobStatus("partial") == "partial", str(JobStatus.CONFIG_ERROR)
        (True, 'config_error')
        >>> JobStatus.PARTIAL.finished, JobStatus.PARTIAL.succeeded, JobStatus.ERROR.failed
        (True, True, True)
    """

    RUNNING = "running"
    SUCCESS = "success"
    PARTIAL = "partial"
    ERROR = "error"
    CONFIG_ERROR = "config_error"

    def __str__(self) -> str:
        return self.value

    @property
    def finished(self) -> bool:
        """The job ended: any status but ``running``."""
        return self is not JobStatus.RUNNING

    @property
    def succeeded(self) -> bool:
        """The job ended with rows synced: ``success``, or ``partial`` (some rows failed)."""
        return self in (JobStatus.SUCCESS, JobStatus.PARTIAL)

    @property
    def failed(self) -> bool:
        """The job ended without syncing: ``error`` or ``config_error``."""
        return self in (JobStatus.ERROR, JobStatus.CONFIG_ERROR)


class _BrazeObject(BaseModel):
    # Fields Braze adds later are kept, not dropped.
    model_config = ConfigDict(frozen=True, extra="allow", defer_build=True)


class Integration(_BrazeObject):
    """One CDI integration, as ``GET /cdi/integrations`` lists it.

    Fields carry Braze's names; all but ``integration_id`` may be ``None`` (an integration that
    never ran has no last job). Times are timezone-aware. Fields Braze adds later are kept.

    Examples:
        >>> from braze_cdi import BrazeCDIClient
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> _ = fake.add_integration(name="users", history=1)
        >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        ...     [integration] = client.list_integrations()
        >>> integration.integration_name, integration.warehouse_type, integration.last_job_status
        ('users', 'SNOWFLAKE', 'success')
    """

    integration_id: str
    integration_name: str | None = None
    integration_type: str | None = None
    integration_status: str | None = None
    app_group_id: str | None = None
    contact_emails: str | list[str] | None = None
    warehouse_type: str | None = None
    last_updated_at: Timestamp = None
    last_job_start_time: Timestamp = None
    last_job_status: str | None = None
    next_scheduled_run: Timestamp = None


class SyncJob(_BrazeObject):
    """One sync job, as ``GET /cdi/integrations/{id}/job_sync_status`` lists it.

    ``job_status`` is a ``JobStatus``, or the raw string when Braze sends a value it does
    not document (such a job is never taken as finished). Times are timezone-aware (a time
    without an offset is taken as UTC); ``sync_finish_time`` is ``None`` while the job runs.

    Examples:
        >>> from braze_cdi import SyncJob
        >>> job = SyncJob(
        ...     job_status="success",
        ...     sync_start_time="2026-01-01T02:00:00Z",
        ...     sync_finish_time="2026-01-01T02:03:00Z",
        ...     rows_synced=1200,
        ...     rows_failed_with_errors=0,
        ... )
        >>> job.finished, job.duration.total_seconds()
        (True, 180.0)
        >>> SyncJob(job_status="queued").finished  # a status Braze does not document
        False
    """

    job_status: JobStatus | str = Field(union_mode="left_to_right")
    sync_start_time: Timestamp = None
    sync_finish_time: Timestamp = None
    last_timestamp_synced: Timestamp = None
    rows_synced: int | None = None
    rows_failed_with_errors: int | None = None

    @property
    def finished(self) -> bool:
        """True once the job reached one of the four documented end states."""
        return isinstance(self.job_status, JobStatus) and self.job_status.finished

    @property
    def succeeded(self) -> bool:
        """True when the job ended ``success`` or ``partial``."""
        return isinstance(self.job_status, JobStatus) and self.job_status.succeeded

    @property
    def failed(self) -> bool:
        """True when the job ended ``error`` or ``config_error``."""
        return isinstance(self.job_status, JobStatus) and self.job_status.failed

    @property
    def duration(self) -> timedelta | None:
        """Finish minus start, when Braze gave both."""
        if self.sync_start_time is None or self.sync_finish_time is None:
            return None
        return self.sync_finish_time - self.sync_start_time

    def record(self) -> dict[str, str | int | float | bool | None]:
        """The job as one flat row (see ``SyncResult.record``).

        Examples:
            >>> from braze_cdi import SyncJob
            >>> row = SyncJob(job_status="running", sync_start_time="2026-01-01T02:00Z").record()
            >>> row["job_status"], row["sync_start_time"], row["duration_seconds"]
            ('running', '2026-01-01T02:00:00+00:00', None)
        """
        duration = self.duration
        return {
            "job_status": str(self.job_status),
            "rows_synced": self.rows_synced,
            "rows_failed_with_errors": self.rows_failed_with_errors,
            "sync_start_time": _iso(self.sync_start_time),
            "sync_finish_time": _iso(self.sync_finish_time),
            "last_timestamp_synced": _iso(self.last_timestamp_synced),
            "duration_seconds": None if duration is None else duration.total_seconds(),
        }


class SyncHandle(BaseModel):
    """Where a started sync can be found again, even from another process.

    The sync's job is the oldest job that started after ``previous_job`` (any job, when
    ``previous_job`` is None), and not before ``not_before``. Serialize with
    ``handle.model_dump_json()`` and restore with ``SyncHandle.model_validate_json(text)``.

    Examples:
        >>> from braze_cdi import BrazeCDIClient, SyncHandle
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users", duration=0.0, history=2)
        >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        ...     saved = client.start_sync(users.integration_id).model_dump_json()
        >>> # later, maybe in another process:
        >>> handle = SyncHandle.model_validate_json(saved)
        >>> handle.triggered, handle.previous_job.job_status
        (True, <JobStatus.SUCCESS: 'success'>)
        >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        ...     client.wait_for_sync(handle).job.rows_synced
        1000
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    integration_id: str
    previous_job: SyncJob | None = None
    not_before: Timestamp = Field(
        None,
        description="Braze's time (its Date header) just before the trigger was sent: the "
        "sync's job cannot have started earlier.",
    )
    triggered: bool = Field(description="False when an already running job was adopted.")
    expected_seconds: float | None = Field(
        None,
        gt=0,
        description="How long the integration's recent jobs took (the median of those that "
        "ended well): the wait polls around the expected end of the job.",
    )


class SyncResult(BaseModel):
    """How a sync ended: its job as Braze reported it, and how the wait went.

    ``job.job_status`` is ``success`` or ``partial`` (other endings raise ``SyncFailed``).
    ``status_calls`` counts the job-list requests of the call that returned it.

    Examples:
        >>> from braze_cdi import BrazeCDIClient
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users", duration=0.0, rows_synced=1200)
        >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        ...     result = client.sync_and_wait(users.integration_id)
        >>> result.job_status, result.job.rows_synced, result.triggered
        (<JobStatus.SUCCESS: 'success'>, 1200, True)
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    integration_id: str
    job: SyncJob
    triggered: bool = Field(description="False when an already running job was adopted.")
    waited_seconds: float
    status_calls: int = Field(description="Job-status requests made while waiting.")

    @property
    def job_status(self) -> JobStatus | str:
        """Shortcut for ``result.job.job_status``."""
        return self.job.job_status

    def record(self) -> dict[str, str | int | float | bool | None]:
        """The result as one flat row, keys named as the model fields: what the CLI prints, the
        Prefect artifact shows and the Dagster metadata holds. Times are ISO 8601 strings.

        Examples:
            >>> from braze_cdi import SyncJob, SyncResult
            >>> job = SyncJob(job_status="success", sync_start_time="2026-01-01T00:00:00Z",
            ...               sync_finish_time="2026-01-01T00:01:30Z", rows_synced=10)
            >>> row = SyncResult(integration_id="abc", job=job, triggered=True,
            ...                  waited_seconds=91.5, status_calls=4).record()
            >>> row["job_status"], row["duration_seconds"], row["sync_start_time"]
            ('success', 90.0, '2026-01-01T00:00:00+00:00')
        """
        return {
            "integration_id": self.integration_id,
            **self.job.record(),
            "triggered": self.triggered,
            "waited_seconds": round(self.waited_seconds, 3),
            "status_calls": self.status_calls,
        }


def rows_text(job: SyncJob) -> str:
    """``1,200 rows synced, 0 failed``, as messages and logs say it."""
    synced = "?" if job.rows_synced is None else f"{job.rows_synced:,}"
    failed = "?" if job.rows_failed_with_errors is None else f"{job.rows_failed_with_errors:,}"
    return f"{synced} rows synced, {failed} failed"


def start_text(job: SyncJob) -> str:
    """When the job started, to the second, as messages and logs say it."""
    start = job.sync_start_time
    return "at an unknown time" if start is None else start.isoformat(timespec="seconds")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
