"""The sync asset: materializing it triggers a Braze CDI sync and waits for it."""

from collections.abc import Iterable, Iterator

import dagster as dg

from braze_cdi import BrazeCDIError, Surface, SyncFailed, SyncJob, check_integration_id

from ._metadata import failure_for
from ._types import AssetDepLike, AssetKeyLike
from .checks import (
    FAILED_ROWS,
    SYNC_SUCCEEDED,
    check_max_failed_rows,
    failed_rows_result,
    status_result,
)
from .resource import BrazeCDIResource

__all__ = ["build_braze_cdi_sync_asset", "sync_asset_from_spec"]


def build_braze_cdi_sync_asset(
    *,
    integration_id: str,
    key: AssetKeyLike,
    deps: Iterable[AssetDepLike] | None = None,
    group_name: str | None = None,
    description: str | None = None,
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
    adopted), ``waited_seconds`` and ``status_calls``. In the same step, without another API
    call, two checks are evaluated: ``braze_cdi_sync_succeeded`` (the job ended ``success``, or
    ``partial`` unless partial fails) and ``braze_cdi_failed_rows`` (at most ``max_failed_rows``
    rows failed).

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
    spec = dg.AssetSpec(key=key, deps=deps, group_name=group_name, description=description)
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
    """``build_braze_cdi_sync_asset`` for a ready ``dg.AssetSpec`` (the component's way, whose
    failures spell their hints for YAML with ``hints_for="yaml"``)."""
    check_integration_id(integration_id)
    check_max_failed_rows(max_failed_rows)
    spec = spec.merge_attributes(
        kinds={"braze"}, metadata={"braze_cdi/integration_id": integration_id}
    )
    if spec.description is None:
        spec = spec.replace_attributes(
            description=f"Braze Cloud Data Ingestion sync of integration {integration_id}: "
            "materializing it triggers a sync and waits for it to finish."
        )
    key = spec.key
    check_specs = [
        dg.AssetCheckSpec(
            SYNC_SUCCEEDED,
            asset=key,
            blocking=blocking_checks,
            description="The sync's job ended success (or partial, unless partial fails).",
        ),
        dg.AssetCheckSpec(
            FAILED_ROWS,
            asset=key,
            blocking=blocking_checks,
            description=f"The sync's job failed at most {max_failed_rows:,} rows.",
        ),
    ]

    @dg.multi_asset(
        name=f"braze_cdi_sync__{key.to_python_identifier()}",
        specs=[spec],
        check_specs=check_specs,
        required_resource_keys={resource_key},
        pool=pool,
    )
    def braze_cdi_sync(context: dg.AssetExecutionContext) -> Iterator[object]:
        resource: BrazeCDIResource = getattr(context.resources, resource_key)
        fails_on_partial = fail_on_partial or resource.fail_on_partial
        try:
            result = resource.sync_and_poll(
                integration_id, context=context, asset_key=key, fail_on_partial=fails_on_partial
            )
        except SyncFailed as error:
            yield from checks(error.job, fails_on_partial)
            raise failure_for(error, hints_for) from error
        except BrazeCDIError as error:
            raise failure_for(error, hints_for) from error
        yield dg.MaterializeResult(
            asset_key=key,
            metadata=result.record(),
            check_results=list(checks(result.job, fails_on_partial)),
        )

    def checks(job: SyncJob, fails_on_partial: bool) -> Iterator[dg.AssetCheckResult]:
        yield status_result(
            key, SYNC_SUCCEEDED, integration_id, job, fail_on_partial=fails_on_partial
        )
        yield failed_rows_result(key, FAILED_ROWS, integration_id, job, max_failed_rows)

    return braze_cdi_sync
