"""Many integrations synced at once: the task behind the ``sync_integrations`` flows.

One async client makes every request, so the core's rate budgets pace them all
(``AsyncBrazeCDIClient.sync_as_completed``); a Prefect global concurrency limit, when named,
gives a slot to each trigger right before it is sent. Each sync is reported as it ends (a
``braze.cdi.sync.succeeded`` or ``.failed`` event, the materialization of its asset); one table
artifact holds a row per integration; the task fails at the end, naming each sync that failed.

Each trigger's record is kept with the flow run before it is sent, as ``trigger_sync`` keeps
its own (``_resume``): a retry of the flow run adopts the jobs its first attempt started
instead of triggering again.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import AsyncGenerator, Callable, Coroutine, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, cast

from prefect import get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.concurrency.asyncio import rate_limit
from prefect.exceptions import ObjectNotFound
from prefect.utilities.asyncutils import run_coro_as_sync

from braze_cdi import (
    AsyncBrazeCDIClient,
    BrazeCDIError,
    BrazeConfigError,
    IfRunning,
    SyncHandle,
    SyncResult,
    check_integration_id,
    is_active,
)
from braze_cdi.events import SyncEvent

from ._artifacts import (
    check_artifact_key,
    outcome_row,
    selection_artifact_key,
    selection_description,
)
from ._events import emit_failed, emit_succeeded
from ._lineage import SyncLineage, check_upstream_asset, hand_on, sync_lineage
from ._reporting import progress_subscriber
from ._resume import RunRecord, arun_record
from ._retries import retry_only_retryable
from .credentials import BrazeCDICredentials
from .tasks import _RETRIES, _RETRY_DELAYS, _RETRY_JITTER

__all__ = ["SyncPlan", "async_integrations_task", "sync_integrations_task"]


@dataclass(frozen=True)
class SyncPlan:
    """What a ``sync_integrations`` flow was asked to do, checked when it is made: before any
    request.

    Raises:
        BrazeConfigError: neither ids nor a pattern, or both; no id, a duplicate or an invalid
            id; a bad ``max_concurrency``, artifact key or upstream asset key; an upstream
            asset for an integration that is not among ``integration_ids``.
    """

    integration_ids: Sequence[str] | None
    name_pattern: str | None
    max_concurrency: int
    poll_interval_seconds: float
    max_wait_seconds: float
    if_running: IfRunning
    fail_on_partial: bool
    rate_limit_name: str | None
    create_artifact: bool
    artifact_key: str | None
    upstream_assets: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids, pattern = self.integration_ids, self.name_pattern
        if (ids is None) == (pattern is None):
            raise BrazeConfigError(
                "Give either integration_ids or name_pattern"
                + (", not both." if ids is not None else "."),
                hint="integration_ids=[...] syncs those integrations; name_pattern='users_*' "
                "syncs every integration whose name matches (paused ones are left out).",
            )
        if ids is not None:
            if isinstance(ids, str):
                raise BrazeConfigError(
                    f"integration_ids must be a list of ids, not the string {ids!r}."
                )
            if not ids:
                raise BrazeConfigError("integration_ids is empty: there is nothing to sync.")
            for integration_id in ids:
                check_integration_id(integration_id)
            twice = sorted({i for i in ids if list(ids).count(i) > 1})
            if twice:
                raise BrazeConfigError(
                    "integration_ids names the same integration twice: " + ", ".join(twice) + "."
                )
        elif not (isinstance(pattern, str) and pattern.strip()):
            raise BrazeConfigError(f"name_pattern must be a non-empty glob, not {pattern!r}.")
        if not (
            isinstance(self.max_concurrency, int)
            and not isinstance(self.max_concurrency, bool)
            and self.max_concurrency > 0
        ):
            raise BrazeConfigError(
                f"max_concurrency must be a positive integer, not {self.max_concurrency!r}."
            )
        check_artifact_key(self.artifact_key)
        for key in self.upstream_assets.values():
            check_upstream_asset(key)
        strays = sorted(set(self.upstream_assets) - set(ids or self.upstream_assets))
        if strays:
            raise BrazeConfigError(
                "upstream_assets names integrations that are not synced: " + ", ".join(strays) + "."
            )

    @property
    def artifact(self) -> str:
        """The artifact's key."""
        return selection_artifact_key(self.integration_ids, self.name_pattern, self.artifact_key)


