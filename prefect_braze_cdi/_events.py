"""The Prefect events a sync emits, so automations can react to it.

Each event's resource is the integration, ``braze.cdi.integration.<integration id>``; Prefect
adds the flow run and task run as related resources.
"""

from __future__ import annotations

from prefect.events import Event, emit_event

from braze_cdi import BrazeCDIError, SyncFailed, SyncHandle, SyncResult, SyncTimeout

__all__ = ["FAILED", "SUCCEEDED", "TRIGGERED", "emit_failed", "emit_succeeded", "emit_triggered"]

TRIGGERED = "braze.cdi.sync.triggered"
SUCCEEDED = "braze.cdi.sync.succeeded"
FAILED = "braze.cdi.sync.failed"


def integration_resource(integration_id: str) -> dict[str, str]:
    """The event resource that stands for one integration."""
    return {
        "prefect.resource.id": f"braze.cdi.integration.{integration_id}",
        "prefect.resource.name": integration_id,
    }


def emit_triggered(handle: SyncHandle) -> Event | None:
    """A trigger reached Braze; adopting an already running job is not announced."""
    if not handle.triggered:
        return None
    return emit_event(
        TRIGGERED,
        resource=integration_resource(handle.integration_id),
        payload=handle.model_dump(mode="json"),
    )


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
