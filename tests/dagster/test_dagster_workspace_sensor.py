"""The workspace sensor (the syncs Braze's schedules ran, and whether each schedule ran) and the
schedule checks, ticking against a FakeBraze on loopback."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import dagster as dg
import pytest

from braze_cdi import BrazeConfigError
from braze_cdi.testing import FakeBraze
from dagster_braze_cdi import (
    BrazeCDIResource,
    BrazeCDISelector,
    load_braze_cdi_asset_specs,
    sync_assets_from_specs,
)
from dagster_braze_cdi import workspace_sensor as module
from dagster_braze_cdi.workspace_sensor import (
    SCHEDULE_RAN,
    build_braze_cdi_schedule_checks,
    build_braze_cdi_workspace_sensor,
)

HOUR = 3600.0


@dataclass
class Tick:
    """What one tick reported, per asset, and the requests it made."""

    result: dg.SensorResult
    list_calls: int
    status_calls: int
    jobs: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    verdicts: dict[str, dg.AssetCheckEvaluation] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for event in self.result.asset_events:
            name = event.asset_key.to_user_string()
            if isinstance(event, dg.AssetMaterialization):
                metadata: dict[str, object] = {k: v.value for k, v in event.metadata.items()}
                self.jobs.setdefault(name, []).append(metadata)
            else:
                assert isinstance(event, dg.AssetCheckEvaluation)
                assert event.check_name == SCHEDULE_RAN
                assert name not in self.verdicts
                self.verdicts[name] = event

    @property
    def cursor(self) -> str | None:
        return self.result.cursor

    def passed(self) -> dict[str, bool]:
        return {name: event.passed for name, event in self.verdicts.items()}


TickFn = Callable[..., Tick]


@pytest.fixture
def tick(fake: FakeBraze, instance: dg.DagsterInstance, resource: BrazeCDIResource) -> TickFn:
    """``tick(sensor, cursor=None, store=False)``: evaluate the sensor once; with ``store``,
    keep what it reported in the instance, as the daemon does. Without, the cursor alone carries
    what the sensor knows, which is what most tests are about (and storing costs time)."""

    def run(sensor: dg.SensorDefinition, cursor: str | None = None, store: bool = False) -> Tick:
        lists, statuses = fake.count("list"), fake.count("status")
        context = dg.build_sensor_context(
            instance, cursor=cursor, resources={"braze_cdi": resource}
        )
        result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        for event in result.asset_events if store else ():
            instance.report_runless_asset_event(event)
        return Tick(result, fake.count("list") - lists, fake.count("status") - statuses)

    return run


@pytest.fixture
def specs(workspace: list[str], resource: BrazeCDIResource) -> list[dg.AssetSpec]:
    """The 42 active integrations of the ``workspace`` fixture (45 in 5 pages), as specs."""
    return load_braze_cdi_asset_specs(resource)


@pytest.fixture
def sensor(specs: list[dg.AssetSpec]) -> dg.SensorDefinition:
    return build_braze_cdi_workspace_sensor(specs)


@pytest.fixture
def three(fake: FakeBraze) -> list[str]:
    """Three active integrations (``braze/users``, ``braze/purchases``, ``braze/events``), each
    with a job that ended an hour ago: for tests that need no pages."""
    names = ("users", "purchases", "events")
    return [fake.add_integration(name=name, history=1).integration_id for name in names]


@pytest.fixture
def three_sensor(three: list[str], resource: BrazeCDIResource) -> dg.SensorDefinition:
    return build_braze_cdi_workspace_sensor(load_braze_cdi_asset_specs(resource))


def key_of(specs: list[dg.AssetSpec], integration_id: str) -> str:
    [key] = [
        spec.key.to_user_string()
        for spec in specs
        if spec.metadata["braze_cdi/integration_id"] == integration_id
    ]
    return key


def started(job: dict[str, object]) -> float:
    """A job's ``sync_start_time``: a timestamp, in seconds since the epoch."""
    value = job["sync_start_time"]
    assert isinstance(value, float)
    return value


def late_by(fake: FakeBraze, hours: float) -> float:
    """A ``next_scheduled_run`` that passed ``hours`` ago (the ``workspace`` fixture's jobs, and
    those of ``history=1``, started an hour ago)."""
    return fake.clock.time() - hours * HOUR


# --- the jobs Braze ran ---------------------------------------------------------------------


