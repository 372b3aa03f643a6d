"""The sync asset, materialized by real Dagster execution against FakeBraze over loopback."""

from collections.abc import Callable

import dagster as dg
import pytest

from braze_cdi import BrazeConfigError
from braze_cdi.testing import FakeBraze
from dagster_braze_cdi import BrazeCDIResource, build_braze_cdi_sync_asset
from tests.conftest import RunningJob

JOB_SECONDS = 0.1
RECORD_KEYS = {
    "integration_id",
    "job_status",
    "rows_synced",
    "rows_failed_with_errors",
    "sync_start_time",
    "sync_finish_time",
    "last_timestamp_synced",
    "duration_seconds",
    "triggered",
    "waited_seconds",
}


def materialize(
    assets: list[dg.AssetsDefinition], resource: BrazeCDIResource
) -> tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]:
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        assets, resources={"braze_cdi": resource}, instance=instance, raise_on_error=False
    )
    return result, instance


def with_downstream(
    fake: FakeBraze, job: dict[str, object] | None = None, **options: object
) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition]:
    """A sync asset of a new fake integration (``job``: how its jobs go) and an asset downstream."""
    integration = fake.add_integration(**{"duration": JOB_SECONDS, **(job or {})})
    sync = build_braze_cdi_sync_asset(  # type: ignore[misc]
        integration_id=integration.integration_id, key=["braze", "users"], **options
    )

    @dg.asset(deps=[sync])
    def campaign_audience() -> None:
        """Stands for whatever uses the synced users."""

    return sync, campaign_audience


