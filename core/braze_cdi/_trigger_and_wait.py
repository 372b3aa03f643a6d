"""Starting a sync and waiting for the job it started.

Braze's trigger answers with no job id, and its job list has no ids and no documented order. So
a sync is found by time, in Braze's own clock only: before triggering, note the newest job; the
sync's job is then the oldest job that started after it. It may take a few polls to appear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count

from ._errors import BrazeCDIError, Hint, Setting, SyncAlreadyRunning, SyncFailed, SyncTimeout
from ._listing import BEGINNING, JobScan, scan_jobs
from ._models import (
    IfRunning,
    JobStatus,
    SyncHandle,
    SyncJob,
    SyncResult,
    rows_text,
    start_text,
)
from ._protocol import BeforeTrigger, Notify, Op, Sleep, may_have_reached_braze, trigger_call
from ._rate_limit import Reservation
from ._retry import Context, send, take_slot
from .events import (
    AlreadyRunning,
    JobFinished,
    JobNotListedYet,
    JobPolled,
    JobStatusChanged,
    PollFailed,
    Resumed,
    Triggered,
    TriggerOutcomeUnknown,
)

_WAIT_OR_ATTACH = Hint(
    "Use {} or {} to not fail here.",
    (Setting("if_running", "wait"), Setting("if_running", "attach")),
)

# How far apart Braze's API servers and job runners may tell the time.
_CLOCK_TOLERANCE = timedelta(seconds=5)

#: How long after an earlier attempt's trigger its job may still be missing from Braze's job
#: list (Braze documents nothing about it): until then, a resumed sync waits for that job to be
#: listed instead of triggering again. Measured by Braze's clock (its ``Date`` header), or by
#: ours from the resume's start when Braze sends none.
LATE_LISTING = timedelta(seconds=60)


@dataclass(frozen=True)
class Polling:
    """Poll every ``interval`` seconds at first, slowing gently to ``max_interval`` while a job
    runs."""

    interval: float
    max_interval: float

    def after(self, interval: float) -> float:
        return min(interval * 1.5, max(self.interval, self.max_interval))


def sync_and_wait(
    ctx: Context,
    integration_id: str,
    *,
    if_running: IfRunning,
    timeout: float,
    polling: Polling,
    fail_on_partial: bool,
    resume: SyncHandle | None = None,
) -> Op[SyncResult]:
    began = ctx.clock.monotonic()
    handle = yield from start_sync(
        ctx,
        integration_id,
        if_running=if_running,
        deadline=began + timeout,
        polling=polling,
        resume=resume,
    )
    job = yield from _wait(
        ctx, handle, deadline=began + timeout, polling=polling, fail_on_partial=fail_on_partial
    )
    return _result(ctx, handle, job, began)


def wait_for_sync(
    ctx: Context, handle: SyncHandle, *, timeout: float, polling: Polling, fail_on_partial: bool
) -> Op[SyncResult]:
    began = ctx.clock.monotonic()
    job = yield from _wait(
        ctx, handle, deadline=began + timeout, polling=polling, fail_on_partial=fail_on_partial
    )
    return _result(ctx, handle, job, began)


def _result(ctx: Context, handle: SyncHandle, job: SyncJob, began: float) -> SyncResult:
    return SyncResult(
        integration_id=handle.integration_id,
        job=job,
        triggered=handle.triggered,
        waited_seconds=ctx.clock.monotonic() - began,
        status_calls=ctx.sent["status"],
    )


def start_sync(
    ctx: Context,
    integration_id: str,
    *,
    if_running: IfRunning,
    deadline: float,
    polling: Polling,
    resume: SyncHandle | None = None,
) -> Op[SyncHandle]:
    """Trigger a sync (or adopt the running one) and return where to find its job.

    With ``resume``, the record an earlier attempt persisted before its trigger, the job that
    trigger started is adopted when Braze lists it; a trigger is sent only once the job list
    shows that the earlier trigger started nothing.
    """
    if resume is not None:
        resumed = yield from _resume(ctx, resume, deadline=deadline, polling=polling)
        if resumed is not None:
            return resumed
    ended: SyncJob | None = None  # the running job last waited for, once it was seen to end
    seen_running: SyncJob | None = None  # the newest job seen running before the trigger
    while True:
        slot, scan = yield from _turn_and_look(ctx, integration_id, deadline=deadline)
        newest = scan.newest[0] if scan.newest else None
        if newest is not None and not newest.finished:
            _give_back(slot)
            seen_running = _later(seen_running, newest)
            previous = scan.newest[1] if len(scan.newest) > 1 else None
            yield Notify(AlreadyRunning(integration_id, newest, if_running))
            if if_running == "fail":
                raise SyncAlreadyRunning(
                    f"Integration {integration_id} is already syncing (job started "
                    f"{start_text(newest)}, status {newest.job_status}).",
                    hint=_WAIT_OR_ATTACH,
                )
            if if_running == "attach":
                return SyncHandle(
                    integration_id=integration_id,
                    previous_job=previous,
                    triggered=False,
                    expected_seconds=scan.expected_seconds(),
                )
            if ended is not None and _start(newest) == _start(ended):
                # The list shows running a job it showed ended (replicas that disagree): look
                # again after a poll, within the deadline, rather than at once.
                now = ctx.clock.monotonic()
                if now >= deadline:
                    raise _not_started(integration_id, None)
                yield Sleep(min(polling.interval, deadline - now))
                if ctx.clock.monotonic() > deadline:  # no time is left for another look
                    raise _not_started(integration_id, None)
                continue
            ended = yield from _follow(
                ctx,
                SyncHandle(integration_id=integration_id, previous_job=previous, triggered=False),
                deadline=deadline,
                polling=polling,
            )
            continue
        if ctx.clock.monotonic() >= deadline:
            _give_back(slot)
            raise _not_started(integration_id, None)
        # The jobs waited for are older than the trigger's even when this look no longer lists
        # them (an empty or partial list from a lagging replica), and so is a job seen running
        # when the wait for it ended on an older one.
        newest = _later(_later(newest, ended), seen_running)
        handle = SyncHandle(
            integration_id=integration_id,
            previous_job=newest,
            not_before=scan.date,
            triggered=True,
            expected_seconds=scan.expected_seconds(),
        )
        # Persisted first, so that a later attempt can resume instead of triggering again.
        try:
            resumable: bool = yield BeforeTrigger(handle)
        except BaseException:
            _give_back(slot)  # nothing was sent
            raise
        running = yield from _trigger(
            ctx, handle, deadline=deadline, resumable=resumable, slot=slot
        )
        if running is None:
            return handle
        # A job Braze did not list yet is running (a scheduled run, or another caller's).
        yield Notify(AlreadyRunning(integration_id, None, if_running))
        if if_running == "fail":
            raise running
        if if_running == "attach":
            return handle.model_copy(update={"triggered": False, "not_before": None})
        running_job = SyncHandle(
            integration_id=integration_id, previous_job=newest, triggered=False
        )
        yield from _follow(ctx, running_job, deadline=deadline, polling=polling)


def _resume(
    ctx: Context, record: SyncHandle, *, deadline: float, polling: Polling
) -> Op[SyncHandle | None]:
    """The handle of the job ``record``'s trigger started, once Braze lists it; ``None`` once
    ``LATE_LISTING`` has passed since that trigger with no such job (it started nothing, or
    was never sent)."""
    integration_id = record.integration_id
    began = ctx.clock.monotonic()
    while True:
        scan = yield from scan_jobs(
            ctx, integration_id, since=_after(record.previous_job) or BEGINNING, deadline=deadline
        )
        ours = _newer(scan.since, record)
        if ours:
            yield Notify(Resumed(integration_id, min(ours, key=_start)))
            return record.model_copy(update={"triggered": True})
        if scan.date is not None and record.not_before is not None:
            settled = scan.date - record.not_before >= LATE_LISTING
        else:
            settled = ctx.clock.monotonic() - began >= LATE_LISTING.total_seconds()
        if settled:
            return None
        now = ctx.clock.monotonic()
        if now >= deadline:
            raise SyncTimeout(
                f"The wait for integration {integration_id} ran out before the job an earlier "
                "attempt triggered was listed; it may still appear.",
                integration_id=integration_id,
                job=None,
                handle=record.model_copy(update={"triggered": True}),
            )
        yield Sleep(min(polling.interval, deadline - now))


def _not_started(integration_id: str, problem: BrazeCDIError | None) -> SyncTimeout:
    last = "" if problem is None else f" (the last call failed: {problem.message.rstrip('.')})"
    return SyncTimeout(
        f"The wait for integration {integration_id} ran out before its trigger was sent{last}; "
        "no sync was started.",
        integration_id=integration_id,
        job=None,
    )


def trigger_once(ctx: Context, integration_id: str) -> Op[None]:
    """The bare trigger: one request, retried only when it provably did not reach Braze."""
    try:
        yield from send(ctx, trigger_call(integration_id), _ignore, trigger=True)
    except BrazeCDIError as error:
        if may_have_reached_braze(error):
            raise _unresolved(error) from None
        raise


def _turn_and_look(
    ctx: Context, integration_id: str, *, deadline: float
) -> Op[tuple[Reservation | None, JobScan]]:
    """The trigger's slot of the rate budget, then the look at the job list that its job is
    told apart by. The turn comes first: in a fan-out that waits minutes for Braze's limit, the
    look is then seconds old when the trigger goes, and a job Braze's schedule ran meanwhile is
    not taken for the trigger's; and the looks of a fan-out spread over its minutes, as its
    triggers do, instead of all coming at once."""
    slot = yield from take_slot(ctx, trigger_call(integration_id), deadline)
    try:
        scan = yield from scan_jobs(ctx, integration_id, since=None, deadline=deadline)
    except BaseException as error:
        _give_back(slot)
        # A look cut short by the call's own deadline: the wait ran out, nothing started.
        if (
            isinstance(error, BrazeCDIError)
            and error.retryable
            and ctx.clock.monotonic() >= deadline
        ):
            raise _not_started(integration_id, error) from None
        raise
    return slot, scan


def _give_back(slot: Reservation | None) -> None:
    """A slot taken for a trigger that is not sent: it is as it was."""
    if slot is not None:
        slot.cancel()


def _trigger(
    ctx: Context,
    handle: SyncHandle,
    *,
    deadline: float,
    resumable: bool = False,
    slot: Reservation | None = None,
) -> Op[SyncAlreadyRunning | None]:
    """Trigger once, whatever it takes; return the refusal if another job is running. The
    first trigger goes in ``slot``, the slot of the budget already taken for it.

    When a trigger may have reached Braze without us hearing back, it is not simply sent again:
    a job that started after it (see ``_newer``) means it worked, and so does a resend that
    Braze refuses with "Another job is in progress" -- unless the job list shows a running job
    that started before the trigger, which explains the refusal instead.
    """
    integration_id = handle.integration_id
    unknown: BrazeCDIError | None = None
    running_before: SyncJob | None = None  # a running job older than the trigger
    for attempt in count(1):
        if unknown is not None and ctx.clock.monotonic() >= deadline:
            raise _unresolved(unknown, resumable=resumable)
        try:
            yield from send(
                ctx,
                trigger_call(integration_id),
                _ignore,
                deadline=deadline,
                trigger=True,
                reservation=slot if attempt == 1 else None,
            )
        except SyncAlreadyRunning as running:
            if unknown is None or running_before is not None:
                return running
            yield Notify(Triggered(integration_id, confirmed_by="resend"))
            return None
        except BrazeCDIError as error:
            if not may_have_reached_braze(error):
                # After an unknown outcome, no failure of a resend makes it safe to retry.
                if unknown is not None:
                    raise _unresolved(unknown, resumable=resumable) from None
                raise
            unknown = error
            delay = ctx.retry.backoff(attempt)
            if attempt >= ctx.retry.max_attempts or ctx.clock.monotonic() + delay >= deadline:
                raise _unresolved(error, resumable=resumable) from None
            yield Notify(TriggerOutcomeUnknown(integration_id, error))
            yield Sleep(delay)
            try:
                scan = yield from scan_jobs(
                    ctx,
                    integration_id,
                    since=_after(handle.previous_job) or BEGINNING,
                    deadline=deadline,
                )
            except BrazeCDIError:
                raise _unresolved(error, resumable=resumable) from None
            ours = _newer(scan.since, handle)
            if ours:
                yield Notify(Triggered(integration_id, confirmed_by="job_list"))
                return None
            running_before = next((job for job in scan.since if not job.finished), None)
        else:
            yield Notify(Triggered(integration_id))
            return None
    raise AssertionError("unreachable")  # pragma: no cover


def _ignore(_: object) -> None:
    return None


def _unresolved(error: BrazeCDIError, *, resumable: bool = False) -> BrazeCDIError:
    if resumable:
        # The record was persisted before the trigger: a retry resumes with it and adopts the
        # job the trigger started, if it started one, instead of triggering again.
        error.retryable = True
        error.hint = Hint(
            "The trigger may have reached Braze; its record was kept before it was sent, so a "
            "retry that resumes with it ({}) adopts its job instead of triggering again.",
            (Setting("resume"),),
        )
        return error
    # Retrying blindly could start a second sync, so this one is final.
    error.retryable = False
    error.hint = Hint(
        "The trigger may have reached Braze: look at the integration's jobs before triggering "
        "again ({} adopts a running one).",
        (Setting("if_running", "attach"),),
    )
    return error


def _wait(
    ctx: Context, handle: SyncHandle, *, deadline: float, polling: Polling, fail_on_partial: bool
) -> Op[SyncJob]:
    try:
        job = yield from _follow(ctx, handle, deadline=deadline, polling=polling, resumable=True)
    except BrazeCDIError as error:
        error.handle = handle  # the sync goes on at Braze: say where to find it
        raise
    if job.failed or (fail_on_partial and job.job_status == JobStatus.PARTIAL):
        hint = {
            JobStatus.CONFIG_ERROR: "The integration's configuration is wrong; check it in the "
            "Braze dashboard.",
            JobStatus.PARTIAL: "Some rows failed; Braze's dashboard lists why.",
        }.get(JobStatus(job.job_status), "Braze's dashboard shows the sync's log.")
        failed = SyncFailed(
            f"The sync of integration {handle.integration_id} ended {job.job_status}: "
            f"{rows_text(job)}. {hint}",
            integration_id=handle.integration_id,
            job=job,
        )
        failed.handle = handle  # whether this call triggered the job, and how it was found
        raise failed
    return job


def _follow(
    ctx: Context, where: SyncHandle, *, deadline: float, polling: Polling, resumable: bool = False
) -> Op[SyncJob]:
    """Poll until the job ``where`` points at has finished, and return it.

    With ``resumable``, running out of time raises a ``SyncTimeout`` carrying ``where``.
    """
    integration_id = where.integration_id
    # Read back only as far as the job can lie: after the previous job, and not before the
    # trigger (a handle with no previous job would otherwise read the whole history each poll).
    since = _after(where.previous_job) or BEGINNING
    if where.not_before is not None:
        since = max(since, where.not_before - _CLOCK_TOLERANCE)
    interval = polling.interval
    job: SyncJob | None = None
    problem: BrazeCDIError | None = None
    while True:
        try:
            scan = yield from scan_jobs(ctx, integration_id, since=since, deadline=deadline)
        except BrazeCDIError as error:
            # The job goes on at Braze whatever our polls meet; only the deadline ends the wait.
            if not error.retryable:
                raise
            problem = error
            yield Notify(PollFailed(integration_id, error))
        else:
            problem = None
            newer = _newer(scan.since, where)
            if newer:
                current = min(newer, key=_start)
                if job is not None and job.job_status == current.job_status:
                    yield Notify(JobPolled(integration_id, current))
                else:
                    before = None if job is None else job.job_status
                    yield Notify(JobStatusChanged(integration_id, current, before))
                job = current
                if job.finished:
                    yield Notify(JobFinished(integration_id, job))
                    return job
            else:
                yield Notify(JobNotListedYet(integration_id))
        now = ctx.clock.monotonic()
        if now >= deadline:
            raise _timeout(integration_id, job, problem, where if resumable else None)
        until_end = None if problem else _until_expected_end(ctx, where, job, scan.date)
        # An end expected only after the deadline is no guide: the job would have to end
        # sooner than its history says for the wait to see it.
        if until_end is not None and 0 < until_end <= deadline - now:
            # Before the job's expected end: poll then, or on the way there when it is far
            # (never leaving a short stretch for one more poll).
            longest = max(polling.max_interval, _longest_pause(where))
            pause = until_end if until_end <= 1.5 * longest else longest
            interval = polling.interval  # a job still running past it is polled as new
        else:
            pause = interval
            if job is not None:
                interval = polling.after(interval)
        yield Sleep(min(pause, deadline - now))
        if ctx.clock.monotonic() > deadline:
            # The pause ended past the deadline (a real clock always overshoots a little): a
            # look now could not be answered in time, and its failure would only hide that the
            # wait ran out.
            raise _timeout(integration_id, job, problem, where if resumable else None)


def _until_expected_end(
    ctx: Context, where: SyncHandle, job: SyncJob | None, date: datetime | None
) -> float | None:
    """Seconds until the running ``job`` should end, by the integration's history, at the
    latest (a poll then finds it ended, not still running); ``None`` without a history, or
    without a way to place Braze's clock on ours."""
    expected = where.expected_seconds
    if job is None or job.finished or expected is None or job.sync_start_time is None:
        return None
    end = job.sync_start_time.timestamp() + expected
    margin = min(1.0, expected / 50)  # Braze's job runners may tell the time a little apart
    now = ctx.clock.monotonic()
    ours = ctx.braze_time.latest(end)
    if ours is not None:
        return ours - now + margin
    if date is not None:  # the last answer's Date: Braze's time then, to the second, or later
        return end - date.timestamp() + margin
    return None


