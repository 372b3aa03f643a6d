"""One sensor for a whole Braze workspace: the syncs Braze's own schedule ran, recorded as
materializations of their assets, and a check that each integration's schedule did run.

A tick reads ``GET /cdi/integrations`` once (every page), and an integration's job list only
when that list shows a job the sensor has not accounted for yet: the core's
``watch_schedules`` decides, this module turns its report into Dagster events.
"""

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone

import dagster as dg

from braze_cdi import (
    BrazeCDIError,
    BrazeConfigError,
    ScheduleVerdict,
    ScheduleWatch,
    SyncJob,
    schedule_verdict,
)
from braze_cdi.events import log_to

from ._metadata import dagster_metadata, failure_for, job_record
from .resource import BrazeCDIResource
from .sensor import _materialized_start, _run_in_progress
from .workspace import integration_id_of

__all__ = [
    "SCHEDULE_RAN",
    "build_braze_cdi_schedule_checks",
    "build_braze_cdi_workspace_sensor",
]

#: The check, on every workspace asset, that its integration's schedule ran.
SCHEDULE_RAN = "braze_cdi_schedule_ran"

# Job lists one tick reads at most: half of Braze's 100 status requests a minute, so that syncs
# polling at the same time keep the other half, and a tick of a large workspace ends well within
# the sensor's 60 s. The integrations left over are read on the next ticks.
_JOB_READS_PER_TICK = 50

_NAME = re.compile(r"[A-Za-z0-9_]+")  # what Dagster accepts as a sensor, check or resource name


def build_braze_cdi_workspace_sensor(
    assets: Iterable[dg.AssetSpec | dg.AssetsDefinition],
    *,
    name: str = "braze_cdi_workspace_sensor",
    minimum_interval_seconds: int = 300,
    schedule_grace: timedelta = timedelta(minutes=30),
    resource_key: str = "braze_cdi",
) -> dg.SensorDefinition:
    """One sensor for every integration of the workspace: it reports the jobs Braze's own
    schedule ran as materializations of their assets, and evaluates ``braze_cdi_schedule_ran``.

    Each tick reads the integration list once (one request per 10 integrations). When that list
    shows that an asset's integration ran a job the sensor has not accounted for, the sensor
    reads the integration's job list since the last job it reported, and reports each job that
    finished since as an ``AssetMaterialization`` with the sync asset's metadata (``triggered``
    is False), once. Jobs that Dagster materialized are not reported again: only jobs that
    started after the asset's latest materialization count, and while a Dagster run that will
    materialize the asset is in progress, its integration waits. An integration seen for the
    first time reports only its latest job, once that job has finished. A tick reads at most 50
    job lists (half of Braze's per-minute limit); the others wait for the next ticks, those never
    read first, then those reported longest ago.

    ``braze_cdi_schedule_ran`` fails when an active integration's ``next_scheduled_run`` is more
    than ``schedule_grace`` in the past and no job started since (or when Braze no longer lists
    the integration); its metadata says when the run was due, when the last job started and how
    late the run is. The sensor reports an evaluation when the verdict changes (and the first
    time it judges an integration), and logs a warning for each schedule that stopped. For the
    check to show in the UI, put ``build_braze_cdi_schedule_checks(assets)`` in the same
    ``dg.Definitions``: it declares the check, and evaluates it whenever it is run.

    The cursor is a ``braze_cdi.ScheduleWatch`` as JSON: per integration, the
    ``sync_start_time`` of the last job accounted for, the start of a running job already looked
    at, and the last verdict reported. A cursor that cannot be read counts as none.

    Args:
        assets: The workspace's assets: the specs of ``load_braze_cdi_asset_specs``, or the
            multi-asset of ``build_braze_cdi_assets_definitions`` or ``sync_assets_from_specs``;
            each names its integration in the metadata ``braze_cdi/integration_id``.
        name: The sensor's name.
        minimum_interval_seconds: Seconds between two ticks.
        schedule_grace: How late a scheduled run may be before the check fails.
        resource_key: The key of the ``BrazeCDIResource``.

    Raises:
        BrazeConfigError: no asset, an asset that names no integration, two assets that name
            the same one, or an invalid setting.

    Examples:
        >>> import dagster as dg
        >>> from braze_cdi.testing import FakeBraze
        >>> from dagster_braze_cdi import BrazeCDIResource, load_braze_cdi_asset_specs
        >>> from dagster_braze_cdi.workspace_sensor import build_braze_cdi_workspace_sensor
        >>> fake = FakeBraze()
        >>> _ = fake.add_integration(name="users", history=1)
        >>> _ = fake.add_integration(name="events", next_scheduled_run=fake.clock.time() - 7200)
        >>> with fake.serve() as url, dg.instance_for_test() as instance:
        ...     resource = BrazeCDIResource(api_key=fake.api_key, rest_endpoint=url)
        ...     sensor = build_braze_cdi_workspace_sensor(load_braze_cdi_asset_specs(resource))
        ...     tick = sensor(dg.build_sensor_context(instance, resources={"braze_cdi": resource}))
        >>> [
        ...     event.asset_key.to_user_string()
        ...     for event in tick.asset_events
        ...     if isinstance(event, dg.AssetMaterialization)
        ... ]
        ['braze/users']
        >>> {
        ...     event.asset_key.to_user_string(): event.passed
        ...     for event in tick.asset_events
        ...     if isinstance(event, dg.AssetCheckEvaluation)
        ... }
        {'braze/users': True, 'braze/events': False}
    """
    keys = _integration_keys(assets)
    _check_name("name", name)
    _check_name("resource_key", resource_key)
    _check_grace(schedule_grace)
    if isinstance(minimum_interval_seconds, bool) or not (
        isinstance(minimum_interval_seconds, int) and minimum_interval_seconds > 0
    ):
        raise BrazeConfigError(
            "minimum_interval_seconds must be a positive whole number of seconds, "
            f"not {minimum_interval_seconds!r}."
        )

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        required_resource_keys={resource_key},
        description=f"Records the jobs Braze's own schedule ran for {len(keys)} Braze CDI "
        f"integrations as materializations, and checks that each schedule ran ({SCHEDULE_RAN}).",
    )
    def braze_cdi_workspace_sensor(
        context: dg.SensorEvaluationContext,
        # Calling the sensor directly (``sensor(context)``, as tests do) passes the required
        # resources as keyword arguments too; they are read from the context.
        **_resources: object,
    ) -> dg.SensorResult:
        resource: BrazeCDIResource = getattr(context.resources, resource_key)
        instance = context.instance
        with resource.get_client() as client:
            report = client.watch_schedules(
                ScheduleWatch.loads(context.cursor),
                list(keys),
                grace=schedule_grace,
                max_job_reads=_JOB_READS_PER_TICK,
                # Jobs Dagster materialized are its own; while a run that will materialize the
                # asset is in progress, the job it syncs may show as finished at Braze already.
                known_until=lambda integration_id: _materialized_start(
                    instance, keys[integration_id]
                ),
                skip=lambda integration_id: _run_in_progress(instance, keys[integration_id]),
                on_event=log_to(context.log),
            )
        for integration_id, error in report.failures.items():
            context.log.warning(f"Could not read the jobs of integration {integration_id}: {error}")
        context.log.info(report.summary)
        jobs = [
            _materialization(keys[integration_id], integration_id, job, resource.rest_endpoint)
            for integration_id, new in report.jobs.items()
            for job in new
        ]
        checks = []
        for verdict in report.changed:  # unchanged: the check's latest evaluation still says it
            key = keys[verdict.integration_id]
            if not verdict.passed:
                context.log.warning(f"{key.to_user_string()}: {verdict.description}")
            checks.append(_check_evaluation(key, verdict, resource.rest_endpoint))
        return dg.SensorResult(
            asset_events=[*jobs, *checks],
            cursor=report.watch.dumps(),
            skip_reason=None if jobs or checks else "No new job, and no verdict changed.",
        )

    return braze_cdi_workspace_sensor


