"""Tasks that trigger a Braze CDI sync and wait for it, each with an async twin.

The async twin of a task has the same name with an ``a`` in front (Prefect's own convention,
as in ``Block.aload``): ``atrigger_sync`` and ``await_for_sync``. Call the plain tasks from
sync flows and ``await`` the twins in async flows; the twins never block the event loop.

Prefect retries a task only when the core marks its error ``retryable``; everything else
(``SyncFailed``, ``SyncTimeout``, configuration, authentication and permission errors) fails the
task at once. Change the retry schedule with
``trigger_sync.with_options(retries=..., retry_delay_seconds=...)``.

One flow run starts one sync per call, whatever is retried: right before it sends the trigger,
``trigger_sync`` keeps the trigger's record with the flow run (a flow run input of the
pipeline's root flow run), and every later attempt of the same call (a task retry, a flow-run
retry, the flow run run again after a crash, a subflow its parent's retry runs again) adopts
the job that trigger started instead of triggering again. So a trigger whose outcome stayed
unknown is retried too. A new flow run starts a new sync.
"""

from __future__ import annotations

from prefect import task
from prefect.artifacts import (
    acreate_link_artifact,
    acreate_table_artifact,
    create_link_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.asyncio import rate_limit as arate_limit
from prefect.concurrency.sync import rate_limit
from prefect.tasks import exponential_backoff

from braze_cdi import (
    IfRunning,
    SyncFailed,
    SyncHandle,
    SyncResult,
    SyncTimeout,
    check_integration_id,
)

from ._artifacts import SyncArtifacts, check_artifact_key, sync_artifacts
from ._events import emit_succeeded
from ._lineage import hand_on, sync_lineage
from ._reporting import reporting
from ._resume import arun_record, run_record
from ._retries import retry_only_retryable
from .credentials import BrazeCDICredentials

__all__ = ["atrigger_sync", "await_for_sync", "trigger_sync", "wait_for_sync"]

# The core already retried within each call; these retries outlast a longer outage, and only
# for errors the core marks retryable. Neither task is cached: a trigger must reach Braze every
# time, and a poll must read Braze, not a cache.
_RETRIES = 3
_RETRY_DELAYS = exponential_backoff(backoff_factor=10)
_RETRY_JITTER = 0.5

_LINK_TEXT = "The integration in the Braze dashboard"

# One decorator per task, applied to the sync form and to its async twin.
_trigger_task = task(
    name="Trigger Braze CDI sync",
    task_run_name="trigger-sync-{integration_id}",
    retries=_RETRIES,
    retry_delay_seconds=_RETRY_DELAYS,
    retry_jitter_factor=_RETRY_JITTER,
    retry_condition_fn=retry_only_retryable,
    cache_policy=NO_CACHE,
)
_wait_task = task(
    name="Wait for Braze CDI sync",
    task_run_name="wait-for-sync-{handle.integration_id}",
    retries=_RETRIES,
    retry_delay_seconds=_RETRY_DELAYS,
    retry_jitter_factor=_RETRY_JITTER,
    retry_condition_fn=retry_only_retryable,
    cache_policy=NO_CACHE,
)


@_trigger_task
def trigger_sync(
    braze_cdi_credentials: BrazeCDICredentials,
    integration_id: str,
    *,
    if_running: IfRunning = "wait",
    poll_interval_seconds: float = 10,
    max_wait_seconds: float = 3600,
    rate_limit_name: str | None = None,
) -> SyncHandle:
    """Trigger a sync of one integration and return the handle to wait for it with.

    Args:
        braze_cdi_credentials: The workspace's credentials block.
        integration_id: The integration to sync (from its page in the Braze dashboard).
        if_running: When the integration is syncing already: ``"wait"`` for that job to end,
            then trigger; ``"attach"`` to adopt it; ``"fail"`` to raise ``SyncAlreadyRunning``.
        poll_interval_seconds: Seconds between polls while waiting for a running job.
        max_wait_seconds: How long waiting for a running job may take.
        rate_limit_name: A Prefect global concurrency limit with slot decay; when given, the
            trigger first takes a slot of it, so every worker shares the workspace's budget.

    Returns:
        A ``braze_cdi.SyncHandle``: pass it to ``wait_for_sync``.

    Inside a flow run, the trigger's record is kept with the flow run before the trigger is
    sent, and a later attempt of this call (a task or flow-run retry, a rerun after a crash)
    adopts the job it started rather than triggering again; see the module's description.

    Raises:
        braze_cdi.BrazeCDIError: the trigger failed; ``error.retryable`` says whether the task
            is retried.

    Examples:
        >>> from prefect import flow
        >>> from braze_cdi.testing import FakeBraze
        >>> from prefect_braze_cdi import BrazeCDICredentials, trigger_sync, wait_for_sync
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users", duration=0.0)
        >>> @flow
        ... def sync_users():
        ...     handle = trigger_sync(credentials, users.integration_id)
        ...     return str(wait_for_sync(credentials, handle).job_status)
        >>> with fake.serve() as url:
        ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
        ...     sync_users()
        'success'
    """
    check_integration_id(integration_id)
    if rate_limit_name is not None:
        rate_limit(rate_limit_name, strict=True)
    record = run_record(integration_id)
    with reporting(integration_id) as on_event, braze_cdi_credentials.get_client() as client:
        return client.start_sync(
            integration_id,
            if_running=if_running,
            max_wait=max_wait_seconds,
            poll_interval=poll_interval_seconds,
            on_event=on_event,
            resume=None if record is None else record.load(),
            before_trigger=None if record is None else record.save,
        )


@_trigger_task
async def atrigger_sync(
    braze_cdi_credentials: BrazeCDICredentials,
    integration_id: str,
    *,
    if_running: IfRunning = "wait",
    poll_interval_seconds: float = 10,
    max_wait_seconds: float = 3600,
    rate_limit_name: str | None = None,
) -> SyncHandle:
    """The async twin of ``trigger_sync``, with the same arguments; ``await`` it.

    Examples:
        >>> import asyncio
        >>> from prefect import flow
        >>> from braze_cdi.testing import FakeBraze
        >>> from prefect_braze_cdi import BrazeCDICredentials, atrigger_sync, await_for_sync
        >>> fake = FakeBraze()
        >>> ids = [fake.add_integration(duration=0.0).integration_id for _ in range(2)]
        >>> @flow
        ... async def sync_all():
        ...     async def sync_one(integration_id):
        ...         handle = await atrigger_sync(credentials, integration_id)
        ...         return str((await await_for_sync(credentials, handle)).job_status)
        ...     return await asyncio.gather(*(sync_one(i) for i in ids))
        >>> with fake.serve() as url:
        ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
        ...     asyncio.run(sync_all())
        ['success', 'success']
    """
    check_integration_id(integration_id)
    if rate_limit_name is not None:
        await arate_limit(rate_limit_name, strict=True)
    record = await arun_record(integration_id)
    with reporting(integration_id) as on_event:
        async with braze_cdi_credentials.get_async_client() as client:
            return await client.start_sync(
                integration_id,
                if_running=if_running,
                max_wait=max_wait_seconds,
                poll_interval=poll_interval_seconds,
                on_event=on_event,
                resume=None if record is None else await record.aload(),
                before_trigger=None if record is None else record.asave,
            )


@_wait_task
def wait_for_sync(
    braze_cdi_credentials: BrazeCDICredentials,
    handle: SyncHandle,
    *,
    poll_interval_seconds: float = 10,
    max_wait_seconds: float = 3600,
    fail_on_partial: bool = False,
    create_artifact: bool = True,
    artifact_key: str | None = None,
    upstream_asset: str | None = None,
) -> SyncResult:
    """Wait for the job a ``trigger_sync`` handle points at, and record how it ended.

    Never cached: every run polls Braze.

    Args:
        braze_cdi_credentials: The workspace's credentials block.
        handle: What ``trigger_sync`` returned (possibly in another flow run).
        poll_interval_seconds: Seconds between polls at first; the core slows down gently while
            the job runs.
        max_wait_seconds: How long the wait may take before ``SyncTimeout``.
        fail_on_partial: Fail when the job ends ``partial`` (some rows failed).
        create_artifact: Record the result in a table artifact.
        artifact_key: The artifact's key (lowercase letters, numbers and dashes); by default
            ``braze-cdi-sync-<integration id>``.
        upstream_asset: The key of the Prefect asset the integration reads, such as the
            warehouse table (``snowflake://account/db/schema/table``): the integration's asset
            is materialized downstream of it.

    Returns:
        A ``braze_cdi.SyncResult``.

    The task materializes the integration's Prefect asset,
    ``braze://<REST host>/cdi/integrations/<integration id>``, with the job's fields as its
    metadata (a failed materialization when the sync fails).

    Raises:
        braze_cdi.SyncFailed: the job ended ``error`` or ``config_error`` (or ``partial`` with
            ``fail_on_partial``); never retried.
        braze_cdi.SyncTimeout: ``max_wait_seconds`` passed first; never retried.

    Examples:
        Trigger in one flow run and wait in another, the handle passed on as JSON:

        >>> from prefect import flow
        >>> from braze_cdi import SyncHandle
        >>> from braze_cdi.testing import FakeBraze
        >>> from prefect_braze_cdi import BrazeCDICredentials, trigger_sync, wait_for_sync
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users", duration=0.2, rows_synced=1200)
        >>> @flow
        ... def trigger_users():
        ...     return trigger_sync(credentials, users.integration_id).model_dump_json()
        >>> @flow
        ... def wait_for_users(handle_json):
        ...     handle = SyncHandle.model_validate_json(handle_json)
        ...     return wait_for_sync(credentials, handle, poll_interval_seconds=0.1)
        >>> with fake.serve() as url:
        ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
        ...     result = wait_for_users(trigger_users())
        >>> result.job.rows_synced, result.triggered
        (1200, True)
    """
    check_artifact_key(artifact_key)
    lineage = sync_lineage(
        braze_cdi_credentials.rest_endpoint, handle.integration_id, upstream_asset
    )
    try:
        with (
            reporting(handle.integration_id, lineage) as on_event,
            braze_cdi_credentials.get_client() as client,
        ):
            result = client.wait_for_sync(
                handle,
                poll_interval=poll_interval_seconds,
                max_wait=max_wait_seconds,
                fail_on_partial=fail_on_partial,
                on_event=on_event,
            )
    except (SyncFailed, SyncTimeout) as error:
        if create_artifact:
            _create_artifacts(_artifacts(braze_cdi_credentials, handle, error, artifact_key))
        raise
    if create_artifact:
        _create_artifacts(_artifacts(braze_cdi_credentials, handle, result, artifact_key))
    emit_succeeded(result)
    lineage.succeeded(result)
    hand_on([lineage])
    return result


@_wait_task
async def await_for_sync(
    braze_cdi_credentials: BrazeCDICredentials,
    handle: SyncHandle,
    *,
    poll_interval_seconds: float = 10,
    max_wait_seconds: float = 3600,
    fail_on_partial: bool = False,
    create_artifact: bool = True,
    artifact_key: str | None = None,
    upstream_asset: str | None = None,
) -> SyncResult:
    """The async twin of ``wait_for_sync`` ("a" + "wait_for_sync"), with the same
    arguments; ``await`` it.

    Examples:
        >>> import asyncio
        >>> from prefect import flow
        >>> from braze_cdi.testing import FakeBraze
        >>> from prefect_braze_cdi import BrazeCDICredentials, atrigger_sync, await_for_sync
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users", duration=0.2)
        >>> @flow
        ... async def sync_users():
        ...     handle = await atrigger_sync(credentials, users.integration_id)
        ...     return await await_for_sync(credentials, handle, poll_interval_seconds=0.1)
        >>> with fake.serve() as url:
        ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
        ...     result = asyncio.run(sync_users())
        >>> str(result.job_status)
        'success'
    """
    check_artifact_key(artifact_key)
    lineage = sync_lineage(
        braze_cdi_credentials.rest_endpoint, handle.integration_id, upstream_asset
    )
    try:
        with reporting(handle.integration_id, lineage) as on_event:
            async with braze_cdi_credentials.get_async_client() as client:
                result = await client.wait_for_sync(
                    handle,
                    poll_interval=poll_interval_seconds,
                    max_wait=max_wait_seconds,
                    fail_on_partial=fail_on_partial,
                    on_event=on_event,
                )
    except (SyncFailed, SyncTimeout) as error:
        if create_artifact:
            await _acreate_artifacts(_artifacts(braze_cdi_credentials, handle, error, artifact_key))
        raise
    if create_artifact:
        await _acreate_artifacts(_artifacts(braze_cdi_credentials, handle, result, artifact_key))
    emit_succeeded(result)
    lineage.succeeded(result)
    hand_on([lineage])
    return result


# --- the artifacts of a wait --------------------------------------------------------------------


def _artifacts(
    credentials: BrazeCDICredentials,
    handle: SyncHandle,
    outcome: SyncResult | SyncFailed | SyncTimeout,
    key: str | None,
) -> SyncArtifacts:
    return sync_artifacts(credentials.rest_endpoint, handle.integration_id, outcome, key)


def _create_artifacts(artifacts: SyncArtifacts) -> None:
    """The table, and the link to the dashboard page where it is known."""
    create_table_artifact(
        table=artifacts.table, key=artifacts.key, description=artifacts.description
    )
    if artifacts.dashboard is not None:
        create_link_artifact(
            link=artifacts.dashboard,
            link_text=_LINK_TEXT,
            key=artifacts.link_key,
            description=artifacts.description,
        )


async def _acreate_artifacts(artifacts: SyncArtifacts) -> None:
    """The async twin of ``_create_artifacts``."""
    await acreate_table_artifact(
        table=artifacts.table, key=artifacts.key, description=artifacts.description
    )
    if artifacts.dashboard is not None:
        await acreate_link_artifact(
            link=artifacts.dashboard,
            link_text=_LINK_TEXT,
            key=artifacts.link_key,
            description=artifacts.description,
        )