def test_the_first_tick_reports_each_integration_s_latest_job_and_the_next_reads_no_job_list(
    workspace: list[str], specs: list[dg.AssetSpec], sensor: dg.SensorDefinition, tick: TickFn
) -> None:
    first = tick(sensor)
    second = tick(sensor, first.cursor)

    assert sorted(first.jobs) == sorted(spec.key.to_user_string() for spec in specs)
    assert all(len(jobs) == 1 for jobs in first.jobs.values())
    [job] = first.jobs[key_of(specs, workspace[1])]
    assert job["integration_id"] == workspace[1]
    assert job["job_status"] == "success"
    assert job["triggered"] is False
    assert first.list_calls == math.ceil(len(workspace) / 10) == 5
    assert first.status_calls == len(specs) == 42
    assert (second.jobs, second.list_calls, second.status_calls) == ({}, 5, 0)
    assert second.result.skip_reason is not None


def test_jobs_braze_scheduled_are_reported_once_each_reading_only_their_job_lists(
    fake: FakeBraze,
    workspace: list[str],
    specs: list[dg.AssetSpec],
    sensor: dg.SensorDefinition,
    tick: TickFn,
) -> None:
    first = tick(sensor)
    for integration_id in workspace[1:4]:
        fake.start_job(integration_id, duration=0.0, rows_synced=321)
    second = tick(sensor, first.cursor)
    third = tick(sensor, second.cursor)
    fake.start_job(workspace[2], duration=0.0, outcome="partial", rows_failed=4)
    fake.start_job(workspace[2], duration=0.0)
    fourth = tick(sensor, third.cursor)

    assert sorted(second.jobs) == sorted(key_of(specs, id_) for id_ in workspace[1:4])
    assert all([job["rows_synced"] for job in jobs] == [321] for jobs in second.jobs.values())
    assert (second.list_calls, second.status_calls) == (5, 3)
    assert (third.jobs, third.list_calls, third.status_calls) == ({}, 5, 0)
    assert list(fourth.jobs) == [key_of(specs, workspace[2])]
    jobs = fourth.jobs[key_of(specs, workspace[2])]
    assert [job["job_status"] for job in jobs] == ["partial", "success"]  # oldest first
    assert fourth.status_calls == 1


def test_a_job_that_ended_before_a_running_one_is_reported_and_the_running_one_when_it_ends(
    fake: FakeBraze, resource: BrazeCDIResource, tick: TickFn
) -> None:
    users = fake.add_integration(name="users", history=1)
    sensor = build_braze_cdi_workspace_sensor(load_braze_cdi_asset_specs(resource))
    first = tick(sensor)
    fake.start_job(users.integration_id, duration=0.0, rows_synced=7)
    running = fake.start_job(users.integration_id, duration=10 * HOUR, rows_synced=8)

    seen_running = tick(sensor, first.cursor)
    still_running = tick(sensor, seen_running.cursor)
    running.duration = 0.0  # it ends
    ended = tick(sensor, still_running.cursor)

    assert [job["rows_synced"] for job in seen_running.jobs["braze/users"]] == [7]
    assert seen_running.status_calls == 1
    assert (still_running.jobs, still_running.status_calls) == ({}, 0)
    assert [job["rows_synced"] for job in ended.jobs["braze/users"]] == [8]
    assert ended.status_calls == 1


def test_an_integration_first_seen_running_reports_that_job_once_it_ends(
    fake: FakeBraze, resource: BrazeCDIResource, tick: TickFn
) -> None:
    users = fake.add_integration(name="users", history=3)
    running = fake.start_job(users.integration_id, duration=10 * HOUR)
    sensor = build_braze_cdi_workspace_sensor(load_braze_cdi_asset_specs(resource))

    waiting = tick(sensor)
    running.duration = 0.0
    ended = tick(sensor, waiting.cursor)

    assert (waiting.jobs, waiting.status_calls) == ({}, 0)
    [job] = ended.jobs["braze/users"]  # only the latest: the history is not replayed
    assert started(job) == pytest.approx(running.start, abs=0.001)
    assert ended.status_calls == 1


def test_jobs_a_dagster_run_materialized_are_not_reported_again(
    fake: FakeBraze, instance: dg.DagsterInstance, resource: BrazeCDIResource, tick: TickFn
) -> None:
    for name in ("users", "purchases"):
        fake.add_integration(name=name, history=1, duration=0.0)
    specs = load_braze_cdi_asset_specs(resource)
    workspace = sync_assets_from_specs(specs)
    sensor = build_braze_cdi_workspace_sensor([workspace])
    first = tick(sensor, store=True)

    synced = dg.materialize(
        [workspace], selection=["braze/users"], resources={"braze_cdi": resource}, instance=instance
    )
    second = tick(sensor, first.cursor, store=True)
    users = specs[0].metadata["braze_cdi/integration_id"]
    fake.start_job(users, duration=0.0, rows_synced=55)
    third = tick(sensor, second.cursor, store=True)

    assert synced.success
    assert sorted(first.jobs) == ["braze/purchases", "braze/users"]
    assert (second.jobs, second.status_calls) == ({}, 0)  # the list showed Dagster's job
    assert [job["rows_synced"] for job in third.jobs["braze/users"]] == [55]
    assert [job.triggered for job in fake.integrations[users].jobs] == [False, True, False]


