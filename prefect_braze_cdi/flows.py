"""The flows: one sync triggered and waited for, or many at once; each with an async twin.

``trigger_sync_and_wait_for_completion`` is a sync flow; ``atrigger_sync_and_wait_for_completion``
is the same flow for async code (``await`` it). Both run the tasks of ``prefect_braze_cdi.tasks``,
so they retry, log, record an artifact, emit events and materialize the integration's asset in
the same way. ``max_wait_seconds`` bounds the whole flow: the trigger task may spend it waiting
for a running job (``if_running="wait"``), and the wait task gets only what is left.

``sync_integrations`` (and its twin ``async_integrations``, "a" + "sync_integrations") syncs many
integrations at once, by id or by a glob on their names, through one async client and so one
rate budget, and fails at the end, naming each sync that failed.
"""

from __future__ import annotations

import time

from prefect import flow

from braze_cdi import IfRunning, SyncHandle, SyncResult, SyncTimeout

from ._artifacts import check_artifact_key
from ._lineage import check_upstream_asset
from ._many import SyncPlan, async_integrations_task, sync_integrations_task
from .credentials import BrazeCDICredentials
from .tasks import atrigger_sync, await_for_sync, trigger_sync, wait_for_sync

__all__ = [
    "async_integrations",
    "atrigger_sync_and_wait_for_completion",
    "sync_integrations",
    "trigger_sync_and_wait_for_completion",
]

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
    upstream_asset: str | None = None,
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
        upstream_asset: The key of the Prefect asset the integration reads, such as the
            warehouse table (``snowflake://account/db/schema/table``). The wait task
            materializes the integration's asset,
            ``braze://<REST host>/cdi/integrations/<integration id>``, downstream of it.

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
    check_upstream_asset(upstream_asset)
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
        upstream_asset=upstream_asset,
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
    upstream_asset: str | None = None,
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
    check_upstream_asset(upstream_asset)
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
        upstream_asset=upstream_asset,
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


# One decorator, applied to the sync flow and to its async twin.
_many_flow = flow(name="Sync Braze CDI integrations")


@_many_flow
def sync_integrations(
    braze_cdi_credentials: BrazeCDICredentials,
    integration_ids: list[str] | None = None,
    *,
    name_pattern: str | None = None,
    max_concurrency: int = 10,
    poll_interval_seconds: float = 10,
    max_wait_seconds: float = 3600,
    if_running: IfRunning = "wait",
    fail_on_partial: bool = False,
    rate_limit_name: str | None = None,
    create_artifact: bool = True,
    artifact_key: str | None = None,
    upstream_assets: dict[str, str] | None = None,
) -> dict[str, SyncResult]:
    """Sync many integrations at once, wait for every job, and fail at the end if any failed.

    Give the integrations by id, or by a glob on their names (one listing; integrations
    paused in Braze are left out, each with a log line). The syncs run concurrently through
    one async client, so the client's rate budgets pace every request of the workspace; a
    failed sync does not stop the others. As each sync ends, the flow emits its
    ``braze.cdi.sync.succeeded`` or ``.failed`` event and materializes the integration's
    asset; at the end it records one table artifact with a row per integration. If any sync
    failed, the flow run fails then, its message naming each failed integration.

    One flow run triggers each integration at most once: the record of each trigger is kept
    with the flow run first, and a retry of the flow run adopts the jobs its first attempt
    started.

    Args:
        braze_cdi_credentials: The workspace's credentials block.
        integration_ids: The integrations to sync; or give ``name_pattern``.
        name_pattern: A glob on integration names (``"users_*"``, case-sensitive): sync every
            integration it matches, except paused ones.
        max_concurrency: How many syncs run at once; the others wait for a free place.
        poll_interval_seconds: Seconds between polls of each job at first.
        max_wait_seconds: How long each sync may take from its own start (waiting for a
            running job included) before it fails with ``SyncTimeout``.
        if_running: When an integration is syncing already: ``"wait"`` for that job to end,
            then trigger; ``"attach"`` to adopt it; ``"fail"`` to fail that sync.
        fail_on_partial: Count a job that ends ``partial`` (some rows failed) as failed.
        rate_limit_name: A Prefect global concurrency limit with slot decay: every trigger
            takes a slot first, so every worker shares the workspace's budget.
        create_artifact: Record the outcomes in a table artifact.
        artifact_key: The artifact's key; by default one per selection:
            ``braze-cdi-syncs-<pattern>-<hash>`` or ``braze-cdi-syncs-<hash of the ids>``.
        upstream_assets: The key of the Prefect asset each integration reads (its warehouse
            table), by integration id; those integrations' assets are materialized downstream
            of them.

    Returns:
        The ``braze_cdi.SyncResult`` of each integration, by integration id, in the order
        given (or listed).

    Raises:
        braze_cdi.BrazeConfigError: neither ``integration_ids`` nor ``name_pattern``, both,
            an empty list, a duplicate or invalid id, a bad option, or a rate limit that does
            not exist; raised before any request to Braze.
        braze_cdi.BrazeCDIError: one sync or more failed; the message names each one, with
            its error (the artifact holds every outcome).

    Examples:
        >>> from braze_cdi.testing import FakeBraze
        >>> from prefect_braze_cdi import BrazeCDICredentials, sync_integrations
        >>> fake = FakeBraze()
        >>> for name in ("users_eu", "users_us", "events"):
        ...     _ = fake.add_integration(name=name, duration=0.0, rows_synced=100)
        >>> with fake.serve() as url:
        ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
        ...     results = sync_integrations(credentials, name_pattern="users_*")
        >>> sorted(result.job.rows_synced for result in results.values())
        [100, 100]
    """
    plan = SyncPlan(
        integration_ids=integration_ids,
        name_pattern=name_pattern,
        max_concurrency=max_concurrency,
        poll_interval_seconds=poll_interval_seconds,
        max_wait_seconds=max_wait_seconds,
        if_running=if_running,
        fail_on_partial=fail_on_partial,
        rate_limit_name=rate_limit_name,
        create_artifact=create_artifact,
        artifact_key=artifact_key,
        upstream_assets=upstream_assets or {},
    )
    return sync_integrations_task(braze_cdi_credentials, plan)


@_many_flow
async def async_integrations(
    braze_cdi_credentials: BrazeCDICredentials,
    integration_ids: list[str] | None = None,
    *,
    name_pattern: str | None = None,
    max_concurrency: int = 10,
    poll_interval_seconds: float = 10,
    max_wait_seconds: float = 3600,
    if_running: IfRunning = "wait",
    fail_on_partial: bool = False,
    rate_limit_name: str | None = None,
    create_artifact: bool = True,
    artifact_key: str | None = None,
    upstream_assets: dict[str, str] | None = None,
) -> dict[str, SyncResult]:
    """The async twin of ``sync_integrations`` ("a" + "sync_integrations"); ``await`` it.

    Examples:
        >>> import asyncio
        >>> from braze_cdi.testing import FakeBraze
        >>> from prefect_braze_cdi import BrazeCDICredentials, async_integrations
        >>> fake = FakeBraze()
        >>> ids = [fake.add_integration(duration=0.0).integration_id for _ in range(3)]
        >>> with fake.serve() as url:
        ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
        ...     results = asyncio.run(async_integrations(credentials, ids))
        >>> [str(results[i].job_status) for i in ids]
        ['success', 'success', 'success']
    """
    plan = SyncPlan(
        integration_ids=integration_ids,
        name_pattern=name_pattern,
        max_concurrency=max_concurrency,
        poll_interval_seconds=poll_interval_seconds,
        max_wait_seconds=max_wait_seconds,
        if_running=if_running,
        fail_on_partial=fail_on_partial,
        rate_limit_name=rate_limit_name,
        create_artifact=create_artifact,
        artifact_key=artifact_key,
        upstream_assets=upstream_assets or {},
    )
    return await async_integrations_task(braze_cdi_credentials, plan)
