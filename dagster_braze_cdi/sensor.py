"""A sensor that records the syncs Braze ran on its own schedule as materializations."""

from datetime import datetime, timezone

import dagster as dg

from braze_cdi import check_integration_id
from braze_cdi.events import log_to

from ._job_history import finished_after
from ._metadata import dagster_metadata, job_record
from ._types import AssetKeyLike
from .resource import BrazeCDIResource

__all__ = ["build_braze_cdi_sync_sensor"]


def build_braze_cdi_sync_sensor(
    *,
    integration_id: str,
    asset_key: AssetKeyLike,
    minimum_interval_seconds: int = 300,
    resource_key: str = "braze_cdi",
) -> dg.SensorDefinition:
    """A sensor that reports jobs Braze ran without Dagster as materializations of the asset.

    Each tick reads the integration's job history and reports every job that finished since the
    last one reported, as an ``AssetMaterialization`` with the sync asset's metadata
    (``triggered`` is False). Its cursor is the ``sync_start_time`` of the last job reported, so
    each job is reported once. Jobs that Dagster materialized are not reported again: only jobs
    that started after the asset's latest materialization count, and while a Dagster run that
    will materialize the asset is in progress, the sensor waits for it. Its first tick reports
    only the latest finished job.

    Args:
        integration_id: The Braze integration whose jobs are read.
        asset_key: The asset to record them on: the sync asset, or a ``dg.AssetSpec`` that
            stands for an integration only Braze's schedule runs.
        minimum_interval_seconds: Seconds between two ticks (each tick reads the job list).
        resource_key: The key of the ``BrazeCDIResource``.

    Examples:
        >>> from dagster_braze_cdi import build_braze_cdi_sync_sensor
        >>> sensor = build_braze_cdi_sync_sensor(
        ...     integration_id="00000000-0000-0000-0000-000000000001",
        ...     asset_key=["braze", "users"],
        ... )
        >>> sensor.name
        'braze_cdi_sync_sensor__braze__users'

        One tick, against a FakeBraze whose schedule just ran a sync:

        >>> import dagster as dg
        >>> from braze_cdi.testing import FakeBraze
        >>> from dagster_braze_cdi import BrazeCDIResource
        >>> fake = FakeBraze()
        >>> _ = fake.add_integration("00000000-0000-0000-0000-000000000001", history=3)
        >>> with fake.serve() as url, dg.instance_for_test() as instance:
        ...     resource = BrazeCDIResource(api_key=fake.api_key, rest_endpoint=url)
        ...     tick = sensor(dg.build_sensor_context(instance, resources={"braze_cdi": resource}))
        >>> [event.metadata["triggered"].value for event in tick.asset_events]
        [False]
    """
    check_integration_id(integration_id)
    key = dg.AssetKey.from_coercible(asset_key)

    @dg.sensor(
        name=f"braze_cdi_sync_sensor__{key.to_python_identifier()}",
        minimum_interval_seconds=minimum_interval_seconds,
        required_resource_keys={resource_key},
        description=f"Records jobs of Braze integration {integration_id} that Braze's own "
        f"schedule ran as materializations of {key.to_user_string()}.",
    )
    def braze_cdi_sync_sensor(
        context: dg.SensorEvaluationContext,
        # Calling the sensor directly (``sensor(context)``, as tests do) passes the required
        # resources as keyword arguments too; they are read from the context.
        **_resources: object,
    ) -> dg.SensorResult | dg.SkipReason:
        if _run_in_progress(context.instance, key):
            return dg.SkipReason(
                f"A Dagster run that materializes {key.to_user_string()} is in progress; "
                "waiting for it so that its job is not reported twice."
            )
        resource: BrazeCDIResource = getattr(context.resources, resource_key)
        after = _latest(_parse(context.cursor), _materialized_start(context.instance, key))
        with resource.get_client() as client:
            # After the first tick, only the jobs since the cursor are read, not the history.
            jobs = list(
                client.list_sync_jobs(integration_id, since=after, on_event=log_to(context.log))
            )
        new = finished_after(jobs, after)
        if not new:
            return dg.SkipReason(f"No job of integration {integration_id} finished since.")
        events = [
            dg.AssetMaterialization(
                asset_key=key,
                description=f"Braze ran a sync of integration {integration_id}.",
                metadata=dagster_metadata(
                    {**job_record(integration_id, job), "triggered": False},
                    rest_endpoint=resource.rest_endpoint,
                ),
            )
            for job in new
        ]
        last = new[-1].sync_start_time
        assert last is not None  # finished_after keeps only dated jobs
        return dg.SensorResult(asset_events=events, cursor=last.isoformat())

    return braze_cdi_sync_sensor


def _run_in_progress(instance: dg.DagsterInstance, key: dg.AssetKey) -> bool:
    # A run records its plan to materialize the asset when it is created; until it ends, the job
    # it syncs may already show as finished at Braze without its materialization stored yet.
    planned = instance.get_latest_planned_materialization_info(key)
    if planned is None:
        return False
    run = instance.get_run_by_id(planned.run_id)
    return run is not None and not run.is_finished


def _materialized_start(instance: dg.DagsterInstance, key: dg.AssetKey) -> datetime | None:
    """The ``sync_start_time`` of the job the asset's latest materialization recorded."""
    event = instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event is not None else None
    if materialization is None:
        return None
    value = materialization.metadata.get("sync_start_time")
    if isinstance(value, dg.TimestampMetadataValue):
        return datetime.fromtimestamp(value.value, tz=timezone.utc)
    # Materializations written by earlier versions hold the time as ISO 8601 text.
    return _parse(value.value if value is not None else None)


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    # The core hands out aware times only; a hand-edited cursor without an offset is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _latest(*moments: datetime | None) -> datetime | None:
    return max((moment for moment in moments if moment is not None), default=None)