def test_the_first_tick_does_not_report_the_job_of_dagster_s_latest_materialization(
    fake: FakeBraze, instance: dg.DagsterInstance, resource: BrazeCDIResource, tick: TickFn
) -> None:
    for name in ("users", "purchases"):
        fake.add_integration(name=name, history=1, duration=0.0)
    workspace = sync_assets_from_specs(load_braze_cdi_asset_specs(resource))
    sensor = build_braze_cdi_workspace_sensor([workspace])
    synced = dg.materialize(
        [workspace], selection=["braze/users"], resources={"braze_cdi": resource}, instance=instance
    )

    first = tick(sensor, store=True)

    assert synced.success
    assert list(first.jobs) == ["braze/purchases"]
    assert first.status_calls == 1


def test_an_asset_waits_while_a_dagster_run_that_materializes_it_is_in_progress(
    fake: FakeBraze, instance: dg.DagsterInstance, resource: BrazeCDIResource, tick: TickFn
) -> None:
    users = fake.add_integration(name="users", history=1)
    specs = load_braze_cdi_asset_specs(resource)
    workspace = sync_assets_from_specs(specs)
    sensor = build_braze_cdi_workspace_sensor([workspace])
    first = tick(sensor, store=True)
    defs = dg.Definitions(assets=[workspace], resources={"braze_cdi": resource})
    # A run that will materialize the asset has been created, and has not finished yet.
    run = instance.create_run_for_job(defs.resolve_implicit_global_asset_job_def())
    fake.start_job(users.integration_id, duration=0.0)

    waiting = tick(sensor, first.cursor, store=True)
    instance.report_run_canceled(run)
    after = tick(sensor, waiting.cursor, store=True)

    assert (waiting.jobs, waiting.status_calls) == ({}, 0)
    assert len(after.jobs["braze/users"]) == 1


def test_a_tick_reads_at_most_50_job_lists_and_the_others_on_the_next_tick(
    fake: FakeBraze, resource: BrazeCDIResource, tick: TickFn
) -> None:
    for position in range(60):
        fake.add_integration(name=f"table {position}", history=1)
    sensor = build_braze_cdi_workspace_sensor(load_braze_cdi_asset_specs(resource))

    first = tick(sensor)
    second = tick(sensor, first.cursor)

    assert (first.list_calls, first.status_calls, len(first.jobs)) == (6, 50, 50)
    assert (second.list_calls, second.status_calls, len(second.jobs)) == (6, 10, 10)
    assert set(first.jobs).isdisjoint(second.jobs)


def test_integrations_never_read_go_first_then_those_reported_longest_ago(
    fake: FakeBraze,
    specs: list[dg.AssetSpec],
    sensor: dg.SensorDefinition,
    tick: TickFn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module, "_JOB_READS_PER_TICK", 20)
    first = tick(sensor)
    [read_first, *_] = first.jobs
    [integration_id] = [
        spec.metadata["braze_cdi/integration_id"]
        for spec in specs
        if spec.key.to_user_string() == read_first
    ]
    fake.start_job(integration_id, duration=0.0)

    second = tick(sensor, first.cursor)
    third = tick(sensor, second.cursor)
    fourth = tick(sensor, third.cursor)

    assert [tick.status_calls for tick in (first, second, third, fourth)] == [20, 20, 3, 0]
    assert read_first not in second.jobs  # the 22 never read come first
    assert len(third.jobs[read_first]) == 1
    everything = [name for done in (first, second, third) for name in done.jobs]
    assert sorted(everything) == sorted(
        [*(spec.key.to_user_string() for spec in specs), read_first]
    )


def test_an_integration_whose_job_list_fails_is_read_again_on_the_next_tick(
    fake: FakeBraze,
    workspace: list[str],
    specs: list[dg.AssetSpec],
    sensor: dg.SensorDefinition,
    tick: TickFn,
) -> None:
    fake.inject("status", integration_id=workspace[5], status=404, body={"message": "Not found"})

    first = tick(sensor)
    second = tick(sensor, first.cursor)

    assert key_of(specs, workspace[5]) not in first.jobs
    assert len(first.jobs) == 41  # the others were read
    assert list(second.jobs) == [key_of(specs, workspace[5])]


