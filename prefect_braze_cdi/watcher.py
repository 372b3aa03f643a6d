"""The flow that watches Braze's own schedules, to deploy on a schedule of its own.

Each run makes one ``watch_schedules`` call of the core (the integration list once, the job
lists only of integrations that ran a job since), and turns its report into Prefect events that
automations can react to: one per job Braze ran, and one per schedule that stopped. What the
watcher has reported is kept between runs in a block, ``BrazeCDIWatcherCursor`` (a Prefect
Variable holds at most 5,000 characters of JSON: a few dozen integrations' worth).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase
from typing import cast
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.blocks.core import Block
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.events import Event
from prefect.events.filters import (
    EventFilter,
    EventNameFilter,
    EventOccurredFilter,
    EventResourceFilter,
)
from pydantic import BaseModel, Field

from braze_cdi import BrazeConfigError, Integration, ScheduleWatch, SyncJob, Where

from ._events import (
    ALREADY_RUNNING,
    FAILED,
    PARTIAL,
    RAN_BY_LABEL,
    RESUMED,
    SUCCEEDED,
    TRIGGERED,
    emit_schedule_missed,
    emit_scheduled_job,
    integration_resource,
)
from .credentials import BrazeCDICredentials

__all__ = ["BrazeCDIWatcherCursor", "WatchSummary", "watch_braze_cdi_syncs"]

#: How far back the watcher looks for a sync of this package still in progress.
_SYNC_LOOKBACK = timedelta(days=1)
#: How much earlier than a job's start (Braze's clock) an event about it may be stamped (ours).
_CLOCK_MARGIN = timedelta(hours=1)
_PAGE = 50  # the most the events API hands out per page


class WatchSummary(BaseModel):
    """What one run of ``watch_braze_cdi_syncs`` did.

    Attributes:
        listed: How many integrations Braze lists.
        job_reads: How many job lists the run read.
        reported: The record of each job it emitted an event for, oldest first per integration.
        already_reported: Jobs it found that this package's own syncs had reported already.
        missed: The integrations whose schedule it flagged (``braze.cdi.schedule.missed``).
        in_progress: Integrations left alone because a sync of this package runs for them.
        waiting: Integrations whose job lists wait for the next run.
        cursor_block_name: The ``BrazeCDIWatcherCursor`` block that keeps what the watcher
            reported.
    """

    listed: int
    job_reads: int
    reported: list[dict[str, str | int | float | bool | None]]
    already_reported: int
    missed: list[str]
    in_progress: list[str]
    waiting: list[str]
    cursor_block_name: str


@flow(name="Watch Braze CDI syncs", flow_run_name="braze-cdi-watch")
def watch_braze_cdi_syncs(
    braze_cdi_credentials: BrazeCDICredentials,
    integration_ids: list[str] | None = None,
    *,
    name_pattern: str | None = None,
    schedule_grace_minutes: float = 30,
    max_job_reads: int = 50,
    cursor_block_name: str | None = None,
) -> WatchSummary:
    """Report the syncs Braze's own schedules ran, and the schedules that stopped, as Prefect
    events; deploy it on a schedule (every 5 to 15 minutes).

    Each run reads the integration list once (one request per 10 integrations), then the job
    list of each integration whose list entry shows a job not reported yet (at most
    ``max_job_reads``; the others on the next runs), and emits, once per job:

    - ``braze.cdi.sync.succeeded``, ``braze.cdi.sync.partial`` or ``braze.cdi.sync.failed``:
      a job finished. The resource is ``braze.cdi.integration.<id>`` with the label
      ``braze.cdi.ran_by: schedule``; the payload is the job's record (``triggered`` False).
      An integration seen for the first time reports only its latest job.
    - ``braze.cdi.schedule.missed``: an active integration's ``next_scheduled_run`` passed more
      than ``schedule_grace_minutes`` ago with no job since, or Braze no longer lists a watched
      integration. Emitted when the verdict turns, not on every run.

    Jobs this package's own syncs ran emit their own ``succeeded``/``failed`` events: the
    watcher reads those back through Prefect's events API and skips the jobs they carry (by
    ``sync_start_time``), and leaves an integration alone while a flow run of this package is
    syncing it (its ``triggered``/``resumed``/``already_running`` event is the latest, and its
    flow run has not ended). Limits: a sync run outside a flow run, or whose events Prefect has
    not stored yet when the watcher runs, is not recognised, and its job is reported twice
    (once with ``ran_by: schedule``).

    What was reported is kept in a ``BrazeCDIWatcherCursor`` block, ``cursor_block_name``
    (delete it to start afresh): by default
    ``braze-cdi-watcher-`` and a digest of the endpoint and of what is watched, so watchers of
    different integrations never share one. Run one watcher per block at a time (give its
    deployment a concurrency limit of 1). The events of a job have a fixed id, so a run that
    crashed after emitting and before saving adds nothing when the next run emits them again.

    Args:
        braze_cdi_credentials: The workspace's credentials block.
        integration_ids: The integrations to watch; by default every integration Braze lists.
        name_pattern: Without ``integration_ids``: watch only integrations whose
            ``integration_name`` matches this glob pattern (``*``, ``?``, ``[abc]``;
            case-sensitive).
        schedule_grace_minutes: How late a scheduled run may be before it counts as missed.
        max_job_reads: The most job lists one run reads (Braze allows 100 a minute for the
            whole workspace).
        cursor_block_name: The ``BrazeCDIWatcherCursor`` block that keeps what the watcher
            reported.

    Returns:
        A ``WatchSummary``.

    Raises:
        braze_cdi.BrazeCDIError: the integration list could not be read (the run fails, and
            the next run starts where this one would have).

    Examples:
        >>> from braze_cdi.testing import FakeBraze
        >>> from prefect_braze_cdi import BrazeCDICredentials
        >>> from prefect_braze_cdi.watcher import watch_braze_cdi_syncs
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users", history=1)
        >>> with fake.serve() as url:
        ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
        ...     first = watch_braze_cdi_syncs(credentials)
        ...     _ = fake.start_job(users.integration_id, duration=0.0, rows_synced=42)
        ...     second = watch_braze_cdi_syncs(credentials)
        >>> len(first.reported), [job["rows_synced"] for job in second.reported]
        (1, [42])
    """
    logger = get_run_logger()
    if integration_ids is not None and name_pattern is not None:
        raise BrazeConfigError("Give integration_ids or name_pattern, not both.")
    if name_pattern is not None and not isinstance(name_pattern, str):
        raise BrazeConfigError(f"name_pattern is a glob pattern, not {name_pattern!r}.")
    if isinstance(schedule_grace_minutes, bool) or not (
        isinstance(schedule_grace_minutes, int | float) and schedule_grace_minutes > 0
    ):
        raise BrazeConfigError(
            f"schedule_grace_minutes must be a positive number, not {schedule_grace_minutes!r}."
        )
    block_name = cursor_block_name or _default_block_name(
        braze_cdi_credentials, integration_ids, name_pattern
    )
    watch = _load_watch(block_name)
    with get_client(sync_client=True) as prefect:
        in_progress = _syncs_in_progress(prefect, integration_ids)
        with braze_cdi_credentials.get_client() as client:
            report = client.watch_schedules(
                watch,
                integration_ids,
                where=None if name_pattern is None else _named(name_pattern),
                grace=timedelta(minutes=schedule_grace_minutes),
                max_job_reads=max_job_reads,
                skip=in_progress,
            )
        known = _jobs_reported(prefect, report.jobs)
    for integration_id, error in report.failures.items():
        logger.warning(f"Could not read the jobs of integration {integration_id}: {error}")
    reported: list[dict[str, str | int | float | bool | None]] = []
    already = 0
    for integration_id, jobs in report.jobs.items():
        for job in jobs:
            if job.sync_start_time in known.get(integration_id, ()):
                already += 1
                continue
            emit_scheduled_job(integration_id, job)
            reported.append({"integration_id": integration_id, **job.record()})
    missed = []
    for verdict in report.changed:
        if not verdict.passed:
            logger.warning(f"Integration {verdict.integration_id}: {verdict.description}")
            emit_schedule_missed(verdict)
            missed.append(verdict.integration_id)
    _save_watch(block_name, report.watch)
    busy = sorted(set(in_progress) & set(report.verdicts))
    logger.info(
        f"{report.summary} Emitted {len(reported)} job events ({already} jobs were this "
        f"package's syncs, reported already); {len(missed)} schedules newly missed"
        + (f"; {len(busy)} integrations left alone while a sync runs." if busy else ".")
    )
    return WatchSummary(
        listed=len(report.listed),
        job_reads=report.job_reads,
        reported=reported,
        already_reported=already,
        missed=missed,
        in_progress=busy,
        waiting=report.waiting,
        cursor_block_name=block_name,
    )


def _named(pattern: str) -> Where:
    def where(integration: Integration) -> bool:
        return fnmatchcase(integration.integration_name or "", pattern)

    return where


# --- the cursor, in a block -------------------------------------------------------------------


class BrazeCDIWatcherCursor(Block):
    """What a ``watch_braze_cdi_syncs`` watcher has reported: per integration, the last job
    accounted for and the last verdict on its schedule (a ``braze_cdi.ScheduleWatch``).

    The watcher saves it after each run and loads it at the start of the next; delete the block
    to make the watcher start afresh (it then reports each integration's latest job again).

    Examples:
        >>> from braze_cdi import ScheduleWatch
        >>> from prefect_braze_cdi.watcher import BrazeCDIWatcherCursor
        >>> watch = ScheduleWatch.loads('{"schedule_ran": {"abc": false}}')
        >>> _ = BrazeCDIWatcherCursor(watch=watch.dumps()).save("braze-cdi-example", overwrite=True)
        >>> ScheduleWatch.loads(BrazeCDIWatcherCursor.load("braze-cdi-example").watch).schedule_ran
        {'abc': False}
    """

    _block_type_name = "Braze CDI Watcher Cursor"
    _description = "What a Braze CDI watcher flow has reported, kept between its runs."

    watch: str = Field(default="{}", description="The watcher's braze_cdi.ScheduleWatch, as JSON.")


def _default_block_name(
    credentials: BrazeCDICredentials, integration_ids: list[str] | None, name_pattern: str | None
) -> str:
    """A name per endpoint and scope: two watchers of different integrations never share one.
    (Block names take lower-case letters, digits and dashes.)"""
    scope = json.dumps(
        [credentials.rest_endpoint, sorted(integration_ids or []), name_pattern],
        separators=(",", ":"),
    )
    return f"braze-cdi-watcher-{hashlib.blake2b(scope.encode(), digest_size=6).hexdigest()}"


def _load_watch(block_name: str) -> ScheduleWatch:
    try:
        block = cast(BrazeCDIWatcherCursor, BrazeCDIWatcherCursor.load(block_name))
    except ValueError:  # no such block yet: the first run
        return ScheduleWatch()
    return ScheduleWatch.loads(block.watch)


def _save_watch(block_name: str, watch: ScheduleWatch) -> None:
    BrazeCDIWatcherCursor(watch=watch.dumps()).save(block_name, overwrite=True)


# --- what this package's own syncs said, read back from Prefect's events -----------------------


def _syncs_in_progress(prefect: SyncPrefectClient, integration_ids: list[str] | None) -> set[str]:
    """The integrations a flow run of this package is syncing: the latest of their sync events
    says a sync started (``triggered``, ``resumed``, ``already_running``), and its flow run has
    not ended."""
    latest: dict[str, Event] = {}
    names = [TRIGGERED, RESUMED, ALREADY_RUNNING, SUCCEEDED, FAILED]
    since = _now() - _SYNC_LOOKBACK
    for event in _read_events(prefect, names, since=since, integrations=integration_ids):
        if RAN_BY_LABEL in event.resource:
            continue  # the watcher's own
        integration_id = _integration_of(event)
        if integration_id is not None and (
            integration_id not in latest or event.occurred >= latest[integration_id].occurred
        ):
            latest[integration_id] = event
    busy = set()
    for integration_id, event in latest.items():
        if event.event in (SUCCEEDED, FAILED):
            continue
        flow_run_id = next(
            (r.id.removeprefix("prefect.flow-run.") for r in event.related if r.role == "flow-run"),
            None,
        )
        if flow_run_id is None:
            continue  # not in a flow run: nothing tells whether it still runs
        state = prefect.read_flow_run(UUID(flow_run_id)).state
        if state is not None and not state.is_final():
            busy.add(integration_id)
    return busy


def _jobs_reported(
    prefect: SyncPrefectClient, jobs: dict[str, list[SyncJob]]
) -> dict[str, set[datetime]]:
    """Per integration, the ``sync_start_time`` of each job a ``succeeded``, ``partial`` or
    ``failed`` event of this package (a sync's, or an earlier watcher's) carries."""
    starts = [job.sync_start_time for new in jobs.values() for job in new if job.sync_start_time]
    if not starts:
        return {}
    known: dict[str, set[datetime]] = {}
    events = _read_events(
        prefect, [SUCCEEDED, PARTIAL, FAILED], since=min(starts) - _CLOCK_MARGIN, integrations=jobs
    )
    for event in events:
        integration_id = _integration_of(event)
        job = event.payload.get("job")
        start = _parse(event.payload.get("sync_start_time")) or _parse(
            job.get("sync_start_time") if isinstance(job, dict) else None
        )
        if integration_id is not None and start is not None:
            known.setdefault(integration_id, set()).add(start)
    return known


def _read_events(
    prefect: SyncPrefectClient,
    names: list[str],
    *,
    since: datetime,
    integrations: Iterable[str] | None,
) -> list[Event]:
    """Every event of these names about these integrations (all, with None) since ``since``."""
    resource = (
        EventResourceFilter(id_prefix=[integration_resource("")["prefect.resource.id"]])
        if integrations is None
        else EventResourceFilter(
            id=[integration_resource(i)["prefect.resource.id"] for i in integrations]
        )
    )
    event_filter = EventFilter(
        occurred=EventOccurredFilter(since=since, until=_now()),
        event=EventNameFilter(name=names),
        resource=resource,
    )
    page = prefect.read_events(event_filter, limit=_PAGE)
    events: list[Event] = list(page.events)
    while page.next_page is not None:
        page = prefect.read_events_page(str(page.next_page))
        events += page.events
    return events


def _integration_of(event: Event) -> str | None:
    prefix = integration_resource("")["prefect.resource.id"]
    resource_id = event.resource.id
    return resource_id.removeprefix(prefix) if resource_id.startswith(prefix) else None


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc)
