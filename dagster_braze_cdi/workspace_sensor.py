"""One sensor for a whole Braze workspace: the syncs Braze's own schedule ran, recorded as
materializations of their assets, and a check that each integration's schedule did run.

A tick reads ``GET /cdi/integrations`` once (every page), and an integration's job list only
when that list shows a job the sensor has not accounted for yet.
"""

import json
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import dagster as dg

from braze_cdi import (
    BrazeCDIClient,
    BrazeCDIError,
    BrazeConfigError,
    Integration,
    JobStatus,
    SyncJob,
)
from braze_cdi.events import log_to

from ._job_history import finished_after
from ._metadata import Row, failure_for, job_record
from .resource import BrazeCDIResource
from .selector import is_active
from .sensor import _latest, _materialized_start, _parse, _run_in_progress
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

    The cursor is JSON: per integration, the ``sync_start_time`` of the last job accounted for,
    the start of a running job already looked at, and the last verdict reported. A cursor that
    cannot be read counts as none.

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
        cursor = _Cursor.loads(context.cursor, keys)
        with resource.get_client() as client:
            listed = {
                integration.integration_id: integration
                for integration in client.list_integrations(on_event=log_to(context.log))
            }
            jobs = _report_jobs(context, client, keys, listed, cursor)
        checks = _report_verdicts(context, keys, listed, cursor, schedule_grace)
        return dg.SensorResult(
            asset_events=[*jobs, *checks],
            cursor=cursor.dumps(),
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
            raise failure_for(error) from error
        now = datetime.now(timezone.utc)
        for integration_id, key in keys.items():
            if dg.AssetCheckKey(key, SCHEDULE_RAN) not in context.selected_asset_check_keys:
                continue
            verdict = _verdict(integration_id, listed.get(integration_id), now, schedule_grace)
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=SCHEDULE_RAN,
                passed=verdict.passed,
                metadata=verdict.metadata,
                description=verdict.description,
            )

    return braze_cdi_schedule_checks


# --- the jobs Braze ran -----------------------------------------------------------------------


@dataclass
class _Cursor:
    """What the sensor has accounted for, per integration id: the ``sync_start_time`` of the
    last job reported (or skipped as Dagster's), the start of a running job already read past,
    and the last verdict of ``braze_cdi_schedule_ran`` reported."""

    reported: dict[str, datetime] = field(default_factory=dict)
    running: dict[str, datetime] = field(default_factory=dict)
    schedule_ran: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def loads(cls, text: str | None, keys: dict[str, dg.AssetKey]) -> "_Cursor":
        # A cursor that cannot be read (hand-edited, or another sensor's) counts as none, and
        # entries of integrations no longer sensed are dropped.
        try:
            raw = json.loads(text) if text else {}
        except ValueError:
            raw = {}

        def section(name: str) -> dict[str, object]:
            value = raw.get(name) if isinstance(raw, dict) else None
            return {k: v for k, v in value.items() if k in keys} if isinstance(value, dict) else {}

        def times(name: str) -> dict[str, datetime]:
            return {k: t for k, v in section(name).items() if (t := _parse(v)) is not None}

        return cls(
            reported=times("reported"),
            running=times("running"),
            schedule_ran={k: v for k, v in section("schedule_ran").items() if isinstance(v, bool)},
        )

    def dumps(self) -> str:
        return json.dumps(
            {
                "reported": {k: v.isoformat() for k, v in self.reported.items()},
                "running": {k: v.isoformat() for k, v in self.running.items()},
                "schedule_ran": self.schedule_ran,
            },
            separators=(",", ":"),
        )

    def account_for(self, integration_id: str, listed: Integration, through: datetime) -> None:
        """Every finished job up to ``through`` is accounted for, and the list's last job too
        unless it runs: then it is read past until it ends."""
        self.reported[integration_id] = through
        if _finished(listed):
            self.running.pop(integration_id, None)
        else:
            self.running[integration_id] = _last_start(listed)


def _report_jobs(
    context: dg.SensorEvaluationContext,
    client: BrazeCDIClient,
    keys: dict[str, dg.AssetKey],
    listed: dict[str, Integration],
    cursor: _Cursor,
) -> list[dg.AssetMaterialization]:
    """The jobs Braze ran that finished since the cursor, as materializations; the cursor moves
    past them."""
    events: list[dg.AssetMaterialization] = []
    waiting = deque(_pending(keys, listed, cursor))
    reads = 0
    while waiting and reads < _JOB_READS_PER_TICK:
        integration_id = waiting.popleft()
        key, integration = keys[integration_id], listed[integration_id]
        if _run_in_progress(context.instance, key):
            continue  # the run's own materialization records the job it syncs
        after = _latest(
            cursor.reported.get(integration_id), _materialized_start(context.instance, key)
        )
        if _finished(integration) and after is not None and _last_start(integration) <= after:
            cursor.account_for(integration_id, integration, after)  # Dagster materialized it
            continue
        reads += 1
        # Back to the last job accounted for; the first time, only the latest job.
        since = after or _last_start(integration)
        try:
            jobs = list(
                client.list_sync_jobs(integration_id, since=since, on_event=log_to(context.log))
            )
        except BrazeCDIError as error:
            context.log.warning(f"Could not read the jobs of integration {integration_id}: {error}")
            if error.retryable:  # Braze or the network is in trouble: all wait for the next tick
                waiting.appendleft(integration_id)
                break
            continue
        new = finished_after(jobs, after)
        events.extend(_materialization(key, integration_id, job) for job in new)
        through = _latest(since, *(job.sync_start_time for job in new))
        assert through is not None  # since is a time
        cursor.account_for(integration_id, integration, through)
    context.log.info(
        f"Braze lists {len(listed)} integrations: read the jobs of {reads}, reported "
        f"{len(events)} jobs Braze ran"
        + (f"; {len(waiting)} integrations wait for the next tick." if waiting else ".")
    )
    return events


