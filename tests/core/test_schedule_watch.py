"""Watching Braze's own schedules (``watch_schedules``): the jobs they ran, once each, and
whether each schedule ran; through both clients, over loopback HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from braze_cdi import (
    BrazeConfigError,
    BrazeServerError,
    IntegrationNotFound,
    ScheduleReport,
    ScheduleWatch,
)
from braze_cdi.testing import FakeBraze, FakeClock

from .conftest import Api

HOUR = 3600.0


def look(
    api: Api, watch: ScheduleWatch | None = None, *args: object, **kwargs: object
) -> ScheduleReport:
    report = api.call("watch_schedules", watch or ScheduleWatch(), *args, **kwargs)
    assert isinstance(report, ScheduleReport)
    return report


def rows(report: ScheduleReport, integration_id: str) -> list[int | None]:
    return [job.rows_synced for job in report.jobs.get(integration_id, [])]


# --- the jobs Braze's schedules ran -----------------------------------------------------------


def test_the_first_look_finds_each_latest_job_and_the_next_reads_no_job_list(
    fake: FakeBraze, api: Api
) -> None:
    ids = [fake.add_integration(history=3).integration_id for _ in range(12)]

    first = look(api)
    second = look(api, first.watch)

    assert sorted(first.jobs) == sorted(ids)
    assert all(len(jobs) == 1 for jobs in first.jobs.values())  # history is not replayed
    assert first.jobs[ids[0]][0].sync_start_time == max(
        job.sync_start_time for job in first.jobs[ids[0]]
    )
    assert (first.job_reads, second.job_reads, second.jobs) == (12, 0, {})
    assert fake.count("list") == 4  # two pages of 10 per look
    assert fake.count("status") == 12
    assert sorted(first.listed) == sorted(ids)


def test_new_jobs_are_found_once_each_oldest_first_reading_only_their_job_lists(
    fake: FakeBraze, api: Api
) -> None:
    users, events, idle = (fake.add_integration(history=1).integration_id for _ in range(3))
    first = look(api)
    fake.start_job(users, duration=0.0, rows_synced=1)
    fake.start_job(users, duration=0.0, rows_synced=2, outcome="partial")
    fake.start_job(events, duration=0.0, rows_synced=3, outcome="error")
    before = fake.count("status")

    second = look(api, first.watch)
    third = look(api, second.watch)

    assert rows(second, users) == [1, 2]
    assert [str(job.job_status) for job in second.jobs[events]] == ["error"]
    assert idle not in second.jobs
    assert fake.count("status", integration_id=idle) == 1  # only the first look read it
    assert fake.count("status") - before == 2
    assert (third.jobs, third.job_reads) == ({}, 0)


def test_a_job_that_ended_before_a_running_one_is_found_and_the_running_one_when_it_ends(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    users = fake.add_integration(history=1).integration_id
    first = look(api)
    fake.start_job(users, duration=0.0, rows_synced=7)
    clock.advance(1)
    fake.start_job(users, duration=HOUR, rows_synced=8)

    seen_running = look(api, first.watch)
    still_running = look(api, seen_running.watch)
    clock.advance(2 * HOUR)
    ended = look(api, still_running.watch)

    assert rows(seen_running, users) == [7]
    assert (still_running.jobs, still_running.job_reads) == ({}, 0)
    assert rows(ended, users) == [8]


def test_an_integration_first_seen_running_is_waited_for_then_only_that_job_is_found(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    users = fake.add_integration(history=3).integration_id
    running = fake.start_job(users, duration=HOUR, rows_synced=9)

    waiting = look(api)
    clock.advance(2 * HOUR)
    ended = look(api, waiting.watch)

    assert (waiting.jobs, waiting.job_reads) == ({}, 0)
    [job] = ended.jobs[users]
    assert job.rows_synced == 9
    assert job.sync_start_time is not None
    assert job.sync_start_time.timestamp() == pytest.approx(running.start, abs=0.001)


def test_a_look_reads_at_most_max_job_reads_lists_never_read_first_then_longest_ago(
    fake: FakeBraze, api: Api
) -> None:
    ids = [fake.add_integration(history=1).integration_id for _ in range(7)]

    first = look(api, max_job_reads=3)
    fake.start_job(ids[0], duration=0.0)  # read in the first look: it goes after the others
    second = look(api, first.watch, max_job_reads=3)
    third = look(api, second.watch, max_job_reads=3)

    assert list(first.jobs) == ids[:3]
    assert first.waiting == ids[3:]
    assert list(second.jobs) == ids[3:6]
    assert second.waiting == [ids[6], ids[0]]
    assert list(third.jobs) == [ids[6], ids[0]]
    assert third.waiting == []


def test_jobs_the_caller_accounts_for_are_not_found_and_their_list_not_read(
    fake: FakeBraze, api: Api
) -> None:
    mine, braze = (fake.add_integration(history=1).integration_id for _ in range(2))
    first = look(api)
    fake.start_job(mine, duration=0.0)
    latest = fake.integrations[mine].jobs[-1]
    known = {mine: datetime.fromtimestamp(latest.start, tz=timezone.utc)}
    fake.start_job(braze, duration=0.0)

    second = look(api, first.watch, known_until=known.get)
    reads_of_mine = fake.count("status", integration_id=mine)
    fake.start_job(mine, duration=0.0, rows_synced=5)
    third = look(api, second.watch, known_until=known)

    assert list(second.jobs) == [braze]
    assert reads_of_mine == 1  # the first look's: the list showed the caller's job
    assert rows(third, mine) == [5]


def test_a_skipped_integration_is_left_alone_until_a_later_look(fake: FakeBraze, api: Api) -> None:
    busy, other = (fake.add_integration(history=1).integration_id for _ in range(2))

    skipped = look(api, skip={busy})
    later = look(api, skipped.watch, skip=lambda integration_id: False)

    assert list(skipped.jobs) == [other]
    assert fake.count("status", integration_id=busy) == 1
    assert list(later.jobs) == [busy]


def test_a_job_list_that_cannot_be_read_is_read_again_by_the_next_look(
    fake: FakeBraze, api: Api
) -> None:
    ids = [fake.add_integration(history=1).integration_id for _ in range(3)]
    fake.inject("status", integration_id=ids[1], status=404, body={"message": "Not found"})

    first = look(api)
    second = look(api, first.watch)

    assert sorted(first.jobs) == sorted([ids[0], ids[2]])
    assert isinstance(first.failures[ids[1]], IntegrationNotFound)
    assert list(second.jobs) == [ids[1]]
    assert second.failures == {}


def test_braze_in_trouble_ends_the_look_s_reads_and_keeps_what_was_read(
    fake: FakeBraze, api: Api
) -> None:
    ids = [fake.add_integration(history=1).integration_id for _ in range(3)]
    fake.inject("status", integration_id=ids[1], status=503, times=100)  # every attempt fails

    troubled = look(api)
    fake.faults.clear()
    recovered = look(api, troubled.watch)

    assert list(troubled.jobs) == [ids[0]]
    assert isinstance(troubled.failures[ids[1]], BrazeServerError)
    assert troubled.waiting == ids[1:]
    assert sorted(recovered.jobs) == sorted(ids[1:])


def test_where_picks_the_listed_integrations_and_the_watch_keeps_only_those_watched(
    fake: FakeBraze, api: Api
) -> None:
    users = fake.add_integration(name="prod_users", history=1).integration_id
    fake.add_integration(name="staging_users", history=1)

    first = look(api)
    prod = look(
        api,
        first.watch,
        where=lambda integration: (integration.integration_name or "").startswith("prod"),
    )

    assert len(first.watch.reported) == 2
    assert list(prod.verdicts) == [users]
    assert list(prod.watch.reported) == [users]
    assert list(prod.watch.schedule_ran) == [users]


# --- whether each schedule ran ----------------------------------------------------------------


def test_verdicts_judge_each_schedule_and_changed_lists_only_what_changed(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    now = clock.time()
    on_time = fake.add_integration(history=1).integration_id
    slightly = fake.add_integration(history=1, next_scheduled_run=now - 0.25 * HOUR)
    stuck = fake.add_integration(history=1, next_scheduled_run=now - 0.75 * HOUR)
    paused = fake.add_integration(integration_status="paused", next_scheduled_run=now - 30 * HOUR)
    gone = "00000000-0000-0000-0000-00000000dead"
    watched = [on_time, slightly.integration_id, stuck.integration_id, paused.integration_id, gone]

    first = look(api, None, watched)
    second = look(api, first.watch, watched)
    fake.start_job(stuck.integration_id, duration=0.0)
    third = look(api, second.watch, watched)

    assert {i: v.passed for i, v in first.verdicts.items()} == {
        on_time: True,
        slightly.integration_id: True,
        stuck.integration_id: False,
        paused.integration_id: True,
        gone: False,
    }
    assert [v.integration_id for v in first.changed] == watched  # each judged the first time
    late = first.verdicts[stuck.integration_id]
    assert late.late == timedelta(hours=0.75)
    assert late.record()["late_seconds"] == 0.75 * HOUR
    assert "has not started" in late.description
    assert "does not list" in first.verdicts[gone].description
    assert not first.verdicts[gone].listed
    assert second.changed == []
    assert [(v.integration_id, v.passed) for v in third.changed] == [(stuck.integration_id, True)]


def test_the_grace_decides_how_late_a_run_may_be(
    virtual: tuple[FakeBraze, Api], clock: FakeClock
) -> None:
    fake, api = virtual
    late = fake.add_integration(history=1, next_scheduled_run=clock.time() - 0.75 * HOUR)

    strict = look(api, None, grace=timedelta(minutes=10))
    lenient = look(api, None, grace=timedelta(hours=1))

    assert strict.verdicts[late.integration_id].passed is False
    assert lenient.verdicts[late.integration_id].passed is True


# --- the watch ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "not json",
        "[]",
        '"2026-01-01T00:00:00+00:00"',
        '{"reported": 5, "running": [], "schedule_ran": "yes"}',
        '{"reported": {"a": "yesterday"}, "running": {"a": 3}, "schedule_ran": {"a": "no"}}',
        "[" * 100_000,
    ],
)
def test_a_watch_that_cannot_be_read_counts_as_none(text: str | None) -> None:
    assert ScheduleWatch.loads(text) == ScheduleWatch()


def test_a_watch_keeps_what_it_can_read_and_round_trips() -> None:
    text = (
        '{"reported": {"a": "2026-01-01T00:00:00", "b": "nope"},'
        ' "running": {"a": "2026-01-01T01:00:00+01:00"}, "schedule_ran": {"a": false, "b": 1}}'
    )

    watch = ScheduleWatch.loads(text)

    assert watch.reported == {"a": datetime(2026, 1, 1, tzinfo=timezone.utc)}  # naive: UTC
    assert watch.running == {"a": datetime(2026, 1, 1, tzinfo=timezone.utc)}
    assert watch.schedule_ran == {"a": False}
    assert ScheduleWatch.loads(watch.dumps()) == watch
    assert ScheduleWatch.model_validate_json(watch.model_dump_json()) == watch


def test_a_look_resumes_from_a_watch_read_back_from_json(fake: FakeBraze, api: Api) -> None:
    users = fake.add_integration(history=1).integration_id
    first = look(api)
    fake.start_job(users, duration=0.0, rows_synced=4)

    second = look(api, ScheduleWatch.loads(first.watch.dumps()))

    assert rows(second, users) == [4]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"watch": "{}"}, "watch must be a ScheduleWatch"),
        ({"integration_ids": "abc"}, "list of ids"),
        ({"integration_ids": ["a/b"]}, "integration"),
        ({"grace": timedelta(0)}, "grace"),
        ({"grace": 30}, "grace"),
        ({"max_job_reads": -1}, "max_job_reads"),
        ({"max_job_reads": True}, "max_job_reads"),
        ({"where": "prod*"}, "where must be callable"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(
    fake: FakeBraze, api: Api, arguments: dict[str, object], message: str
) -> None:
    settings: dict[str, object] = {"watch": ScheduleWatch(), **arguments}

    with pytest.raises(BrazeConfigError, match=message):
        api.call("watch_schedules", **settings)
    assert fake.requests == []