def _longest_pause(where: SyncHandle) -> float:
    """The longest pause before a job's expected end: half its expected time, at most ten
    minutes, so that a job that fails early is still noticed in good time."""
    return min((where.expected_seconds or 0.0) / 2, 600.0)


_RESUME = Hint(
    "Braze has no cancel call, so a running job goes on: wait again with the handle, or sync "
    "again with {} to adopt the running job.",
    (Setting("if_running", "attach"),),
)
_ADOPT = Hint(
    "Sync again later, or with {} to adopt the running job.", (Setting("if_running", "attach"),)
)


def _timeout(
    integration_id: str,
    job: SyncJob | None,
    problem: BrazeCDIError | None,
    handle: SyncHandle | None,
) -> SyncTimeout:
    if job is None:
        state = "no new job appeared in Braze's job list"
    else:
        state = f"the job started {start_text(job)} was still {job.job_status}"
    if handle is None:  # the job of another caller, waited for before triggering
        state += "; no sync was started"
    if problem is not None:
        state += f"; the last poll failed: {problem.message.rstrip('.')}"
    error = SyncTimeout(
        f"The wait for integration {integration_id} ran out: {state}.",
        integration_id=integration_id,
        job=job,
        handle=handle,
    )
    error.hint = _RESUME if handle is not None else _ADOPT
    return error


def _after(job: SyncJob | None) -> datetime | None:
    return None if job is None else job.sync_start_time


def _start(job: SyncJob) -> datetime:
    return job.sync_start_time or BEGINNING


def _later(first: SyncJob | None, second: SyncJob | None) -> SyncJob | None:
    """The one of two jobs that started later (either, when one is missing)."""
    if first is None or second is None:
        return first or second
    return second if _start(second) > _start(first) else first


def _newer(jobs: list[SyncJob], where: SyncHandle) -> list[SyncJob]:
    """The jobs that may be the one ``where`` points at: started after its previous job, and
    not before Braze's clock said the trigger was about to be sent (a job Braze lists late must
    not pass for the trigger's own)."""
    after = _after(where.previous_job)
    not_before = None if where.not_before is None else where.not_before - _CLOCK_TOLERANCE
    return [
        job
        for job in jobs
        if (after is None or _start(job) > after)
        and (not_before is None or _start(job) >= not_before)
    ]
