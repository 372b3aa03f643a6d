"""The metadata the adapter writes is in Dagster's types: instants as timestamps, counts as ints,
durations as floats, the job status as text, and a link to the integration in Braze's dashboard
where the instance's dashboard is known."""

from datetime import datetime, timedelta, timezone
from typing import Any

import dagster as dg

from braze_cdi import SyncFailed, SyncJob, SyncResult
from braze_cdi.testing import FakeBraze
from dagster_braze_cdi import (
    BrazeCDIResource,
    build_braze_cdi_job_checks,
    build_braze_cdi_sync_asset,
    build_braze_cdi_sync_sensor,
)
from dagster_braze_cdi._metadata import dagster_metadata, failure_for, job_record

USERS = dg.AssetKey(["braze", "users"])
INTEGRATION_ID = "00000000-0000-0000-0000-000000000001"
STARTED = datetime(2026, 11, 29, 20, 7, 32, 876000, tzinfo=timezone.utc)
JOB = SyncJob(
    job_status="success",
    sync_start_time=STARTED,
    sync_finish_time=STARTED + timedelta(seconds=90),
    last_timestamp_synced=STARTED - timedelta(hours=1),
    rows_synced=1000,
    rows_failed_with_errors=0,
)
DASHBOARD_URL = f"https://dashboard-03.braze.com/integrations/cloud_data_ingestion/{INTEGRATION_ID}"

Metadata = dict[str, dg.MetadataValue[Any]]


def assert_job_types(metadata: Metadata) -> None:
    """The keys of ``SyncJob.record()`` hold Dagster's types, under their usual names."""
    for key in ("sync_start_time", "sync_finish_time", "last_timestamp_synced"):
        assert isinstance(metadata[key], dg.TimestampMetadataValue), key
    assert isinstance(metadata["rows_synced"], dg.IntMetadataValue)
    assert isinstance(metadata["rows_failed_with_errors"], dg.IntMetadataValue)
    assert isinstance(metadata["duration_seconds"], dg.FloatMetadataValue)
    assert isinstance(metadata["job_status"], dg.TextMetadataValue)
    assert isinstance(metadata["integration_id"], dg.TextMetadataValue)


def test_a_time_is_a_timestamp_of_the_same_instant() -> None:
    metadata = dagster_metadata(job_record(INTEGRATION_ID, JOB))

    assert_job_types(metadata)
    assert metadata["sync_start_time"].value == STARTED.timestamp()
    assert metadata["duration_seconds"].value == 90.0
    assert metadata["rows_synced"].value == 1000
    assert metadata["job_status"].value == "success"


def test_a_known_instance_links_to_the_integration_in_the_dashboard() -> None:
    row = SyncResult(
        integration_id=INTEGRATION_ID, job=JOB, triggered=True, waited_seconds=91, status_calls=4
    ).record()

    metadata = dagster_metadata(row, rest_endpoint="US-03")

    assert metadata["dashboard_url"] == dg.MetadataValue.url(DASHBOARD_URL)
    assert isinstance(metadata["waited_seconds"], dg.FloatMetadataValue)
    assert isinstance(metadata["status_calls"], dg.IntMetadataValue)
    assert isinstance(metadata["triggered"], dg.BoolMetadataValue)


def test_a_failure_links_to_the_integration_in_the_dashboard() -> None:
    failed = JOB.model_copy(update={"job_status": "error"})
    error = SyncFailed("The sync ended error.", integration_id=INTEGRATION_ID, job=failed)

    metadata = failure_for(error, rest_endpoint="US-03").metadata

    assert metadata["dashboard_url"] == dg.MetadataValue.url(DASHBOARD_URL)
    assert_job_types(metadata)


def test_an_unknown_instance_has_no_dashboard_url(url: str) -> None:
    assert "dashboard_url" not in dagster_metadata(
        job_record(INTEGRATION_ID, JOB), rest_endpoint=url
    )
    assert "dashboard_url" not in dagster_metadata(job_record(INTEGRATION_ID, JOB))


