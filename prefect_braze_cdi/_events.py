"""The Prefect events a sync emits, so automations can react to it.

Each event's resource is the integration, ``braze.cdi.integration.<integration id>``; Prefect
adds the flow run and task run as related resources. ``triggered``, ``already_running`` and
``resumed`` come from the core's progress events as they happen; ``succeeded`` and ``failed``
from the task's outcome.
"""

from __future__ import annotations

import uuid

from prefect.events import Event, emit_event

from braze_cdi import (
    BrazeCDIError,
    JobStatus,
    ScheduleVerdict,
    SyncFailed,
    SyncJob,
    SyncResult,
    SyncTimeout,
)
from braze_cdi.events import AlreadyRunning, Resumed, SyncEvent, Triggered

__all__ = [
    "ALREADY_RUNNING",
    "FAILED",
    "RESUMED",
    "SUCCEEDED",
    "TRIGGERED",
    "emit_failed",
    "emit_progress",
    "emit_succeeded",
]

TRIGGERED = "braze.cdi.sync.triggered"
ALREADY_RUNNING = "braze.cdi.sync.already_running"
RESUMED = "braze.cdi.sync.resumed"
SUCCEEDED = "braze.cdi.sync.succeeded"
FAILED = "braze.cdi.sync.failed"


def integration_resource(integration_id: str) -> dict[str, str]:
    """The event resource that stands for one integration."""
    return {
        "prefect.resource.id": f"braze.cdi.integration.{integration_id}",
        "prefect.resource.name": integration_id,
    }


def emit_progress(event: SyncEvent) -> Event | None:
    """A trigger took effect (adopting a running job is not a trigger), a job was running
    already when the sync was to start, or a retry adopted the job an earlier attempt of the
    same flow run triggered."""
    if event.integration_id is None:
        return None
    payload: dict[str, object] = {"integration_id": event.integration_id}
    if isinstance(event, Triggered):
        name = TRIGGERED
        payload |= {"triggered": True, "confirmed_by": event.confirmed_by}
    elif isinstance(event, Resumed):
        name = RESUMED
        if event.job is not None:
            payload["job"] = event.job.model_dump(mode="json")
    elif isinstance(event, AlreadyRunning):
        name = ALREADY_RUNNING
        payload["if_running"] = event.choice
        if event.job is not None:
            payload["job"] = event.job.model_dump(mode="json")
    else:
        return None
    return emit_event(name, resource=integration_resource(event.integration_id), payload=payload)


def emit_succeeded(result: SyncResult) -> Event | None:
    """The sync's job finished and the result was accepted; the payload is its record."""
    return emit_event(
        SUCCEEDED, resource=integration_resource(result.integration_id), payload=result.record()
    )


def emit_failed(integration_id: str, error: BrazeCDIError) -> Event | None:
    """The sync failed, or could not be triggered or waited for."""
    payload: dict[str, object] = {
        "integration_id": integration_id,
        "error": type(error).__name__,
        "message": error.message,
        "status_code": error.status_code,
        "retryable": error.retryable,
    }
    if isinstance(error, SyncFailed | SyncTimeout) and error.job is not None:
        payload["job_status"] = str(error.job.job_status)
        payload["job"] = error.job.model_dump(mode="json")
    return emit_event(FAILED, resource=integration_resource(integration_id), payload=payload)


# --- the watcher's events (watcher.py): jobs Braze's own schedule ran, schedules that stopped ---

PARTIAL = "braze.cdi.sync.partial"
SCHEDULE_MISSED = "braze.cdi.schedule.missed"

#: The resource label of the watcher's events: Braze's schedule ran the job (or missed a run).
RAN_BY_LABEL = "braze.cdi.ran_by"


def scheduled_job_event_name(job: SyncJob) -> str:
    """``succeeded``, ``partial`` or ``failed``, by how the job ended."""
    if job.job_status == JobStatus.PARTIAL:
        return PARTIAL
    return SUCCEEDED if job.succeeded else FAILED


def emit_scheduled_job(integration_id: str, job: SyncJob) -> Event | None:
    """A job that Braze (its schedule, or anyone but this package's syncs) ran has finished;
    the payload is its record, with ``triggered`` False.

    The event's id is derived from the integration and the job's start, so a watcher that emits
    it again (after a crash, before its cursor was saved) adds nothing: Prefect keeps one event
    per id.
    """
    name = scheduled_job_event_name(job)
    start = job.sync_start_time.isoformat() if job.sync_start_time else ""
    return emit_event(
        name,
        resource={**integration_resource(integration_id), RAN_BY_LABEL: "schedule"},
        payload={"integration_id": integration_id, **job.record(), "triggered": False},
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"braze-cdi:{name}:{integration_id}:{start}"),
    )


def emit_schedule_missed(verdict: ScheduleVerdict) -> Event | None:
    """An integration's schedule did not run (or Braze no longer lists it); the payload is the
    verdict's record and its description."""
    return emit_event(
        SCHEDULE_MISSED,
        resource={**integration_resource(verdict.integration_id), RAN_BY_LABEL: "schedule"},
        payload={**verdict.record(), "description": verdict.description},
    )
