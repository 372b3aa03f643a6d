"""The sensor that records syncs Braze's own schedule ran, ticking against FakeBraze."""

from datetime import datetime

import dagster as dg
import pytest

from braze_cdi.testing import FakeBraze, FakeIntegration
from dagster_braze_cdi import (
    BrazeCDIResource,
    build_braze_cdi_sync_asset,
    build_braze_cdi_sync_sensor,
)

USERS = dg.AssetKey(["braze", "users"])


@pytest.fixture
def integration(fake: FakeBraze) -> FakeIntegration:
    return fake.add_integration(duration=0.2)


@pytest.fixture
def sensor(integration: FakeIntegration) -> dg.SensorDefinition:
    return build_braze_cdi_sync_sensor(integration_id=integration.integration_id, asset_key=USERS)


def tick(
    sensor: dg.SensorDefinition,
    instance: dg.DagsterInstance,
    resource: BrazeCDIResource,
    cursor: str | None,
) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"braze_cdi": resource}
    )
    result = sensor(context)
    assert isinstance(result, dg.SensorResult | dg.SkipReason)
    return result


def reported(result: dg.SensorResult | dg.SkipReason) -> list[dict[str, object]]:
    """The metadata of each materialization the tick reported."""
    if isinstance(result, dg.SkipReason):
        return []
    events = result.asset_events
    assert all(isinstance(event, dg.AssetMaterialization) for event in events)
    assert all(event.asset_key == USERS for event in events)
    return [{key: value.value for key, value in event.metadata.items()} for event in events]


def test_an_external_job_is_reported_once_across_two_ticks(
    fake: FakeBraze,
    integration: FakeIntegration,
    sensor: dg.SensorDefinition,
    instance: dg.DagsterInstance,
    resource: BrazeCDIResource,
) -> None:
    fake.start_job(integration.integration_id, duration=0.0, rows_synced=321)

    first = tick(sensor, instance, resource, cursor=None)
    second = tick(sensor, instance, resource, cursor=first.cursor)

    [job] = reported(first)
    assert job["job_status"] == "success"
    assert job["rows_synced"] == 321
    assert job["triggered"] is False
    assert job["integration_id"] == integration.integration_id
    assert datetime.fromisoformat(first.cursor).timestamp() == job["sync_start_time"]
    assert reported(second) == []
    assert isinstance(second, dg.SkipReason)


def test_a_later_job_is_reported_after_the_cursor(
    fake: FakeBraze,
    integration: FakeIntegration,
    sensor: dg.SensorDefinition,
    instance: dg.DagsterInstance,
    resource: BrazeCDIResource,
) -> None:
    fake.start_job(integration.integration_id, duration=0.0)
    first = tick(sensor, instance, resource, cursor=None)
    fake.start_job(integration.integration_id, duration=0.0, outcome="partial", rows_failed=4)
    fake.start_job(integration.integration_id, duration=3600.0)  # running: not reported yet

    second = tick(sensor, instance, resource, cursor=first.cursor)

    assert [job["job_status"] for job in reported(second)] == ["partial"]
    assert reported(second)[0]["rows_failed_with_errors"] == 4


def test_the_first_tick_does_not_replay_history(
    fake: FakeBraze, instance: dg.DagsterInstance, resource: BrazeCDIResource
) -> None:
    integration = fake.add_integration(history=5)
    sensor = build_braze_cdi_sync_sensor(integration_id=integration.integration_id, asset_key=USERS)

    first = tick(sensor, instance, resource, cursor=None)

    [job] = reported(first)
    newest = max(fake_job.start for fake_job in integration.jobs)
    assert job["sync_start_time"] == pytest.approx(newest, abs=0.001)


def test_jobs_dagster_materialized_are_not_reported(
    fake: FakeBraze,
    integration: FakeIntegration,
    sensor: dg.SensorDefinition,
    instance: dg.DagsterInstance,
    resource: BrazeCDIResource,
) -> None:
    fake.start_job(integration.integration_id, duration=0.0)
    first = tick(sensor, instance, resource, cursor=None)
    sync = build_braze_cdi_sync_asset(integration_id=integration.integration_id, key=USERS)
    assert dg.materialize([sync], resources={"braze_cdi": resource}, instance=instance).success

    second = tick(sensor, instance, resource, cursor=first.cursor)

    assert len(reported(first)) == 1
    assert reported(second) == []
    assert integration.triggered_jobs == 1


def test_the_sensor_waits_while_a_dagster_run_of_the_asset_is_in_progress(
    fake: FakeBraze,
    integration: FakeIntegration,
    sensor: dg.SensorDefinition,
    instance: dg.DagsterInstance,
    resource: BrazeCDIResource,
) -> None:
    sync = build_braze_cdi_sync_asset(integration_id=integration.integration_id, key=USERS)
    defs = dg.Definitions(assets=[sync], resources={"braze_cdi": resource})
    # A run that will materialize the asset has been created but not finished yet.
    run = instance.create_run_for_job(defs.resolve_implicit_global_asset_job_def())
    fake.start_job(integration.integration_id, duration=0.0)

    waiting = tick(sensor, instance, resource, cursor=None)
    instance.report_run_canceled(run)
    after = tick(sensor, instance, resource, cursor=None)

    assert isinstance(waiting, dg.SkipReason)
    assert "in progress" in str(waiting.skip_message)
    assert len(reported(after)) == 1