def checks_of(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {check.check_name: check for check in result.get_asset_check_evaluations()}


def metadata_of(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    [materialization] = [
        event.materialization
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey(["braze", "users"])
    ]
    return {key: value.value for key, value in materialization.metadata.items()}


def test_materialization_triggers_waits_and_records_the_job(
    fake: FakeBraze, resource: BrazeCDIResource
) -> None:
    sync, downstream = with_downstream(fake)

    result, _ = materialize([sync, downstream], resource)

    assert result.success
    metadata = metadata_of(result)
    assert set(metadata) >= RECORD_KEYS
    [integration] = fake.integrations.values()
    assert metadata["integration_id"] == integration.integration_id
    assert metadata["job_status"] == "success"
    assert metadata["rows_synced"] == 1000
    assert metadata["rows_failed_with_errors"] == 0
    assert metadata["triggered"] is True
    assert metadata["duration_seconds"] == pytest.approx(JOB_SECONDS)
    assert metadata["sync_finish_time"] > metadata["sync_start_time"]
    assert integration.triggered_jobs == 1
    checks = checks_of(result)
    assert checks["braze_cdi_sync_succeeded"].passed
    assert checks["braze_cdi_failed_rows"].passed
    assert result.is_node_success("campaign_audience")


def test_the_asset_is_of_kind_braze_in_the_braze_cdi_pool(fake: FakeBraze) -> None:
    sync, _ = with_downstream(fake, group_name="braze", description="Users to Braze.")

    [spec] = sync.specs
    assert spec.kinds == {"braze"}
    assert spec.group_name == "braze"
    assert spec.description == "Users to Braze."
    assert sync.op.pool == "braze_cdi"


def test_core_log_lines_reach_the_run_log_once_per_state_change(
    fake: FakeBraze,
    resource: BrazeCDIResource,
    log_messages: Callable[[dg.DagsterInstance, str], list[str]],
) -> None:
    sync, _ = with_downstream(fake)

    result, instance = materialize([sync], resource)

    messages = log_messages(instance, result.run_id)
    assert sum(message.startswith("Triggered a sync of integration") for message in messages) == 1
    assert sum(message.endswith("is running.") for message in messages) == 1
    assert sum("ended success: 1,000 rows synced, 0 failed" in m for m in messages) == 1


def test_an_attached_job_is_recorded_as_not_triggered(
    fake: FakeBraze, make_resource: Callable[..., BrazeCDIResource], running_job: RunningJob
) -> None:
    sync, _ = with_downstream(fake)
    [integration] = fake.integrations.values()
    running_job(integration.integration_id)

    result, _ = materialize([sync], make_resource(if_running="attach"))

    assert result.success
    assert metadata_of(result)["triggered"] is False
    assert integration.triggered_jobs == 0


def test_partial_fails_the_failed_rows_check_and_downstream_still_runs(
    fake: FakeBraze, resource: BrazeCDIResource
) -> None:
    sync, downstream = with_downstream(fake, job={"outcome": "partial", "rows_failed": 7})

    result, _ = materialize([sync, downstream], resource)

    assert result.success
    checks = checks_of(result)
    assert checks["braze_cdi_sync_succeeded"].passed
    failed_rows = checks["braze_cdi_failed_rows"]
    assert not failed_rows.passed
    assert failed_rows.metadata["rows_failed_with_errors"].value == 7
    assert failed_rows.metadata["max_failed_rows"].value == 0
    assert result.is_node_success("campaign_audience")


def test_partial_with_blocking_checks_stops_downstream(
    fake: FakeBraze, resource: BrazeCDIResource
) -> None:
    sync, downstream = with_downstream(
        fake, job={"outcome": "partial", "rows_failed": 7}, blocking_checks=True
    )

    result, _ = materialize([sync, downstream], resource)

    assert not result.success
    assert not checks_of(result)["braze_cdi_failed_rows"].passed
    assert metadata_of(result)["job_status"] == "partial"
    started = [event.step_key for event in result.all_events if event.is_step_start]
    assert started == ["braze_cdi_sync__braze__users"]


def test_failed_rows_within_the_bound_pass(fake: FakeBraze, resource: BrazeCDIResource) -> None:
    sync, downstream = with_downstream(
        fake, job={"outcome": "partial", "rows_failed": 7}, max_failed_rows=10, blocking_checks=True
    )

    result, _ = materialize([sync, downstream], resource)

    assert result.success
    assert checks_of(result)["braze_cdi_failed_rows"].passed


def test_error_fails_the_run_with_braze_status(fake: FakeBraze, resource: BrazeCDIResource) -> None:
    sync, downstream = with_downstream(fake, job={"outcome": "error", "rows_failed": 0})

    result, _ = materialize([sync, downstream], resource)

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    data = failure.step_failure_data
    assert "ended error" in data.error.message
    assert data.user_failure_data.metadata["job_status"].value == "error"
    assert data.user_failure_data.metadata["error"].value == "SyncFailed"
    assert data.user_failure_data.metadata["retryable"].value is False
    assert not checks_of(result)["braze_cdi_sync_succeeded"].passed
    assert result.get_asset_materialization_events() == []
    assert not any(event.is_step_success for event in result.all_events)


def test_fail_on_partial_fails_the_run(fake: FakeBraze, resource: BrazeCDIResource) -> None:
    sync, _ = with_downstream(fake, job={"outcome": "partial"}, fail_on_partial=True)

    result, _ = materialize([sync], resource)

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert "ended partial" in failure.step_failure_data.error.message
    assert not checks_of(result)["braze_cdi_sync_succeeded"].passed


def test_a_wait_that_runs_out_fails_with_a_handle_to_resume(
    fake: FakeBraze, make_resource: Callable[..., BrazeCDIResource]
) -> None:
    sync, _ = with_downstream(fake, job={"duration": 30.0})

    result, _ = materialize([sync], make_resource(max_wait=0.3))

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    metadata = failure.step_failure_data.user_failure_data.metadata
    assert metadata["error"].value == "SyncTimeout"
    assert metadata["job_status"].value == "running"
    assert '"triggered":true' in metadata["handle"].value


def test_no_event_log_holds_the_api_key(
    fake: FakeBraze,
    make_resource: Callable[..., BrazeCDIResource],
    event_log_text: Callable[[dg.DagsterInstance, str], str],
) -> None:
    succeeded, _ = with_downstream(fake)
    failed = build_braze_cdi_sync_asset(
        integration_id=fake.add_integration(duration=JOB_SECONDS, outcome="error").integration_id,
        key="failing",
    )
    unauthorized = build_braze_cdi_sync_asset(
        integration_id=fake.add_integration().integration_id, key="unauthorized"
    )
    resource = make_resource()
    wrong_key = make_resource(api_key=f"{fake.api_key}-wrong")

    runs = [
        materialize([succeeded], resource),
        materialize([failed], resource),
        materialize([unauthorized], wrong_key),
    ]

    assert [result.success for result, _ in runs] == [True, False, False]
    for result, instance in runs:
        text = event_log_text(instance, result.run_id)
        assert fake.api_key not in text
        assert "Bearer" not in text


def test_an_env_var_key_is_read_at_run_time(
    fake: FakeBraze, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRAZE_API_KEY", fake.api_key)
    sync, _ = with_downstream(fake)
    resource = BrazeCDIResource(
        api_key=dg.EnvVar("BRAZE_API_KEY"), rest_endpoint=url, poll_interval=0.05
    )

    result, _ = materialize([sync], resource)

    assert result.success


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"integration_id": "a/b"}, "contains '/'"),
        ({"integration_id": ""}, "it is empty"),
        ({"max_failed_rows": -1}, "max_failed_rows must be a non-negative integer"),
    ],
)
def test_bad_settings_are_refused_when_the_asset_is_defined(
    options: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {"integration_id": "users", "key": "users", **options}

    with pytest.raises(BrazeConfigError, match=message):
        build_braze_cdi_sync_asset(**arguments)  # type: ignore[arg-type]


def run_with_retries(
    sync: dg.AssetsDefinition, resource: BrazeCDIResource
) -> dg.ExecuteInProcessResult:
    """Run the asset in a job whose retry policy allows one retry."""
    job = dg.define_asset_job(
        "sync_with_retries", selection=[sync], op_retry_policy=dg.RetryPolicy(max_retries=1)
    )
    defs = dg.Definitions(assets=[sync], jobs=[job], resources={"braze_cdi": resource})
    return defs.resolve_job_def("sync_with_retries").execute_in_process(raise_on_error=False)


def test_dagster_retries_a_transient_failure(
    fake: FakeBraze, make_resource: Callable[..., BrazeCDIResource]
) -> None:
    sync, _ = with_downstream(fake)
    fake.inject("status", status=503)  # one failed read of the job list, not retried by the core

    result = run_with_retries(sync, make_resource(retry_max_attempts=1))

    assert result.success
    assert [event.event_type_value for event in result.all_events if event.is_step_up_for_retry]
    assert metadata_of(result)["job_status"] == "success"


def test_dagster_does_not_retry_a_failed_sync(fake: FakeBraze, resource: BrazeCDIResource) -> None:
    sync, _ = with_downstream(fake, job={"outcome": "error"})

    result = run_with_retries(sync, resource)

    assert not result.success
    assert not any(event.is_step_up_for_retry for event in result.all_events)
    [integration] = fake.integrations.values()
    assert integration.triggered_jobs == 1