def test_a_materialization_holds_dagster_types(fake: FakeBraze, resource: BrazeCDIResource) -> None:
    integration = fake.add_integration(duration=0.0)
    sync = build_braze_cdi_sync_asset(integration_id=integration.integration_id, key=USERS)

    result = dg.materialize([sync], resources={"braze_cdi": resource})

    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert_job_types(metadata)
    assert isinstance(metadata["waited_seconds"], dg.FloatMetadataValue)
    assert isinstance(metadata["status_calls"], dg.IntMetadataValue)
    assert "dashboard_url" not in metadata  # the fake serves on loopback


def test_a_failed_sync_holds_dagster_types(fake: FakeBraze, resource: BrazeCDIResource) -> None:
    integration = fake.add_integration(duration=0.0, outcome="error")
    sync = build_braze_cdi_sync_asset(integration_id=integration.integration_id, key=USERS)

    result = dg.materialize([sync], resources={"braze_cdi": resource}, raise_on_error=False)

    [failure] = [event for event in result.all_events if event.is_step_failure]
    metadata = failure.step_failure_data.user_failure_data.metadata
    assert_job_types(metadata)
    assert metadata["job_status"].value == "error"


def test_a_job_history_check_holds_dagster_types(
    fake: FakeBraze, resource: BrazeCDIResource
) -> None:
    fake.add_integration(INTEGRATION_ID, history=1)
    checks = build_braze_cdi_job_checks(integration_id=INTEGRATION_ID, asset_key=USERS)

    result = dg.materialize(
        [dg.AssetSpec(USERS), checks],
        selection=dg.AssetSelection.checks(checks),
        resources={"braze_cdi": resource},
    )

    evaluations = {check.check_name: check for check in result.get_asset_check_evaluations()}
    for evaluation in evaluations.values():
        assert_job_types(evaluation.metadata)
    freshness = evaluations["braze_cdi_job_freshness"].metadata
    assert isinstance(freshness["age_seconds"], dg.FloatMetadataValue)
    assert isinstance(freshness["max_age_seconds"], dg.FloatMetadataValue)
    failed_rows = evaluations["braze_cdi_job_failed_rows"].metadata
    assert isinstance(failed_rows["max_failed_rows"], dg.IntMetadataValue)


def test_a_sensor_reported_materialization_holds_dagster_types(
    fake: FakeBraze, resource: BrazeCDIResource, instance: dg.DagsterInstance
) -> None:
    fake.add_integration(INTEGRATION_ID, history=1)
    sensor = build_braze_cdi_sync_sensor(integration_id=INTEGRATION_ID, asset_key=USERS)

    tick = sensor(dg.build_sensor_context(instance, resources={"braze_cdi": resource}))

    assert isinstance(tick, dg.SensorResult)
    [event] = tick.asset_events
    assert isinstance(event, dg.AssetMaterialization)
    assert_job_types(event.metadata)
    assert event.metadata["triggered"] == dg.MetadataValue.bool(False)


def test_the_sensor_reads_the_start_an_older_version_wrote_as_text(
    fake: FakeBraze, resource: BrazeCDIResource, instance: dg.DagsterInstance
) -> None:
    integration = fake.add_integration(INTEGRATION_ID, history=1)
    [job] = integration.jobs
    # A materialization of an earlier version: the job's start as ISO 8601 text.
    started = datetime.fromtimestamp(job.start, tz=timezone.utc).isoformat(timespec="milliseconds")
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=USERS, metadata={"sync_start_time": started})
    )
    sensor = build_braze_cdi_sync_sensor(integration_id=INTEGRATION_ID, asset_key=USERS)

    tick = sensor(dg.build_sensor_context(instance, resources={"braze_cdi": resource}))

    assert isinstance(tick, dg.SkipReason)  # that job was materialized already