def _pending(
    keys: dict[str, dg.AssetKey], listed: dict[str, Integration], cursor: _Cursor
) -> list[str]:
    """The integrations whose last job in the list is not accounted for yet, in the order they
    are read: those never read first, then those reported longest ago, so none waits forever."""
    pending = []
    for integration_id in keys:
        integration = listed.get(integration_id)
        start = None if integration is None else integration.last_job_start_time
        reported = cursor.reported.get(integration_id)
        if integration is None or start is None or (reported is not None and start <= reported):
            continue
        # A running job is read past once (for the jobs that ended before it), then waited for;
        # the first time, the sensor waits for it to end.
        if _finished(integration) or (
            reported is not None and start != cursor.running.get(integration_id)
        ):
            pending.append(integration_id)
    never = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(pending, key=lambda integration_id: cursor.reported.get(integration_id, never))


def _materialization(
    key: dg.AssetKey, integration_id: str, job: SyncJob
) -> dg.AssetMaterialization:
    return dg.AssetMaterialization(
        asset_key=key,
        description=f"Braze ran a sync of integration {integration_id}.",
        metadata={**job_record(integration_id, job), "triggered": False},
    )


def _finished(integration: Integration) -> bool:
    """Whether the list's last job of the integration has ended (an unknown status has not)."""
    try:
        return JobStatus(integration.last_job_status).finished
    except ValueError:
        return False


def _last_start(integration: Integration) -> datetime:
    assert integration.last_job_start_time is not None  # callers keep integrations that ran
    return integration.last_job_start_time


# --- whether the schedule ran -----------------------------------------------------------------


class _Verdict(NamedTuple):
    passed: bool
    description: str
    metadata: Row


def _report_verdicts(
    context: dg.SensorEvaluationContext,
    keys: dict[str, dg.AssetKey],
    listed: dict[str, Integration],
    cursor: _Cursor,
    grace: timedelta,
) -> list[dg.AssetCheckEvaluation]:
    """An evaluation of ``braze_cdi_schedule_ran`` for each verdict that changed; a schedule
    that stopped is logged as a warning too."""
    now = datetime.now(timezone.utc)
    events = []
    for integration_id, key in keys.items():
        verdict = _verdict(integration_id, listed.get(integration_id), now, grace)
        if cursor.schedule_ran.get(integration_id) == verdict.passed:
            continue  # unchanged: the check's latest evaluation still says it
        cursor.schedule_ran[integration_id] = verdict.passed
        if not verdict.passed:
            context.log.warning(f"{key.to_user_string()}: {verdict.description}")
        events.append(
            dg.AssetCheckEvaluation(
                asset_key=key,
                check_name=SCHEDULE_RAN,
                passed=verdict.passed,
                metadata=verdict.metadata,
                description=verdict.description,
            )
        )
    return events


def _verdict(
    integration_id: str, integration: Integration | None, now: datetime, grace: timedelta
) -> _Verdict:
    """Whether the integration's schedule ran, as of ``now`` (our clock, aware): the grace period
    dwarfs any skew from Braze's."""
    due = None if integration is None else integration.next_scheduled_run
    last = None if integration is None else integration.last_job_start_time
    late = timedelta(0)
    if due is not None and now > due and (last is None or last < due):
        late = now - due
    metadata: Row = {
        "integration_id": integration_id,
        "integration_status": None if integration is None else integration.integration_status,
        "next_scheduled_run": None if due is None else due.isoformat(),
        "last_job_start_time": None if last is None else last.isoformat(),
        "late_seconds": late.total_seconds(),
        "schedule_grace_seconds": grace.total_seconds(),
    }
    if integration is None:
        return _Verdict(
            False,
            f"Braze does not list integration {integration_id}: it was deleted, or the key "
            "belongs to another workspace.",
            metadata,
        )
    if not is_active(integration):
        return _Verdict(
            True,
            f"The integration is {integration.integration_status}: no scheduled run is expected.",
            metadata,
        )
    if late > grace:
        return _Verdict(
            False,
            f"The run Braze scheduled for {_when(due)} has not started, "
            f"{timedelta(seconds=round(late.total_seconds()))} later (the grace is {grace}); "
            f"last job start: {_when(last)}.",
            metadata,
        )
    return _Verdict(
        True, f"No scheduled run is more than {grace} late; next one: {_when(due)}.", metadata
    )


def _when(moment: datetime | None) -> str:
    return "none" if moment is None else moment.isoformat(timespec="seconds")


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
