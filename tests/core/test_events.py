"""Progress as typed events: what a subscriber of ``on_event`` sees, in order, through both
clients and ``sync_many``; and a subscriber that fails never breaks the sync."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from braze_cdi import AsyncBrazeCDIClient, BrazeTransportError, JobStatus, SyncJob, SyncResult
from braze_cdi.events import (
    AlreadyRunning,
    JobFinished,
    JobNotListedYet,
    JobPolled,
    JobStatusChanged,
    PollFailed,
    Retrying,
    SyncEvent,
    Triggered,
    TriggerOutcomeUnknown,
    WaitingForBudget,
    log_to,
)
from braze_cdi.testing import FakeBraze, FakeClock, FakeIntegration

from .conftest import QUICK_RETRY, Api


def _a_hard_day(fake: FakeBraze) -> FakeIntegration:
    """A sync that meets a rate-limit wait and a 503 on its first look, a job Braze's schedule
    is running, a trigger whose answer is lost, and ends partial.

    Its jobs are long: in ``sync_many`` the other syncs' polls move the shared virtual clock on
    too, and each job must still be running when first seen.
    """
    users = fake.add_integration(
        name="users", history=1, duration=300.0, outcome="partial", rows_failed=3
    )
    fake.start_job(users.integration_id, duration=300.0, outcome="success")
    only = {"integration_id": users.integration_id}
    fake.inject("status", status=429, headers={"Retry-After": "5"}, **only)
    fake.inject("status", status=503, **only)
    fake.inject("trigger", drop=True, takes_effect=True, **only)
    return users


def _story(events: list[SyncEvent], integration_id: str) -> list[tuple[Any, ...]]:
    """The events of one integration, each as its kind and the fields that tell the story
    (unchanged polls left out: how many there are depends on the poll interval)."""
    story: list[tuple[Any, ...]] = []
    for event in events:
        assert event.integration_id == integration_id
        if isinstance(event, Retrying):
            story.append(("Retrying", event.reason.split(": ")[-1], event.attempt, event.delay))
        elif isinstance(event, AlreadyRunning):
            assert event.job is not None
            story.append(("AlreadyRunning", event.job.job_status, event.choice))
        elif isinstance(event, JobStatusChanged):
            story.append(("JobStatusChanged", event.previous_status, event.job.job_status))
        elif isinstance(event, JobFinished):
            story.append(("JobFinished", event.job.job_status, event.job.rows_failed_with_errors))
        elif isinstance(event, TriggerOutcomeUnknown):
            assert isinstance(event.error, BrazeTransportError)
            story.append(("TriggerOutcomeUnknown", event.error.connected))
        elif isinstance(event, Triggered):
            story.append(("Triggered", event.confirmed_by))
        else:
            assert isinstance(event, JobPolled), event
    return story


HARD_DAY = [
    ("Retrying", "Braze answered 'Too Many Requests'.", 1, 5.0),  # Braze's Retry-After
    ("Retrying", "Braze answered 'Service Unavailable'.", 2, 0.02),  # the policy's backoff
    ("AlreadyRunning", JobStatus.RUNNING, "wait"),
    ("JobStatusChanged", None, JobStatus.RUNNING),  # the scheduled job, waited for
    ("JobStatusChanged", JobStatus.RUNNING, JobStatus.SUCCESS),
    ("JobFinished", JobStatus.SUCCESS, 0),
    ("TriggerOutcomeUnknown", True),  # the connection dropped after the request went out
    ("Triggered", "job_list"),  # ... and the job list showed the trigger's job
    ("JobStatusChanged", None, JobStatus.RUNNING),
    ("JobStatusChanged", JobStatus.RUNNING, JobStatus.PARTIAL),
    ("JobFinished", JobStatus.PARTIAL, 3),
]


def test_a_subscriber_sees_the_whole_story_in_order(
    virtual: tuple[FakeBraze, Api],
) -> None:
    fake, api = virtual
    users = _a_hard_day(fake)
    events: list[SyncEvent] = []

    result = api.call("sync_and_wait", users.integration_id, on_event=events.append)

    assert result.job.job_status == JobStatus.PARTIAL
    assert _story(events, users.integration_id) == HARD_DAY
    assert users.triggered_jobs == 1


def test_sync_many_hands_each_integration_its_own_story() -> None:
    # In process, not over loopback: the two syncs share the virtual clock, and with real I/O
    # how far one's sleeps move it while the other's request is on the wire depends on the
    # machine's speed. In process, the interleaving is the same on every run.
    clock = FakeClock()
    fake = FakeBraze(clock=clock)
    users = _a_hard_day(fake)
    calm = fake.add_integration(name="calm", duration=300.0)
    events: list[SyncEvent] = []

    async def sync_both() -> list[SyncResult | Exception]:
        async with AsyncBrazeCDIClient(
            fake.api_key, "US-01", transport=fake, clock=clock, retry=QUICK_RETRY
        ) as client:
            return await client.sync_many(
                [users.integration_id, calm.integration_id], on_event=events.append
            )

    outcomes = asyncio.run(sync_both())

    assert [type(outcome) for outcome in outcomes] == [SyncResult, SyncResult]
    mine = [event for event in events if event.integration_id == users.integration_id]
    theirs = [event for event in events if event.integration_id == calm.integration_id]
    assert len(mine) + len(theirs) == len(events)
    assert _story(mine, users.integration_id) == HARD_DAY
    assert _story(theirs, calm.integration_id) == [
        ("Triggered", "answer"),
        ("JobStatusChanged", None, JobStatus.RUNNING),
        ("JobStatusChanged", JobStatus.RUNNING, JobStatus.SUCCESS),
        ("JobFinished", JobStatus.SUCCESS, 0),
    ]


def test_an_async_subscriber_is_awaited(virtual: tuple[FakeBraze, Api]) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users", duration=0.0)
    seen: list[str] = []

    async def record(event: SyncEvent) -> None:
        await asyncio.sleep(0)
        seen.append(type(event).__name__)

    async def sync() -> SyncResult:
        async with AsyncBrazeCDIClient(fake.api_key, api.url, **api.client_options()) as client:
            return await client.sync_and_wait(users.integration_id, on_event=record)

    asyncio.run(sync())

    assert seen == ["Triggered", "JobStatusChanged", "JobFinished"]


def test_a_failing_subscriber_never_breaks_the_sync_and_is_logged_once(
    virtual: tuple[FakeBraze, Api], caplog: pytest.LogCaptureFixture
) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users", duration=30.0)
    calls: list[SyncEvent] = []

    def broken(event: SyncEvent) -> None:
        calls.append(event)
        raise RuntimeError("the dashboard is down")

    caplog.set_level(logging.INFO, logger="braze_cdi")
    result = api.call("sync_and_wait", users.integration_id, on_event=broken)

    assert result.job.job_status == JobStatus.SUCCESS
    assert len(calls) >= 3  # it was called for every event, and raised every time
    failures = [r for r in caplog.records if "on_event subscriber raised" in r.getMessage()]
    assert len(failures) == 1
    assert "RuntimeError" in failures[0].getMessage()


def test_logging_is_the_default_subscriber(
    virtual: tuple[FakeBraze, Api], caplog: pytest.LogCaptureFixture
) -> None:
    fake, api = virtual
    users = fake.add_integration(name="users", duration=30.0, rows_synced=1200)
    caplog.set_level(logging.INFO, logger="braze_cdi")

    api.call("sync_and_wait", users.integration_id)

    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == f"Triggered a sync of integration {users.integration_id}."
    assert lines[1].endswith(" is running.")
    assert lines[2].endswith(" ended success: 1,200 rows synced, 0 failed.")


# --- how each event reads ---------------------------------------------------------------------

_RUNNING = SyncJob(job_status="running", sync_start_time="2026-01-01T02:00:00Z")
_ENDED = SyncJob(
    job_status="partial",
    sync_start_time="2026-01-01T02:00:00Z",
    sync_finish_time="2026-01-01T02:05:00Z",
    rows_synced=1200,
    rows_failed_with_errors=3,
)
_LOST = BrazeTransportError("POST trigger failed: ReadTimeout: no answer.", connected=True)

READINGS: list[tuple[SyncEvent, int | None, str]] = [
    (
        AlreadyRunning("abc", _RUNNING, "wait"),
        logging.INFO,
        "Integration abc is already syncing (job started 2026-01-01T02:00:00+00:00); waiting "
        "for it to end before triggering.",
    ),
    (AlreadyRunning("abc", None, "fail"), None, "Integration abc is already syncing; failing."),
    (Triggered("abc"), logging.INFO, "Triggered a sync of integration abc."),
    (
        Triggered("abc", confirmed_by="job_list"),
        logging.INFO,
        "Integration abc: a new job appeared, so the trigger worked.",
    ),
    (
        TriggerOutcomeUnknown("abc", _LOST),
        logging.WARNING,
        "Integration abc: the trigger's outcome is unknown (POST trigger failed: ReadTimeout: no "
        "answer.); checking the job list before sending it again.",
    ),
    (JobNotListedYet("abc"), logging.DEBUG, "Integration abc: its new job is not listed yet."),
    (
        JobStatusChanged("abc", _RUNNING, None),
        logging.INFO,
        "Integration abc: job started 2026-01-01T02:00:00+00:00 is running.",
    ),
    (
        JobStatusChanged("abc", SyncJob(job_status="queued"), JobStatus.RUNNING),
        logging.WARNING,
        "Integration abc: job started at an unknown time has a status Braze does not document "
        "('queued'); it is not taken as finished.",
    ),
    (JobStatusChanged("abc", _ENDED, JobStatus.RUNNING), None, ""),  # JobFinished tells
    (
        JobPolled("abc", _RUNNING),
        logging.DEBUG,
        "Integration abc: job started 2026-01-01T02:00:00+00:00 is running.",
    ),
    (
        JobFinished("abc", _ENDED),
        logging.INFO,
        "Integration abc: job started 2026-01-01T02:00:00+00:00 ended partial: 1,200 rows "
        "synced, 3 failed.",
    ),
    (
        PollFailed("abc", _LOST),
        logging.WARNING,
        "Integration abc: could not read its jobs (POST trigger failed: ReadTimeout: no "
        "answer.); trying again at the next poll.",
    ),
    (
        Retrying("abc", "Braze answered 'Service Unavailable'.", 1, 5, 2.0),
        logging.INFO,
        "Braze answered 'Service Unavailable'; attempt 2 of 5 in 2.0s.",
    ),
    (
        WaitingForBudget(None, "list", 1.5),
        logging.DEBUG,
        "A call: waiting 1.5s for the client-side list budget.",
    ),
]


@pytest.mark.parametrize(("event", "level", "message"), READINGS)
def test_each_event_has_its_level_and_its_log_line(
    event: SyncEvent, level: int | None, message: str
) -> None:
    assert event.level == level
    if level is not None:
        assert event.message() == message
        assert event.summary.lower() in message.lower()


def test_a_line_that_names_the_integration_already_reads_the_summary() -> None:
    event = JobFinished("abc", _ENDED)

    assert event.message("users").startswith("Integration users: ")
    assert event.summary == (
        "job started 2026-01-01T02:00:00+00:00 ended partial: 1,200 rows synced, 3 failed"
    )


def test_log_to_sends_info_and_above_to_any_run_log() -> None:
    lines: list[tuple[int, str]] = []

    class RunLog:
        def log(self, level: int, msg: str) -> None:
            lines.append((level, msg))

    subscriber = log_to(RunLog())
    for event, _, _ in READINGS:
        subscriber(event)

    assert [message for _, message in lines] == [
        message for event, level, message in READINGS if level is not None and level >= logging.INFO
    ]
