"""The flow that triggers a Braze CDI sync and waits for it, and its async twin.

``trigger_sync_and_wait_for_completion`` is a sync flow; ``atrigger_sync_and_wait_for_completion``
is the same flow for async code (``await`` it). Both run the tasks of ``prefect_braze_cdi.tasks``,
so they retry, log, record an artifact and emit events in the same way.

``max_wait_seconds`` bounds the whole flow: the trigger task may spend it waiting for a running
job (``if_running="wait"``), and the wait task gets only what is left.
"""

from __future__ import annotations

import time

from prefect import flow

from braze_cdi import IfRunning, SyncHandle, SyncResult, SyncTimeout

from ._artifacts import check_artifact_key
from .credentials import BrazeCDICredentials
from .tasks import atrigger_sync, await_for_sync, trigger_sync, wait_for_sync

__all__ = ["atrigger_sync_and_wait_for_completion", "trigger_sync_and_wait_for_completion"]

# One decorator, applied to the sync flow and to its async twin.
_sync_flow = flow(
    name="Trigger Braze CDI sync and wait for completion",
    flow_run_name="braze-cdi-sync-{integration_id}",
)


@_sync_flow
def trigger_sync_and_wait_for_completion(
    braze_cdi_credentials: BrazeCDICredentials,
    integration_id: str,
    *,
    poll_interval_seconds: float = 10,
    max_wait_seconds: float = 3600,
    if_running: IfRunning = "wait",
    fail_on_partial: bool = False,
    rate_limit_name: str | None = None,
    create_artifact: bool = True,
    artifact_key: str | None = None,
) -> SyncResult:
    """Trigger a sync of one integration, wait for its job to finish and return how it ended.

    The flow run fails with Braze's status in its message when the job ends ``error`` or
    ``config_error`` (or ``partial`` with ``fail_on_partial``).

    Args:
        braze_cdi_credentials: The workspace's credentials block.
        integration_id: The integration to sync (from its page in the Braze dashboard).
        poll_interval_seconds: Seconds between polls at first.
        max_wait_seconds: How long the whole flow may wait, from its start: waiting for a
            running job to end first (``if_running="wait"``) and then for the sync's own job.
            The wait task gets only what the trigger task left; when nothing is left, the flow
            fails at once with ``SyncTimeout`` (no poll), its ``handle`` ready to wait again.
            (Only Prefect's retries of the trigger task after a retryable error can take
            longer: each attempt may wait for the running job anew.)
        if_running: When the integration is syncing already: ``"wait"`` for that job to end,
            then trigger; ``"attach"`` to adopt it; ``"fail"`` to fail.
        fail_on_partial: Fail when the job ends ``partial`` (some rows failed).
        rate_limit_name: A Prefect global concurrency limit with slot decay that every worker
            takes a slot of before triggering.
        create_artifact: Record the result in a table artifact.
        artifact_key: The artifact's key; by default ``braze-cdi-sync-<integration id>``.

    Returns:
        A ``braze_cdi.SyncResult``.

    Examples:
        As a flow of its own (call it from another flow to run it as a subflow):

        >>> from braze_cdi.testing import FakeBraze
        >>> from prefect_braze_cdi import BrazeCDICredentials, trigger_sync_and_wait_for_completion
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users", duration=0.0, rows_synced=1200)
        >>> with fake.serve() as url:
        ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
        ...     result = trigger_sync_and_wait_for_completion(credentials, users.integration_id)
        >>> str(result.job_status), result.job.rows_synced
        ('success', 1200)
    """
    began = time.monotonic()
    check_artifact_key(artifact_key)
    handle = trigger_sync(
        braze_cdi_credentials,
        integration_id,
        if_running=if_running,
        poll_interval_seconds=poll_interval_seconds,
        max_wait_seconds=max_wait_seconds,
        rate_limit_name=rate_limit_name,
    )
    return wait_for_sync(
        braze_cdi_credentials,
        handle,
        poll_interval_seconds=poll_interval_seconds,
        max_wait_seconds=_time_left(handle, max_wait_seconds, began),
        fail_on_partial=fail_on_partial,
        create_artifact=create_artifact,
        artifact_key=artifact_key,
    )


@_sync_flow
async def atrigger_sync_and_wait_for_completion(
    braze_cdi_credentials: BrazeCDICredentials,
    integration_id: str,
    *,
    poll_interval_seconds: float = 10,
    max_wait_seconds: float = 3600,
    if_running: IfRunning = "wait",
    fail_on_partial: bool = False,
    rate_limit_name: str | None = None,
    create_artifact: bool = True,
    artifact_key: str | None = None,
) -> SyncResult:
    """The async twin of ``trigger_sync_and_wait_for_completion``; ``await`` it.

    To sync many integrations at once, gather the async tasks (``atrigger_sync`` then
    ``await_for_sync`` per integration) in one async flow: Prefect does not reliably run
    gathered subflows side by side.

    Examples:
        >>> import asyncio
        >>> from braze_cdi.testing import FakeBraze
        >>> from prefect_braze_cdi import (
        ...     BrazeCDICredentials,
        ...     atrigger_sync_and_wait_for_completion,
        ... )
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users", duration=0.0)
        >>> with fake.serve() as url:
        ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
        ...     result = asyncio.run(
        ...         atrigger_sync_and_wait_for_completion(credentials, users.integration_id)
        ...     )
        >>> str(result.job_status)
        'success'
    """
    began = time.monotonic()
    check_artifact_key(artifact_key)
    handle = await atrigger_sync(
        braze_cdi_credentials,
        integration_id,
        if_running=if_running,
        poll_interval_seconds=poll_interval_seconds,
        max_wait_seconds=max_wait_seconds,
        rate_limit_name=rate_limit_name,
    )
    return await await_for_sync(
        braze_cdi_credentials,
        handle,
        poll_interval_seconds=poll_interval_seconds,
        max_wait_seconds=_time_left(handle, max_wait_seconds, began),
        fail_on_partial=fail_on_partial,
        create_artifact=create_artifact,
        artifact_key=artifact_key,
    )


def _time_left(handle: SyncHandle, max_wait_seconds: float, began: float) -> float:
    """What the flow's ``max_wait_seconds`` leaves the wait task, since ``began``
    (``time.monotonic``); a ``SyncTimeout`` at once when nothing is left."""
    left = max_wait_seconds - (time.monotonic() - began)
    if left > 0:
        return left
    started = "started" if handle.triggered else "adopted"
    raise SyncTimeout(
        f"The wait for integration {handle.integration_id} ran out: the flow's "
        f"max_wait_seconds ({max_wait_seconds:g} s) were spent before the sync it {started} "
        "could be waited for. Braze has no cancel call, so the job goes on; wait again with "
        "the handle (wait_for_sync).",
        integration_id=handle.integration_id,
        job=None,
        handle=handle,
    )