def build_braze_cdi_schedule_checks(
    assets: Iterable[dg.AssetSpec | dg.AssetsDefinition],
    *,
    name: str = "braze_cdi_schedule_checks",
    schedule_grace: timedelta = timedelta(minutes=30),
    resource_key: str = "braze_cdi",
) -> dg.AssetChecksDefinition:
    """The check ``braze_cdi_schedule_ran`` on every workspace asset, from one read of the
    integration list: it fails when an active integration's ``next_scheduled_run`` is more than
    ``schedule_grace`` in the past and no job started since, or when Braze no longer lists the
    integration.

    ``build_braze_cdi_workspace_sensor`` reports evaluations of the same check whenever its
    verdict changes; this definition declares the check (so that the UI shows it) and evaluates
    it whenever it runs: on demand, or on a schedule
    (``dg.ScheduleDefinition(target=dg.AssetSelection.checks(checks), ...)``).

    Args:
        assets: The workspace's assets, as ``build_braze_cdi_workspace_sensor`` takes them.
        name: The checks' (and their step's) name.
        schedule_grace: How late a scheduled run may be before the check fails.
        resource_key: The key of the ``BrazeCDIResource``.

    Raises:
        BrazeConfigError: as ``build_braze_cdi_workspace_sensor`` does.

    Examples:
        >>> import dagster as dg
        >>> from braze_cdi.testing import FakeBraze
        >>> from dagster_braze_cdi import BrazeCDIResource, load_braze_cdi_asset_specs
        >>> from dagster_braze_cdi.workspace_sensor import build_braze_cdi_schedule_checks
        >>> fake = FakeBraze()
        >>> _ = fake.add_integration(name="users", history=1)
        >>> _ = fake.add_integration(name="events", next_scheduled_run=fake.clock.time() - 7200)
        >>> with fake.serve() as url:
        ...     resource = BrazeCDIResource(api_key=fake.api_key, rest_endpoint=url)
        ...     specs = load_braze_cdi_asset_specs(resource)
        ...     checks = build_braze_cdi_schedule_checks(specs)
        ...     result = dg.materialize(
        ...         [*specs, checks],
        ...         selection=dg.AssetSelection.checks(checks),
        ...         resources={"braze_cdi": resource},
        ...     )
        >>> for check in result.get_asset_check_evaluations():
        ...     print(check.asset_key.to_user_string(), check.check_name, check.passed)
        braze/users braze_cdi_schedule_ran True
        braze/events braze_cdi_schedule_ran False
    """
    keys = _integration_keys(assets)
    _check_name("name", name)
    _check_name("resource_key", resource_key)
    _check_grace(schedule_grace)
    specs = [
        dg.AssetCheckSpec(
            SCHEDULE_RAN,
            asset=key,
            description=f"Braze's schedule of integration {integration_id} runs: no scheduled "
            f"run is more than {schedule_grace} late.",
        )
        for integration_id, key in keys.items()
    ]

    @dg.multi_asset_check(
        name=name, specs=specs, can_subset=True, required_resource_keys={resource_key}
    )
    def braze_cdi_schedule_checks(
        context: dg.AssetCheckExecutionContext,
    ) -> Iterator[dg.AssetCheckResult]:
        resource: BrazeCDIResource = getattr(context.resources, resource_key)
        try:
            with resource.get_client() as client:
                listed = {
                    integration.integration_id: integration
                    for integration in client.list_integrations(on_event=log_to(context.log))
                }
        except BrazeCDIError as error:
            raise failure_for(error, rest_endpoint=resource.rest_endpoint) from error
        now = datetime.now(timezone.utc)
        for integration_id, key in keys.items():
            if dg.AssetCheckKey(key, SCHEDULE_RAN) not in context.selected_asset_check_keys:
                continue
            verdict = schedule_verdict(
                integration_id, listed.get(integration_id), now=now, grace=schedule_grace
            )
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=SCHEDULE_RAN,
                passed=verdict.passed,
                metadata=dagster_metadata(verdict.record(), rest_endpoint=resource.rest_endpoint),
                description=verdict.description,
            )

    return braze_cdi_schedule_checks