def test_braze_in_trouble_stops_the_tick_s_reads_and_keeps_what_was_read(
    fake: FakeBraze,
    three: list[str],
    three_sensor: dg.SensorDefinition,
    tick: TickFn,
    resource: BrazeCDIResource,
) -> None:
    first = tick(three_sensor)  # each read once: from now on, read in this order
    for integration_id in three:
        fake.start_job(integration_id, duration=0.0)
    fake.inject("status", integration_id=three[1], status=503, times=100)  # every attempt fails

    troubled = tick(three_sensor, first.cursor)
    fake.faults.clear()
    recovered = tick(three_sensor, troubled.cursor)

    assert list(troubled.jobs) == ["braze/users"]
    assert troubled.status_calls == 1 + resource.retry_max_attempts  # then no more reads
    assert sorted(recovered.jobs) == ["braze/events", "braze/purchases"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not json",
        "[]",
        '"2026-01-01T00:00:00+00:00"',  # the single-integration sensor's cursor
        '{"reported": 5, "running": [], "schedule_ran": "yes"}',
        '{"reported": {"ID": "yesterday"}, "running": {"ID": 3}, "schedule_ran": {"ID": "no"}}',
    ],
)
def test_a_cursor_that_cannot_be_read_counts_as_none(
    three: list[str], three_sensor: dg.SensorDefinition, tick: TickFn, cursor: str
) -> None:
    fresh = tick(three_sensor, cursor.replace("ID", three[0]))

    assert sorted(fresh.jobs) == ["braze/events", "braze/purchases", "braze/users"]
    assert fresh.passed() == {"braze/users": True, "braze/purchases": True, "braze/events": True}


# --- whether the schedule ran ---------------------------------------------------------------


def test_a_schedule_that_did_not_run_fails_the_check_until_a_job_runs(
    fake: FakeBraze, instance: dg.DagsterInstance, resource: BrazeCDIResource, tick: TickFn
) -> None:
    fake.add_integration(name="users", history=1)
    # Its last job started an hour ago; the run due 45 minutes ago has not started.
    stuck = fake.add_integration(name="events", history=1, next_scheduled_run=late_by(fake, 0.75))
    sensor = build_braze_cdi_workspace_sensor(load_braze_cdi_asset_specs(resource))

    first = tick(sensor, store=True)
    flagged = instance.get_latest_asset_check_evaluation_record(
        dg.AssetCheckKey(dg.AssetKey(["braze", "events"]), SCHEDULE_RAN)
    )
    second = tick(sensor, first.cursor, store=True)
    fake.start_job(stuck.integration_id, duration=0.0)
    third = tick(sensor, second.cursor, store=True)

    assert first.passed() == {"braze/users": True, "braze/events": False}
    late = {key: value.value for key, value in first.verdicts["braze/events"].metadata.items()}
    assert late["integration_id"] == stuck.integration_id
    assert started({"sync_start_time": late["next_scheduled_run"]}) == pytest.approx(
        stuck.next_scheduled_run, abs=0.001
    )
    assert started({"sync_start_time": late["last_job_start_time"]}) == pytest.approx(
        stuck.jobs[0].start, abs=0.001
    )
    assert isinstance(late["late_seconds"], float) and late["late_seconds"] > 0.75 * HOUR
    assert late["schedule_grace_seconds"] == 1800.0
    assert "has not started" in str(first.verdicts["braze/events"].description)
    # Dagster keeps a sensor's evaluation as the check's latest.
    assert flagged is not None and flagged.status.value == "FAILED"
    assert second.verdicts == {}  # only a change is reported
    assert third.passed() == {"braze/events": True}
    assert len(third.jobs["braze/events"]) == 1


def test_a_run_late_within_the_grace_or_of_a_paused_integration_passes(
    fake: FakeBraze, resource: BrazeCDIResource, tick: TickFn
) -> None:
    fake.add_integration(name="slightly_late", history=1, next_scheduled_run=late_by(fake, 0.25))
    fake.add_integration(
        name="paused", integration_status="paused", next_scheduled_run=late_by(fake, 30)
    )
    fake.add_integration(name="never_ran", next_scheduled_run=late_by(fake, 1))
    specs = load_braze_cdi_asset_specs(resource, selector=BrazeCDISelector(active_only=False))
    sensor = build_braze_cdi_workspace_sensor(specs, schedule_grace=timedelta(minutes=30))

    verdicts = tick(sensor).passed()

    assert verdicts == {"braze/slightly_late": True, "braze/paused": True, "braze/never_ran": False}