# One decorator, applied to the sync task and to its async twin. Prefect retries the task only
# for a retryable error that ends it (listing the integrations); a sync that fails is one of
# the outcomes, and the error naming the failed syncs is not retryable.
_many_task = task(
    name="Sync Braze CDI integrations",
    task_run_name="sync-integrations",
    retries=_RETRIES,
    retry_delay_seconds=_RETRY_DELAYS,
    retry_jitter_factor=_RETRY_JITTER,
    retry_condition_fn=retry_only_retryable,
    cache_policy=NO_CACHE,
)


@_many_task
def sync_integrations_task(
    braze_cdi_credentials: BrazeCDICredentials, plan: SyncPlan
) -> dict[str, SyncResult]:
    """Run ``plan`` with the async client, from a sync flow."""
    return run_coro_as_sync(_sync_many(braze_cdi_credentials, plan))


@_many_task
async def async_integrations_task(
    braze_cdi_credentials: BrazeCDICredentials, plan: SyncPlan
) -> dict[str, SyncResult]:
    """Run ``plan``, from an async flow."""
    return await _sync_many(braze_cdi_credentials, plan)


async def _sync_many(credentials: BrazeCDICredentials, plan: SyncPlan) -> dict[str, SyncResult]:
    logger = get_run_logger()
    await _check_rate_limit(plan.rate_limit_name)
    on_event = progress_subscriber()
    async with credentials.get_async_client() as client:
        if plan.name_pattern is not None:
            names = await _matching(client, plan.name_pattern, on_event)
            strays = sorted(set(plan.upstream_assets) - set(names))
            if strays:  # found only now, still before any trigger
                raise BrazeConfigError(
                    "upstream_assets names integrations that do not match "
                    f"{plan.name_pattern!r}: " + ", ".join(strays) + "."
                )
        else:
            names = dict.fromkeys(plan.integration_ids or ())
        if not names:
            logger.warning(f"No integration to sync: none matches {plan.name_pattern!r}.")
        lineages = {
            integration_id: sync_lineage(
                credentials.rest_endpoint,
                integration_id,
                plan.upstream_assets.get(integration_id),
                integration_name=name,
            )
            for integration_id, name in names.items()
        }
        records = await _records(list(names))
        outcomes: dict[str, SyncResult | Exception] = {}
        # An async generator, typed as an iterator: closed even if reporting one sync fails.
        syncs = client.sync_as_completed(
            list(names),
            max_concurrency=plan.max_concurrency,
            poll_interval=plan.poll_interval_seconds,
            max_wait=plan.max_wait_seconds,
            if_running=plan.if_running,
            fail_on_partial=plan.fail_on_partial,
            on_event=on_event,
            resume=await _kept(records),
            before_trigger=_before_trigger(records, plan.rate_limit_name) if records else None,
        )
        ended_syncs = cast("AsyncGenerator[tuple[str, SyncResult | Exception]]", syncs)
        async with aclosing(ended_syncs) as ended:
            async for integration_id, outcome in ended:
                outcomes[integration_id] = outcome
                _report(integration_id, outcome, lineages[integration_id])
    hand_on(lineage for i, lineage in lineages.items() if isinstance(outcomes[i], SyncResult))
    rows = [
        outcome_row(credentials.rest_endpoint, i, outcomes[i], name) for i, name in names.items()
    ]
    if plan.create_artifact:
        await acreate_table_artifact(
            table=rows, key=plan.artifact, description=selection_description(rows)
        )
    failed = {i: o for i in names if not isinstance(o := outcomes[i], SyncResult)}
    if failed:
        raise _failed(failed, len(names), plan.artifact if plan.create_artifact else None)
    return {i: o for i in names if isinstance(o := outcomes[i], SyncResult)}