# --- what one tick reports ---------------------------------------------------------------------


def _materialization(
    key: dg.AssetKey, integration_id: str, job: SyncJob, rest_endpoint: str
) -> dg.AssetMaterialization:
    return dg.AssetMaterialization(
        asset_key=key,
        description=f"Braze ran a sync of integration {integration_id}.",
        metadata=dagster_metadata(
            {**job_record(integration_id, job), "triggered": False}, rest_endpoint=rest_endpoint
        ),
    )


def _check_evaluation(
    key: dg.AssetKey, verdict: ScheduleVerdict, rest_endpoint: str
) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=key,
        check_name=SCHEDULE_RAN,
        passed=verdict.passed,
        metadata=dagster_metadata(verdict.record(), rest_endpoint=rest_endpoint),
        description=verdict.description,
    )


# --- arguments --------------------------------------------------------------------------------


def _integration_keys(
    assets: Iterable[dg.AssetSpec | dg.AssetsDefinition],
) -> dict[str, dg.AssetKey]:
    """The asset key of each integration the assets sync."""
    if isinstance(assets, str | dg.AssetSpec | dg.AssetsDefinition) or not isinstance(
        assets, Iterable
    ):
        raise BrazeConfigError(
            f"assets is a list of AssetSpec or AssetsDefinition, not {assets!r}."
        )
    keys: dict[str, dg.AssetKey] = {}
    for item in assets:
        if isinstance(item, dg.AssetsDefinition):
            specs: Iterable[dg.AssetSpec] = item.specs
        elif isinstance(item, dg.AssetSpec):
            specs = [item]
        else:
            raise BrazeConfigError(
                f"assets holds AssetSpec and AssetsDefinition objects, not {item!r}."
            )
        for spec in specs:
            integration_id = integration_id_of(spec)
            known = keys.setdefault(integration_id, spec.key)
            if known != spec.key:
                raise BrazeConfigError(
                    f"The assets {known.to_user_string()} and {spec.key.to_user_string()} both "
                    f"sync Braze integration {integration_id}."
                )
    if not keys:
        raise BrazeConfigError("assets holds no asset: there is no Braze integration to sense.")
    return keys


def _check_name(what: str, value: object) -> None:
    if not (isinstance(value, str) and _NAME.fullmatch(value)):
        raise BrazeConfigError(f"{what} is letters, digits and underscores, not {value!r}.")


def _check_grace(value: object) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise BrazeConfigError(f"schedule_grace must be a positive timedelta, not {value!r}.")
