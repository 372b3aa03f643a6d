"""The checks on Braze's job history, run as a scheduled checks job would run them."""

from datetime import timedelta

import dagster as dg
import pytest

from braze_cdi import BrazeConfigError
from braze_cdi.testing import FakeBraze, FakeIntegration
from dagster_braze_cdi import BrazeCDIResource, build_braze_cdi_job_checks

USERS = dg.AssetKey(["braze", "users"])


def run_checks(
    integration: FakeIntegration, resource: BrazeCDIResource, **options: object
) -> dict[str, dg.AssetCheckEvaluation]:
    """Run the checks through the job a schedule targeting them runs; their evaluations."""
    checks = build_braze_cdi_job_checks(
        integration_id=integration.integration_id, asset_key=USERS, **options
    )
    schedule = dg.ScheduleDefinition(
        name="braze_cdi_health", cron_schedule="0 * * * *", target=dg.AssetSelection.checks(checks)
    )
    defs = dg.Definitions(
        # The integration runs only on Braze's schedule: the asset is declared, never synced.
        assets=[dg.AssetSpec(USERS, kinds={"braze"})],
        asset_checks=[checks],
        schedules=[schedule],
        resources={"braze_cdi": resource},
    )
    job = defs.resolve_job_def(schedule.job_name)
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    return {check.check_name: check for check in result.get_asset_check_evaluations()}


def test_a_recent_successful_history_passes(fake: FakeBraze, resource: BrazeCDIResource) -> None:
    integration = fake.add_integration(history=3)  # hourly jobs, the last an hour ago

    checks = run_checks(integration, resource, max_age=timedelta(hours=2))

    assert {name: check.passed for name, check in checks.items()} == {
        "braze_cdi_job_status": True,
        "braze_cdi_job_freshness": True,
        "braze_cdi_job_failed_rows": True,
    }
    freshness = checks["braze_cdi_job_freshness"]
    assert freshness.metadata["max_age_seconds"].value == 7200
    assert 3500 < freshness.metadata["age_seconds"].value < 3700
    assert fake.count("status") == 1


def test_an_errored_latest_job_fails_the_status_check(
    fake: FakeBraze, resource: BrazeCDIResource
) -> None:
    integration = fake.add_integration(history=3)
    fake.start_job(integration.integration_id, duration=0.0, outcome="error")

    checks = run_checks(integration, resource)

    status = checks["braze_cdi_job_status"]
    assert not status.passed
    assert status.metadata["job_status"].value == "error"
    assert "ended error" in status.description
    # The last success, an hour ago, is within a day.
    assert checks["braze_cdi_job_freshness"].passed


def test_a_config_error_fails_the_status_check(fake: FakeBraze, resource: BrazeCDIResource) -> None:
    integration = fake.add_integration(history=1)
    fake.start_job(integration.integration_id, duration=0.0, outcome="config_error")

    checks = run_checks(integration, resource)

    assert not checks["braze_cdi_job_status"].passed


def test_a_running_job_is_not_judged(fake: FakeBraze, resource: BrazeCDIResource) -> None:
    integration = fake.add_integration(history=2)
    fake.start_job(integration.integration_id, duration=3600.0)

    checks = run_checks(integration, resource)

    assert checks["braze_cdi_job_status"].passed
    assert checks["braze_cdi_job_status"].metadata["job_status"].value == "success"


def test_an_old_last_success_fails_the_freshness_check(
    fake: FakeBraze, resource: BrazeCDIResource
) -> None:
    integration = fake.add_integration(history=3)

    checks = run_checks(integration, resource, max_age=timedelta(minutes=30))

    freshness = checks["braze_cdi_job_freshness"]
    assert not freshness.passed
    assert freshness.metadata["age_seconds"].value > freshness.metadata["max_age_seconds"].value
    assert checks["braze_cdi_job_status"].passed


def test_failed_rows_over_the_bound_fail(fake: FakeBraze, resource: BrazeCDIResource) -> None:
    integration = fake.add_integration(history=1)
    fake.start_job(integration.integration_id, duration=0.0, outcome="partial", rows_failed=12)

    over = run_checks(integration, resource, max_failed_rows=10)
    within = run_checks(integration, resource, max_failed_rows=12)

    assert not over["braze_cdi_job_failed_rows"].passed
    assert over["braze_cdi_job_failed_rows"].metadata["rows_failed_with_errors"].value == 12
    assert within["braze_cdi_job_failed_rows"].passed
    assert over["braze_cdi_job_status"].passed  # partial is judged by its failed rows


def test_an_integration_that_never_ran_is_neither_healthy_nor_fresh(
    fake: FakeBraze, resource: BrazeCDIResource
) -> None:
    integration = fake.add_integration()

    checks = run_checks(integration, resource)

    assert not checks["braze_cdi_job_status"].passed
    assert not checks["braze_cdi_job_freshness"].passed
    assert "no finished job" in checks["braze_cdi_job_status"].description


def test_a_failed_read_fails_the_checks_with_braze_status(
    fake: FakeBraze, make_resource: object
) -> None:
    integration = fake.add_integration(history=1)
    checks = build_braze_cdi_job_checks(integration_id=integration.integration_id, asset_key=USERS)
    wrong_key = make_resource(api_key="not-the-workspace-key")  # type: ignore[operator]

    result = dg.materialize(
        [dg.AssetSpec(USERS), checks],
        selection=dg.AssetSelection.checks(checks),
        resources={"braze_cdi": wrong_key},
        raise_on_error=False,
    )

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert failure.step_failure_data.user_failure_data.metadata["status_code"].value == 401


def test_a_non_positive_max_age_is_refused() -> None:
    with pytest.raises(BrazeConfigError, match="max_age must be a positive timedelta"):
        build_braze_cdi_job_checks(integration_id="users", asset_key="users", max_age=timedelta())
