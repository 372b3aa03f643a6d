"""Sync assets: materializing one triggers a Braze CDI sync and waits for it. One integration's
asset and a workspace's multi-asset are the same step: syncs run concurrently through one async
client, each asset gets its own materialization and checks as its sync ends."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

from braze_cdi import (
    BrazeCDIError,
    BrazeConfigError,
    Surface,
    SyncFailed,
    SyncJob,
    check_integration_id,
)

from ._metadata import dagster_metadata, failure_for
from ._types import AssetDepLike, AssetKeyLike
from .checks import (
    FAILED_ROWS,
    SYNC_SUCCEEDED,
    check_max_failed_rows,
    failed_rows_result,
    status_result,
)
from .resource import BrazeCDIResource
from .translator import INTEGRATION_ID

__all__ = [
    "build_braze_cdi_sync_asset",
    "integration_id_of",
    "sync_asset_from_spec",
    "sync_assets_from_specs",
]


def build_braze_cdi_sync_asset(
    *,
    integration_id: str,
    key: AssetKeyLike,
    deps: Iterable[AssetDepLike] | None = None,
    group_name: str | None = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    owners: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    kinds: Iterable[str] | None = None,
    automation_condition: dg.AutomationCondition[dg.AssetKey] | None = None,
    fail_on_partial: bool = False,
    max_failed_rows: int = 0,
    blocking_checks: bool = False,
    resource_key: str = "braze_cdi",
    pool: str | None = "braze_cdi",
) -> dg.AssetsDefinition:
    """An asset whose materialization syncs a Braze CDI integration and waits for the job.

    The materialization's metadata is the job as Braze reports it, keys named as the
    ``braze_cdi`` model fields: ``integration_id``, ``job_status``, ``rows_synced``,
    ``rows_failed_with_errors``, ``sync_start_time``, ``sync_finish_time``,
    ``last_timestamp_synced``, ``duration_seconds``, ``triggered`` (False when a running job was
    adopted), ``waited_seconds`` and ``status_calls``, in Dagster's types (times as timestamps),
    and ``dashboard_url`` where the resource's instance has a known dashboard. In the same step,
    without another API call, two checks are evaluated: ``braze_cdi_sync_succeeded`` (the job
    ended ``success``, or ``partial`` unless partial fails) and ``braze_cdi_failed_rows`` (at
    most ``max_failed_rows`` rows failed).

    A job that ends ``error`` or ``config_error`` (or ``partial`` with ``fail_on_partial``), and a
    wait that runs out, fail the step with a ``dg.Failure`` that carries Braze's status and the
    job; the checks are reported first.

    One run starts at most one sync: right before the trigger, its record goes to the run's
    event log (an observation of the asset, metadata key ``braze_cdi/trigger_record``), and a
    step retry, a run retry or a re-execution from failure of the run adopts the job it started
    instead of triggering again. A new run starts a new sync.

    Args:
        integration_id: The Braze integration to sync (its dashboard URL ends with it).
        key: The asset key.
        deps: Upstream assets, such as the warehouse table the integration reads.
        group_name: The asset group.
        description: The asset's description (by default, which integration it syncs).
        tags: The asset's tags.
        owners: Its owners: emails or ``team:name``.
        metadata: Its definition metadata (``braze_cdi/integration_id`` is added).
        kinds: Kinds beside ``braze``, such as the warehouse: ``{"snowflake"}``.
        automation_condition: When Dagster's automation materializes it, such as
            ``dg.AutomationCondition.eager()`` (after its warehouse table updates).
        fail_on_partial: Fail the step when the job ends ``partial``; the resource's
            ``fail_on_partial`` turns this on too.
        max_failed_rows: How many failed rows ``braze_cdi_failed_rows`` allows.
        blocking_checks: Whether a failed check stops the assets downstream.
        resource_key: The key of the ``BrazeCDIResource``.
        pool: The Dagster concurrency pool of the sync step; set a limit on it to cap how many
            syncs run at once across runs and machines.

    Examples:
        >>> import dagster as dg
        >>> from dagster_braze_cdi import BrazeCDIResource, build_braze_cdi_sync_asset
        >>> users = build_braze_cdi_sync_asset(
        ...     integration_id="00000000-0000-0000-0000-000000000001",
        ...     key=["braze", "users"],
        ...     deps=["warehouse_users"],
        ...     blocking_checks=True,
        ... )
        >>> defs = dg.Definitions(
        ...     assets=[users],
        ...     resources={
        ...         "braze_cdi": BrazeCDIResource(
        ...             api_key=dg.EnvVar("BRAZE_API_KEY"), rest_endpoint="US-01"
        ...         )
        ...     },
        ... )
        >>> sorted(check.name for check in users.check_keys)
        ['braze_cdi_failed_rows', 'braze_cdi_sync_succeeded']

        Materialized against a FakeBraze:

        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> _ = fake.add_integration("00000000-0000-0000-0000-000000000001", duration=0.0)
        >>> with fake.serve() as url:
        ...     resource = BrazeCDIResource(api_key=fake.api_key, rest_endpoint=url)
        ...     result = dg.materialize([users], resources={"braze_cdi": resource})
        >>> [materialization] = result.get_asset_materialization_events()
        >>> materialization.materialization.metadata["job_status"].value
        'success'
        >>> [(check.check_name, check.passed) for check in result.get_asset_check_evaluations()]
        [('braze_cdi_sync_succeeded', True), ('braze_cdi_failed_rows', True)]
    """
    spec = dg.AssetSpec(
        key=key,
        deps=deps,
        group_name=group_name,
        description=description,
        tags=tags,
        owners=owners,
        metadata=metadata,
        kinds=set(kinds or ()),
        automation_condition=automation_condition,
    )
    return sync_asset_from_spec(
        spec,
        integration_id=integration_id,
        fail_on_partial=fail_on_partial,
        max_failed_rows=max_failed_rows,
        blocking_checks=blocking_checks,
        resource_key=resource_key,
        pool=pool,
    )


def sync_asset_from_spec(
    spec: dg.AssetSpec,
    *,
    integration_id: str,
    fail_on_partial: bool = False,
    max_failed_rows: int = 0,
    blocking_checks: bool = False,
    resource_key: str = "braze_cdi",
    pool: str | None = "braze_cdi",
    hints_for: Surface = "python",
) -> dg.AssetsDefinition:
    """``build_braze_cdi_sync_asset`` for a ready ``dg.AssetSpec``, such as one of
    ``load_braze_cdi_asset_specs``: an asset of its own, in a step of its own.

    The spec keeps everything it says (key, deps, group, tags, owners, automation condition);
    the kind ``braze`` and the metadata ``braze_cdi/integration_id`` are added. ``hints_for``
    spells the hints of failures for Python code or for the component's YAML (``"yaml"``).

    Examples:
        >>> import dagster as dg
        >>> from dagster_braze_cdi import sync_asset_from_spec
        >>> users = sync_asset_from_spec(
        ...     dg.AssetSpec(
        ...         ["braze", "users"],
        ...         owners=["team:crm"],
        ...         automation_condition=dg.AutomationCondition.eager(),
        ...     ),
        ...     integration_id="00000000-0000-0000-0000-000000000001",
        ... )
        >>> spec = next(iter(users.specs))
        >>> sorted(spec.kinds), spec.owners
        (['braze'], ['team:crm'])
    """
    check_integration_id(integration_id)
    check_max_failed_rows(max_failed_rows)
    spec = spec.merge_attributes(kinds={"braze"}, metadata={INTEGRATION_ID: integration_id})
    if spec.description is None:
        spec = spec.replace_attributes(
            description=f"Braze Cloud Data Ingestion sync of integration {integration_id}: "
            "materializing it triggers a sync and waits for it to finish."
        )
    return sync_assets_from_specs(
        [spec],
        name=f"braze_cdi_sync__{spec.key.to_python_identifier()}",
        max_concurrency=1,
        fail_on_partial=fail_on_partial,
        max_failed_rows=max_failed_rows,
        blocking_checks=blocking_checks,
        resource_key=resource_key,
        pool=pool,
        hints_for=hints_for,
    )


def sync_assets_from_specs(
    specs: Sequence[dg.AssetSpec],
    *,
    name: str = "braze_cdi_workspace",
    max_concurrency: int = 10,
    fail_on_partial: bool = False,
    max_failed_rows: int = 0,
    blocking_checks: bool = False,
    resource_key: str = "braze_cdi",
    pool: str | None = "braze_cdi",
    hints_for: Surface = "python",
) -> dg.AssetsDefinition:
    """The multi-asset of ``build_braze_cdi_assets_definitions`` for ready specs, each naming
    its integration in the metadata ``braze_cdi/integration_id`` (the component's way, and
    yours when the specs come from elsewhere).

    Raises:
        BrazeConfigError: a spec names no integration, two name the same one, or a setting is
            invalid.
    """
    check_max_failed_rows(max_failed_rows)
    if not (isinstance(max_concurrency, int) and max_concurrency > 0):
        raise BrazeConfigError(
            f"max_concurrency must be a positive integer, not {max_concurrency!r}."
        )
    integrations = {spec.key: integration_id_of(spec) for spec in specs}
    if len(set(integrations.values())) != len(integrations):
        raise BrazeConfigError("Two asset specs sync the same Braze integration.")
    specs = [spec.merge_attributes(kinds={"braze"}) for spec in specs]
    check_specs = [
        check_spec
        for spec in specs
        for check_spec in sync_check_specs(spec.key, max_failed_rows, blocking_checks)
    ]

    @dg.multi_asset(
        name=name,
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
        required_resource_keys={resource_key},
        pool=pool,
    )
    # No return annotation: Dagster would read one on an async generator as its outputs' types.
    async def braze_cdi_workspace(context: dg.AssetExecutionContext):  # type: ignore[no-untyped-def]
        resource: BrazeCDIResource = getattr(context.resources, resource_key)
        fails_on_partial = fail_on_partial or resource.fail_on_partial
        keys = {
            integration_id: key
            for key, integration_id in integrations.items()
            if key in context.selected_asset_keys
        }
        checks_selected = context.selected_asset_check_keys
        failures: dict[str, BrazeCDIError] = {}
        unexpected: list[Exception] = []
        async for integration_id, outcome in resource.sync_many_and_poll(
            keys,
            context=context,
            asset_keys=keys,
            max_concurrency=max_concurrency,
            fail_on_partial=fails_on_partial,
        ):
            key = keys[integration_id]
            if isinstance(outcome, SyncFailed):
                for result in sync_check_results(
                    key,
                    integration_id,
                    outcome.job,
                    fails_on_partial,
                    max_failed_rows,
                    rest_endpoint=resource.rest_endpoint,
                ):
                    if dg.AssetCheckKey(key, result.check_name or "") in checks_selected:
                        yield result
            if isinstance(outcome, Exception):
                context.log.error(f"The sync of {key.to_user_string()} failed: {outcome}")
                if isinstance(outcome, BrazeCDIError):
                    failures[integration_id] = outcome
                else:  # a defect, not Braze: raised as it is once the others are reported
                    unexpected.append(outcome)
                continue
            yield dg.MaterializeResult(
                asset_key=key,
                metadata=dagster_metadata(outcome.record(), rest_endpoint=resource.rest_endpoint),
                check_results=[
                    result
                    for result in sync_check_results(
                        key,
                        integration_id,
                        outcome.job,
                        fails_on_partial,
                        max_failed_rows,
                        rest_endpoint=resource.rest_endpoint,
                    )
                    if dg.AssetCheckKey(key, result.check_name or "") in checks_selected
                ],
            )
        if unexpected:
            raise unexpected[0]
        if failures:
            raise _failure(failures, keys, hints_for, resource.rest_endpoint)

    return braze_cdi_workspace


def _failure(
    failures: dict[str, BrazeCDIError],
    keys: dict[str, dg.AssetKey],
    hints_for: Surface,
    rest_endpoint: str,
) -> dg.Failure:
    if len(failures) == 1:
        [error] = failures.values()
        return failure_for(error, hints_for, rest_endpoint=rest_endpoint)
    lines = [
        f"- {keys[integration_id].to_user_string()}: {error.describe(hints_for)}"
        for integration_id, error in failures.items()
    ]
    return dg.Failure(
        description=f"{len(failures)} of {len(keys)} Braze CDI syncs failed:\n" + "\n".join(lines),
        metadata={
            "failed_integrations": dg.MetadataValue.json(
                {
                    keys[integration_id].to_user_string(): {
                        "integration_id": integration_id,
                        "error": type(error).__name__,
                        "retryable": error.retryable,
                    }
                    for integration_id, error in failures.items()
                }
            )
        },
        allow_retries=all(error.retryable for error in failures.values()),
    )


def integration_id_of(spec: dg.AssetSpec) -> str:
    """The integration a workspace spec syncs (its ``braze_cdi/integration_id`` metadata).

    Raises:
        BrazeConfigError: the spec names no integration, or a malformed one.
    """
    value = spec.metadata.get(INTEGRATION_ID)
    if isinstance(value, dg.MetadataValue):
        value = value.value
    if not isinstance(value, str):
        raise BrazeConfigError(
            f"The asset spec {spec.key.to_user_string()} has no {INTEGRATION_ID!r} metadata: "
            "it does not say which Braze integration it syncs."
        )
    check_integration_id(value)
    return value


def sync_check_specs(
    key: dg.AssetKey, max_failed_rows: int, blocking: bool
) -> list[dg.AssetCheckSpec]:
    """The two checks a sync asset evaluates from the job it waited for."""
    return [
        dg.AssetCheckSpec(
            SYNC_SUCCEEDED,
            asset=key,
            blocking=blocking,
            description="The sync's job ended success (or partial, unless partial fails).",
        ),
        dg.AssetCheckSpec(
            FAILED_ROWS,
            asset=key,
            blocking=blocking,
            description=f"The sync's job failed at most {max_failed_rows:,} rows.",
        ),
    ]


def sync_check_results(
    key: dg.AssetKey,
    integration_id: str,
    job: SyncJob,
    fail_on_partial: bool,
    max_failed_rows: int,
    *,
    rest_endpoint: str | None = None,
) -> list[dg.AssetCheckResult]:
    """The results of ``sync_check_specs`` for the job the sync ended with."""
    return [
        status_result(
            key,
            SYNC_SUCCEEDED,
            integration_id,
            job,
            fail_on_partial=fail_on_partial,
            rest_endpoint=rest_endpoint,
        ),
        failed_rows_result(
            key, FAILED_ROWS, integration_id, job, max_failed_rows, rest_endpoint=rest_endpoint
        ),
    ]