def test_an_integration_braze_no_longer_lists_fails_the_check(
    fake: FakeBraze, three: list[str], three_sensor: dg.SensorDefinition, tick: TickFn
) -> None:
    del fake.integrations[three[2]]

    gone = tick(three_sensor).verdicts["braze/events"]

    assert not gone.passed
    assert "does not list" in str(gone.description)


def test_the_api_key_is_never_in_what_the_sensor_reports_or_logs(
    fake: FakeBraze,
    three: list[str],
    three_sensor: dg.SensorDefinition,
    tick: TickFn,
    capfd: pytest.CaptureFixture[str],
) -> None:
    fake.integrations[three[0]].next_scheduled_run = late_by(fake, 0.75)
    fake.inject("status", integration_id=three[1], status=403, body={"message": "Access Denied"})

    done = tick(three_sensor)
    out, err = capfd.readouterr()

    assert "Could not read the jobs" in err and "has not started" in err  # it did log
    reported = dg.serialize_value(list(done.result.asset_events))
    for text in (reported, str(done.cursor), str(done.result.skip_reason), out, err):
        assert fake.api_key not in text


# --- the schedule checks, and the definitions -------------------------------------------------


def test_the_schedule_checks_evaluate_the_selected_assets_from_one_list_read(
    fake: FakeBraze, workspace: list[str], specs: list[dg.AssetSpec], resource: BrazeCDIResource
) -> None:
    fake.integrations[workspace[1]].next_scheduled_run = late_by(fake, 0.75)
    checks = build_braze_cdi_schedule_checks(specs)
    wanted = [
        dg.AssetCheckKey(dg.AssetKey.from_user_string(key_of(specs, id_)), SCHEDULE_RAN)
        for id_ in workspace[:3]
    ]
    lists = fake.count("list")

    result = dg.materialize(
        [*specs, checks],
        selection=dg.AssetSelection.checks(*wanted),
        resources={"braze_cdi": resource},
    )

    evaluations = {
        check.asset_key.to_user_string(): check.passed
        for check in result.get_asset_check_evaluations()
    }
    assert evaluations == {
        key_of(specs, workspace[0]): True,
        key_of(specs, workspace[1]): False,
        key_of(specs, workspace[2]): True,
    }
    assert fake.count("list") - lists == 5
    assert fake.count("status") == 0


def test_definitions_with_the_sensor_and_the_checks_declare_the_check_on_every_asset(
    specs: list[dg.AssetSpec], resource: BrazeCDIResource
) -> None:
    workspace = sync_assets_from_specs(specs)
    defs = dg.Definitions(
        assets=[workspace],
        asset_checks=[build_braze_cdi_schedule_checks([workspace])],
        sensors=[build_braze_cdi_workspace_sensor([workspace])],
        resources={"braze_cdi": resource},
    )

    declared = defs.resolve_asset_graph().asset_check_keys
    assert {dg.AssetCheckKey(spec.key, SCHEDULE_RAN) for spec in specs} <= declared
    assert defs.resolve_sensor_def("braze_cdi_workspace_sensor").minimum_interval_seconds == 300


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"assets": []}, "holds no asset"),
        ({"assets": [dg.AssetSpec("orders")]}, "does not say which Braze integration"),
        ({"assets": dg.AssetSpec("orders")}, "is a list of"),
        ({"assets": ["braze/users"]}, "holds AssetSpec"),
        ({"minimum_interval_seconds": 0}, "minimum_interval_seconds"),
        ({"schedule_grace": timedelta(0)}, "schedule_grace"),
        ({"schedule_grace": 30}, "schedule_grace"),
        ({"name": "braze cdi"}, "name"),
        ({"resource_key": ""}, "resource_key"),
    ],
)
def test_a_bad_argument_is_refused_when_the_sensor_is_built(
    arguments: dict[str, object], message: str
) -> None:
    spec = dg.AssetSpec(
        "users", metadata={"braze_cdi/integration_id": "00000000-0000-0000-0000-000000000001"}
    )
    settings: dict[str, object] = {"assets": [spec], **arguments}

    with pytest.raises(BrazeConfigError, match=message):
        build_braze_cdi_workspace_sensor(**settings)  # type: ignore[arg-type]


def test_two_assets_that_sync_the_same_integration_are_refused() -> None:
    metadata = {"braze_cdi/integration_id": "00000000-0000-0000-0000-000000000001"}

    with pytest.raises(BrazeConfigError, match="both sync Braze integration"):
        build_braze_cdi_schedule_checks(
            [dg.AssetSpec("users", metadata=metadata), dg.AssetSpec("users_2", metadata=metadata)]
        )
