"""Watching Braze's own schedules: which jobs they ran since the last look, and whether each
schedule ran at all.

One look (``watch_schedules``) reads the integration list once (one request per 10
integrations) and an integration's job list only when the list shows a job the watcher has not
accounted for. What it accounted for is a ``ScheduleWatch``: a small JSON value the caller keeps
between looks (a Dagster sensor's cursor, a Prefect block). Whether a schedule ran is a pure
function of the list entry (``schedule_verdict``), so that a check without a watch says the same.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict

from ._errors import BrazeCDIError
from ._listing import BEGINNING, every_item, scan_jobs
from ._models import Integration, JobStatus, SyncJob, _iso
from ._protocol import Emit, Op, integrations_call
from ._retry import Context

__all__ = [
    "KnownUntil",
    "ScheduleReport",
    "ScheduleVerdict",
    "ScheduleWatch",
    "Skip",
    "Where",
    "is_active",
    "schedule_verdict",
    "watch_schedules",
]

KnownUntil = Callable[[str], datetime | None] | Mapping[str, datetime | None]
"""Per integration id, the ``sync_start_time`` up to which the caller accounts for the jobs
itself (a Dagster materialization, a sync it ran), or ``None``."""

Skip = Callable[[str], bool] | Collection[str]
"""The integrations to leave alone for one look (a sync of the caller's is running for them)."""

Where = Callable[[Integration], bool]
"""Which listed integrations to watch, when no integration ids are given."""


class ScheduleWatch(BaseModel):
    """What a schedule watcher has accounted for, per integration id; the cursor kept between
    two calls of ``watch_schedules``.

    ``reported``: the ``sync_start_time`` of the last job accounted for; ``running``: the start
    of a running job already read past (its older jobs reported, it waits to end);
    ``schedule_ran``: the last verdict reported. ``dumps`` writes it as compact JSON, and
    ``loads`` reads it back, counting whatever it cannot read (hand-edited, another tool's,
    truncated) as nothing: the watcher then starts afresh for those integrations.

    Examples:
        >>> from braze_cdi import ScheduleWatch
        >>> watch = ScheduleWatch.loads('{"reported": {"a": "2026-01-01T00:00:00Z", "b": 5}}')
        >>> watch.reported
        {'a': datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)}
        >>> ScheduleWatch.loads("not json") == ScheduleWatch()
        True
        >>> ScheduleWatch.loads(watch.dumps()) == watch
        True
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    reported: dict[str, datetime] = {}
    running: dict[str, datetime] = {}
    schedule_ran: dict[str, bool] = {}

    @classmethod
    def loads(cls, text: str | None) -> ScheduleWatch:
        """The watch that ``text`` (``dumps``'s JSON) holds; entries it cannot read are left
        out, and anything but a JSON object counts as an empty watch."""
        try:
            raw = json.loads(text) if text else {}
        except (ValueError, RecursionError):
            raw = {}

        def section(name: str) -> dict[object, object]:
            value = raw.get(name) if isinstance(raw, dict) else None
            return value if isinstance(value, dict) else {}

        def times(name: str) -> dict[str, datetime]:
            return {
                key: moment
                for key, value in section(name).items()
                if isinstance(key, str) and (moment := _parse(value)) is not None
            }

        return cls(
            reported=times("reported"),
            running=times("running"),
            schedule_ran={
                key: value
                for key, value in section("schedule_ran").items()
                if isinstance(key, str) and isinstance(value, bool)
            },
        )

    def dumps(self) -> str:
        """The watch as compact JSON, for ``loads``."""
        return json.dumps(
            {
                "reported": {key: _iso(value) for key, value in self.reported.items()},
                "running": {key: _iso(value) for key, value in self.running.items()},
                "schedule_ran": self.schedule_ran,
            },
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class ScheduleVerdict:
    """Whether an integration's schedule ran, as ``schedule_verdict`` judged it.

    ``passed`` is False when Braze no longer lists the integration, or when it is active and its
    ``next_scheduled_run`` passed more than ``grace`` ago with no job started since; ``late`` is
    how long ago that run was due (zero when none is overdue). ``description`` says it in a
    sentence, ``record()`` as one flat row.
    """

    integration_id: str
    passed: bool
    description: str
    listed: bool
    integration_status: str | None
    next_scheduled_run: datetime | None
    last_job_start_time: datetime | None
    late: timedelta
    grace: timedelta

    def record(self) -> dict[str, str | float | bool | None]:
        """The verdict as one flat row of JSON values (times as ISO 8601 strings): what the
        adapters attach to a check's metadata or an event's payload.

        Examples:
            >>> from datetime import datetime, timedelta, timezone
            >>> from braze_cdi import Integration, schedule_verdict
            >>> now = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
            >>> paused = Integration(integration_id="a", integration_status="paused")
            >>> schedule_verdict("a", paused, now=now, grace=timedelta(minutes=30)).record()
            {'integration_id': 'a', 'integration_status': 'paused', 'next_scheduled_run': None, \
'last_job_start_time': None, 'late_seconds': 0.0, 'schedule_grace_seconds': 1800.0}
        """
        return {
            "integration_id": self.integration_id,
            "integration_status": self.integration_status,
            "next_scheduled_run": _iso(self.next_scheduled_run),
            "last_job_start_time": _iso(self.last_job_start_time),
            "late_seconds": self.late.total_seconds(),
            "schedule_grace_seconds": self.grace.total_seconds(),
        }


def is_active(integration: Integration) -> bool:
    """Whether the integration runs on its schedule: its status is ``active``, or not given.

    Examples:
        >>> from braze_cdi import Integration, is_active
        >>> is_active(Integration(integration_id="a", integration_status="Active"))
        True
        >>> is_active(Integration(integration_id="a", integration_status="paused"))
        False
    """
    status = integration.integration_status
    return status is None or status.lower() == "active"


def schedule_verdict(
    integration_id: str,
    integration: Integration | None,
    *,
    now: datetime,
    grace: timedelta,
) -> ScheduleVerdict:
    """Whether the integration's schedule ran, as of ``now`` (an aware datetime).

    It did not when Braze no longer lists the integration (``integration`` is ``None``), or when
    the integration is active and its ``next_scheduled_run`` passed more than ``grace`` ago
    with no job started since. A paused integration expects no run. ``now`` is the local clock:
    a grace period of minutes dwarfs any skew from Braze's.

    Examples:
        >>> from datetime import datetime, timedelta, timezone
        >>> from braze_cdi import Integration, schedule_verdict
        >>> now = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
        >>> stuck = Integration(
        ...     integration_id="a",
        ...     integration_status="active",
        ...     next_scheduled_run="2026-01-01T11:00:00Z",
        ...     last_job_start_time="2026-01-01T10:00:00Z",
        ... )
        >>> verdict = schedule_verdict("a", stuck, now=now, grace=timedelta(minutes=30))
        >>> verdict.passed, verdict.late
        (False, datetime.timedelta(seconds=3600))
        >>> print(verdict.description)
        The run Braze scheduled for 2026-01-01T11:00:00+00:00 has not started, 1:00:00 later \
(the grace is 0:30:00); last job start: 2026-01-01T10:00:00+00:00.
        >>> schedule_verdict("b", None, now=now, grace=timedelta(minutes=30)).passed
        False
    """
    due = None if integration is None else integration.next_scheduled_run
    last = None if integration is None else integration.last_job_start_time
    late = timedelta(0)
    if due is not None and now > due and (last is None or last < due):
        late = now - due
    if integration is None:
        passed = False
        description = (
            f"Braze does not list integration {integration_id}: it was deleted, or the key "
            "belongs to another workspace."
        )
    elif not is_active(integration):
        passed = True
        description = (
            f"The integration is {integration.integration_status}: no scheduled run is expected."
        )
    elif late > grace:
        passed = False
        description = (
            f"The run Braze scheduled for {_when(due)} has not started, "
            f"{timedelta(seconds=round(late.total_seconds()))} later (the grace is {grace}); "
            f"last job start: {_when(last)}."
        )
    else:
        passed = True
        description = f"No scheduled run is more than {grace} late; next one: {_when(due)}."
    return ScheduleVerdict(
        integration_id=integration_id,
        passed=passed,
        description=description,
        listed=integration is not None,
        integration_status=None if integration is None else integration.integration_status,
        next_scheduled_run=due,
        last_job_start_time=last,
        late=late,
        grace=grace,
    )


@dataclass(frozen=True)
class ScheduleReport:
    """What one ``watch_schedules`` call found.

    Attributes:
        listed: Every integration Braze lists, by id.
        jobs: Per watched integration, the jobs that finished since the watch's last look and
            that the caller did not account for (``known_until``), oldest first; only
            integrations with such jobs appear.
        verdicts: Per watched integration, whether its schedule ran.
        changed: The verdicts that differ from the last one the watch holds (the first verdict
            of an integration included), in the order of ``verdicts``.
        waiting: The integrations whose job lists are left for a later call (the call's
            ``max_job_reads`` ran out, or Braze was in trouble), in the order they will be read.
        failures: Per integration, why its job list could not be read this time (it is read
            again by a later call).
        job_reads: How many job lists the call read.
        watch: The watch to hand to the next call.
    """

    listed: dict[str, Integration]
    jobs: dict[str, list[SyncJob]]
    verdicts: dict[str, ScheduleVerdict]
    changed: list[ScheduleVerdict]
    waiting: list[str]
    failures: dict[str, BrazeCDIError]
    job_reads: int
    watch: ScheduleWatch

    @property
    def summary(self) -> str:
        """One line about the call, for a log.

        Examples:
            >>> from braze_cdi import BrazeCDIClient, ScheduleWatch
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> _ = fake.add_integration(name="users", history=1)
            >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...     print(client.watch_schedules(ScheduleWatch()).summary)
            Braze lists 1 integrations: read the jobs of 1, found 1 jobs Braze ran.
        """
        found = sum(len(jobs) for jobs in self.jobs.values())
        waiting = len(self.waiting)
        return (
            f"Braze lists {len(self.listed)} integrations: read the jobs of {self.job_reads}, "
            + (
                f"found {found} jobs Braze ran"
                + (f"; {waiting} integrations wait for a later call." if waiting else ".")
            )
        )


@dataclass
class _Look:
    """The state of one call: the watch's entries as they move, and what was found."""

    reported: dict[str, datetime]
    running: dict[str, datetime]
    jobs: dict[str, list[SyncJob]] = field(default_factory=dict)
    failures: dict[str, BrazeCDIError] = field(default_factory=dict)

    def account_for(self, integration_id: str, listed: Integration, through: datetime) -> None:
        """Every finished job up to ``through`` is accounted for, and the list's last job too
        unless it runs: then it is read past until it ends."""
        self.reported[integration_id] = through
        if _finished(listed):
            self.running.pop(integration_id, None)
        else:
            self.running[integration_id] = _last_start(listed)


def watch_schedules(
    ctx: Context,
    watch: ScheduleWatch,
    *,
    integration_ids: list[str] | None,
    where: Where | None,
    grace: timedelta,
    max_job_reads: int,
    known_until: KnownUntil | None,
    skip: Skip | None,
) -> Op[ScheduleReport]:
    """One look at the schedules: the new jobs Braze's schedules ran, and a verdict each."""
    listed: dict[str, Integration] = {}
    for integration in (yield from _collect(every_item(ctx, integrations_call, Integration))):
        listed[integration.integration_id] = integration
    if integration_ids is not None:
        scope = integration_ids
    else:
        scope = [i for i, integration in listed.items() if where is None or where(integration)]
    watched = set(scope)
    look = _Look(
        reported={k: v for k, v in watch.reported.items() if k in watched},
        running={k: v for k, v in watch.running.items() if k in watched},
    )
    waiting = deque(_pending(scope, listed, look))
    reads = 0
    while waiting and reads < max_job_reads:
        integration_id = waiting.popleft()
        integration = listed[integration_id]
        if _skipped(skip, integration_id):
            continue
        after = _latest(look.reported.get(integration_id), _known(known_until, integration_id))
        if _finished(integration) and after is not None and _last_start(integration) <= after:
            look.account_for(integration_id, integration, after)  # the caller's own job
            continue
        reads += 1
        # Back to the last job accounted for; the first time, only the latest job.
        since = after or _last_start(integration)
        try:
            scan = yield from scan_jobs(ctx, integration_id, since=since)
        except BrazeCDIError as error:
            look.failures[integration_id] = error
            if error.retryable:  # Braze or the network is in trouble: all wait for a later call
                waiting.appendleft(integration_id)
                break
            continue
        new = _finished_after(scan.since, after)
        if new:
            look.jobs[integration_id] = new
        through = _latest(since, *(job.sync_start_time for job in new))
        assert through is not None  # since is a time
        look.account_for(integration_id, integration, through)

    now = datetime.fromtimestamp(ctx.clock.time(), tz=timezone.utc)
    verdicts = {
        integration_id: schedule_verdict(
            integration_id, listed.get(integration_id), now=now, grace=grace
        )
        for integration_id in scope
    }
    last = watch.schedule_ran
    changed = [v for v in verdicts.values() if last.get(v.integration_id) != v.passed]
    return ScheduleReport(
        listed=listed,
        jobs=look.jobs,
        verdicts=verdicts,
        changed=changed,
        waiting=list(waiting),
        failures=look.failures,
        job_reads=reads,
        watch=ScheduleWatch(
            reported=look.reported,
            running=look.running,
            schedule_ran={k: v.passed for k, v in verdicts.items()},
        ),
    )


def _collect(listing: Op[None]) -> Op[list[Integration]]:
    """Every item a listing emits, gathered: the listing's other effects go to the driver."""
    items: list[Integration] = []
    value: object = None
    try:
        while True:
            try:
                effect = listing.send(value)
            except StopIteration:
                return items
            if isinstance(effect, Emit):
                items.append(effect.item)
                value = None
            else:
                value = yield effect
    finally:
        listing.close()


def _pending(scope: list[str], listed: dict[str, Integration], look: _Look) -> list[str]:
    """The integrations whose last job in the list is not accounted for yet, in the order they
    are read: those never read first, then those accounted for longest ago, so none waits
    forever."""
    pending = []
    for integration_id in scope:
        integration = listed.get(integration_id)
        start = None if integration is None else integration.last_job_start_time
        reported = look.reported.get(integration_id)
        if integration is None or start is None or (reported is not None and start <= reported):
            continue
        # A running job is read past once (for the jobs that ended before it), then waited for;
        # the first time, the watcher waits for it to end.
        if _finished(integration) or (
            reported is not None and start != look.running.get(integration_id)
        ):
            pending.append(integration_id)
    return sorted(pending, key=lambda integration_id: look.reported.get(integration_id, BEGINNING))


def _finished_after(jobs: list[SyncJob], after: datetime | None) -> list[SyncJob]:
    """Finished jobs that started after ``after``, oldest first; with ``after=None``, only the
    latest finished job (history from before anyone looked is not replayed)."""
    dated = [job for job in jobs if job.finished and job.sync_start_time is not None]
    if after is None:
        return sorted(dated, key=_start)[-1:]
    return sorted((job for job in dated if _start(job) > after), key=_start)


def _skipped(skip: Skip | None, integration_id: str) -> bool:
    if skip is None:
        return False
    return bool(skip(integration_id)) if callable(skip) else integration_id in skip


def _known(known_until: KnownUntil | None, integration_id: str) -> datetime | None:
    if known_until is None:
        return None
    if callable(known_until):
        return known_until(integration_id)
    return known_until.get(integration_id)


def _finished(integration: Integration) -> bool:
    """Whether the list's last job of the integration has ended (an unknown status has not)."""
    try:
        return JobStatus(integration.last_job_status).finished
    except ValueError:
        return False


def _last_start(integration: Integration) -> datetime:
    assert integration.last_job_start_time is not None  # callers keep integrations that ran
    return integration.last_job_start_time


def _start(job: SyncJob) -> datetime:
    return job.sync_start_time or BEGINNING


def _latest(*moments: datetime | None) -> datetime | None:
    return max((moment for moment in moments if moment is not None), default=None)


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    # Times handed out are aware; a hand-edited one without an offset is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _when(moment: datetime | None) -> str:
    return "none" if moment is None else moment.isoformat(timespec="seconds")
