"""Reading verdicts out of an integration's job history: plain functions, no Dagster, no HTTP.

Braze's job list has no documented order, so every function here judges jobs by
``sync_start_time``, never by position. Nothing here is specific to Dagster; it could move to the
core.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from braze_cdi import SyncJob

__all__ = ["finished_after", "latest_finished", "latest_succeeded"]


def latest_finished(jobs: Iterable[SyncJob]) -> SyncJob | None:
    """The finished job that started last, or ``None``.

    Examples:
        >>> from braze_cdi import SyncJob
        >>> jobs = [
        ...     SyncJob(job_status="running", sync_start_time="2026-01-01T02:00:00Z"),
        ...     SyncJob(job_status="error", sync_start_time="2026-01-01T01:00:00Z"),
        ...     SyncJob(job_status="success", sync_start_time="2026-01-01T00:00:00Z"),
        ... ]
        >>> str(latest_finished(jobs).job_status)
        'error'
    """
    return _latest(job for job in jobs if job.finished)


def latest_succeeded(jobs: Iterable[SyncJob]) -> SyncJob | None:
    """The ``success`` or ``partial`` job that started last, or ``None``.

    Examples:
        >>> from braze_cdi import SyncJob
        >>> jobs = [
        ...     SyncJob(job_status="error", sync_start_time="2026-01-01T01:00:00Z"),
        ...     SyncJob(job_status="partial", sync_start_time="2026-01-01T00:00:00Z"),
        ... ]
        >>> latest_succeeded(jobs).sync_start_time.hour
        0
    """
    return _latest(job for job in jobs if job.succeeded)


def finished_after(jobs: Iterable[SyncJob], after: datetime | None) -> list[SyncJob]:
    """Finished jobs that started after ``after``, oldest first; with ``after=None``, only the
    latest finished job (history from before anyone looked is not replayed).

    Examples:
        >>> from datetime import datetime, timezone
        >>> from braze_cdi import SyncJob
        >>> jobs = [
        ...     SyncJob(job_status="success", sync_start_time=f"2026-01-01T0{hour}:00:00Z")
        ...     for hour in (3, 1, 2)
        ... ]
        >>> [job.sync_start_time.hour for job in finished_after(jobs, None)]
        [3]
        >>> since = datetime(2026, 1, 1, 1, tzinfo=timezone.utc)
        >>> [job.sync_start_time.hour for job in finished_after(jobs, since)]
        [2, 3]
    """
    dated = [job for job in jobs if job.finished and job.sync_start_time is not None]
    if after is None:
        latest = _latest(dated)
        return [] if latest is None else [latest]
    return sorted((job for job in dated if _start(job) > after), key=_start)


def _latest(jobs: Iterable[SyncJob]) -> SyncJob | None:
    dated = [job for job in jobs if job.sync_start_time is not None]
    return max(dated, key=_start, default=None)


def _start(job: SyncJob) -> datetime:
    assert job.sync_start_time is not None  # callers keep only dated jobs
    return job.sync_start_time