async def _check_rate_limit(name: str | None) -> None:
    """Refuse a global concurrency limit that does not exist, or is no rate limit, before any
    request (a trigger would otherwise find out, each sync for itself)."""
    if name is None:
        return
    async with get_client() as prefect:
        try:
            limit = await prefect.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            limit = None
    if limit is None or not limit.slot_decay_per_second:
        problem = "does not exist" if limit is None else "has no slot decay"
        raise BrazeConfigError(
            f"The Prefect global concurrency limit {name!r} {problem}: triggers cannot take "
            "its slots.",
            hint=f"Create it: prefect gcl create {name} --limit 20 --slot-decay-per-second 0.33",
        )


async def _matching(
    client: AsyncBrazeCDIClient, pattern: str, on_event: Callable[[SyncEvent], None]
) -> dict[str, str | None]:
    """The integrations whose name matches the glob ``pattern`` (case-sensitive), by id, with
    their names; one listing. Those not active (paused) are left out, each with a log line,
    by the core's rule (``braze_cdi.is_active``), as the Dagster selector and the watcher do."""
    logger = get_run_logger()
    names: dict[str, str | None] = {}
    async for integration in client.list_integrations(on_event=on_event):
        name = integration.integration_name
        if name is None or not fnmatch.fnmatchcase(name, pattern):
            continue
        if not is_active(integration):
            logger.info(
                f"Leaving out integration {name!r} ({integration.integration_id}): its status "
                f"in Braze is {integration.integration_status!r}, not active."
            )
            continue
        names[integration.integration_id] = name
    return names


async def _records(integration_ids: list[str]) -> dict[str, RunRecord]:
    """Where each trigger's record is kept with the flow run; empty outside a flow run."""
    found = await asyncio.gather(*(arun_record(i) for i in integration_ids))
    pairs = zip(integration_ids, found, strict=True)
    return {i: record for i, record in pairs if record is not None}


async def _kept(records: Mapping[str, RunRecord]) -> dict[str, SyncHandle]:
    """The records an earlier attempt of the flow run kept, to adopt their jobs."""
    kept = await asyncio.gather(*(record.aload() for record in records.values()))
    return {i: handle for i, handle in zip(records, kept, strict=True) if handle is not None}


def _before_trigger(
    records: Mapping[str, RunRecord], rate_limit_name: str | None
) -> Callable[[SyncHandle], Coroutine[Any, Any, None]]:
    """The core's ``before_trigger``: a slot of the rate limit, then the record kept."""

    async def before_trigger(record: SyncHandle) -> None:
        if rate_limit_name is not None:
            await rate_limit(rate_limit_name, strict=True)
        await records[record.integration_id].asave(record)

    return before_trigger


def _report(integration_id: str, outcome: SyncResult | Exception, lineage: SyncLineage) -> None:
    """One sync ended: its event and its asset's materialization."""
    if isinstance(outcome, SyncResult):
        emit_succeeded(outcome)
        lineage.succeeded(outcome)
        return
    if isinstance(outcome, BrazeCDIError):
        emit_failed(integration_id, outcome)
    lineage.failed(outcome)
    get_run_logger().error(
        f"The sync of integration {integration_id} failed: {type(outcome).__name__}: {outcome}"
    )


def _failed(failed: Mapping[str, Exception], synced: int, artifact: str | None) -> BrazeCDIError:
    """The error that fails the flow run: every failed sync, named."""
    each = "; ".join(
        f"{integration_id} ({type(error).__name__}: "
        f"{error.message if isinstance(error, BrazeCDIError) else error})"
        for integration_id, error in failed.items()
    )
    return BrazeCDIError(
        f"{len(failed)} of {synced} Braze CDI syncs failed: {each}",
        hint=f"Every sync's outcome is in the artifact {artifact!r}." if artifact else None,
    )
