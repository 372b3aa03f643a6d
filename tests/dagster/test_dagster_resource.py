"""The resource on its own: configuration in, working clients out, the key kept out of sight."""

import asyncio
import logging

import dagster as dg
import pytest
from pydantic import ValidationError

from braze_cdi import (
    AsyncBrazeCDIClient,
    BrazeCDIClient,
    BrazeConfigError,
    SyncFailed,
    SyncTimeout,
)
from braze_cdi.testing import FakeBraze
from dagster_braze_cdi import BrazeCDIResource


def test_sync_and_poll_works_outside_a_run(fake: FakeBraze, resource: BrazeCDIResource) -> None:
    integration = fake.add_integration(duration=0.1)

    result = resource.sync_and_poll(integration.integration_id)

    assert str(result.job_status) == "success"
    assert result.triggered
    assert integration.triggered_jobs == 1


def test_sync_and_poll_forwards_core_log_lines_to_the_given_log(
    fake: FakeBraze, resource: BrazeCDIResource
) -> None:
    integration = fake.add_integration(duration=0.1)
    lines: list[tuple[int, str]] = []

    class RunLog:
        def log(self, level: int, msg: str) -> None:
            lines.append((level, msg))

    resource.sync_and_poll(integration.integration_id, log=RunLog())

    assert lines[0] == (
        logging.INFO,
        f"Triggered a sync of integration {integration.integration_id}.",
    )
    assert all(level == logging.INFO for level, _ in lines)


def test_a_log_that_raises_never_breaks_the_sync(
    fake: FakeBraze, resource: BrazeCDIResource, caplog: pytest.LogCaptureFixture
) -> None:
    integration = fake.add_integration(duration=0.1, rows_synced=1200)

    class FullDisk:
        def log(self, level: int, msg: str) -> None:
            raise OSError(28, "No space left on device")

    @dg.asset(required_resource_keys={"braze_cdi"})
    def braze_users(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        result = context.resources.braze_cdi.sync_and_poll(
            integration.integration_id, log=FullDisk()
        )
        return dg.MaterializeResult(metadata=result.record())

    caplog.set_level(logging.WARNING, logger="braze_cdi")
    result = dg.materialize([braze_users], resources={"braze_cdi": resource})

    assert result.success
    [materialization] = result.asset_materializations_for_node("braze_users")
    assert materialization.metadata["rows_synced"].value == 1200
    assert integration.triggered_jobs == 1
    [warning] = [r for r in caplog.records if "on_event subscriber raised" in r.getMessage()]
    assert "OSError" in warning.getMessage()


def test_arguments_override_the_resource_settings(
    fake: FakeBraze, resource: BrazeCDIResource
) -> None:
    integration = fake.add_integration(outcome="partial", duration=0.0)

    partial = resource.sync_and_poll(integration.integration_id)
    with pytest.raises(SyncFailed, match="ended partial"):
        resource.sync_and_poll(integration.integration_id, fail_on_partial=True)

    assert str(partial.job_status) == "partial"


def test_the_clients_are_configured_from_the_resource(
    fake: FakeBraze, make_resource: object
) -> None:
    integration = fake.add_integration(history=2)
    resource = make_resource(request_timeout=5.0, retry_max_attempts=2)  # type: ignore[operator]

    with resource.get_client() as client:
        assert isinstance(client, BrazeCDIClient)
        assert (client.request_timeout, client.retry.max_attempts) == (5.0, 2)
        jobs = list(client.list_sync_jobs(integration.integration_id))

    async def list_integrations() -> list[str]:
        async with resource.get_async_client() as client:
            assert isinstance(client, AsyncBrazeCDIClient)
            return [item.integration_id async for item in client.list_integrations()]

    assert len(jobs) == 2
    assert asyncio.run(list_integrations()) == [integration.integration_id]


def test_a_bad_endpoint_is_refused_before_any_request(fake: FakeBraze) -> None:
    resource = BrazeCDIResource(api_key=fake.api_key, rest_endpoint="US-09")

    with pytest.raises(BrazeConfigError, match="not a Braze instance"):
        resource.sync_and_poll("users")

    assert fake.requests == []


def test_the_key_is_not_in_the_repr(fake: FakeBraze, resource: BrazeCDIResource) -> None:
    assert fake.api_key not in repr(resource)
    assert fake.api_key not in str(resource)
    assert "rest_endpoint=" in repr(resource)


def test_in_your_own_asset_the_core_log_lines_reach_the_run_log(
    fake: FakeBraze, resource: BrazeCDIResource
) -> None:
    integration = fake.add_integration(duration=0.1)

    @dg.asset
    def my_sync(braze_cdi: BrazeCDIResource) -> dg.MaterializeResult:
        result = braze_cdi.sync_and_poll(integration.integration_id)  # no log= given
        return dg.MaterializeResult(metadata=result.record())

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([my_sync], resources={"braze_cdi": resource}, instance=instance)

    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert f"Triggered a sync of integration {integration.integration_id}." in messages


# --- the names renamed in 0.1 -----------------------------------------------------------


def test_the_old_field_names_still_work_and_warn(fake: FakeBraze, url: str) -> None:
    integration = fake.add_integration(duration=60.0)

    with pytest.warns(DeprecationWarning, match="deprecated in BrazeCDIResource") as caught:
        resource = BrazeCDIResource(
            api_key=fake.api_key,
            rest_endpoint=url,
            poll_interval=0.05,
            poll_timeout=0.3,
            retry_deadline=20.0,
        )

    assert sorted(str(warning.message) for warning in caught) == [
        "poll_timeout is deprecated in BrazeCDIResource: use max_wait instead "
        "(poll_timeout goes in braze-cdi 0.2.0).",
        "retry_deadline is deprecated in BrazeCDIResource: use retry_max_duration instead "
        "(retry_deadline goes in braze-cdi 0.2.0).",
    ]
    assert all(warning.filename == __file__ for warning in caught)
    assert (resource.max_wait, resource.retry_max_duration) == (0.3, 20.0)
    assert (resource.poll_timeout, resource.retry_deadline) == (None, None)
    with resource.get_client() as client:
        assert client.retry.max_duration == 20.0
    with pytest.raises(SyncTimeout):  # bounded by the old poll_timeout
        resource.sync_and_poll(integration.integration_id)


def test_a_resource_with_old_field_names_runs_in_dagster(fake: FakeBraze, url: str) -> None:
    integration = fake.add_integration(duration=0.1)
    with pytest.warns(DeprecationWarning, match="use max_wait"):
        resource = BrazeCDIResource(
            api_key=fake.api_key, rest_endpoint=url, poll_interval=0.05, poll_timeout=30.0
        )

    @dg.asset
    def users(braze_cdi: BrazeCDIResource) -> dg.MaterializeResult:
        assert braze_cdi.max_wait == 30.0
        result = braze_cdi.sync_and_poll(integration.integration_id)
        return dg.MaterializeResult(metadata={"status": str(result.job_status)})

    assert dg.materialize([users], resources={"braze_cdi": resource}).success
    assert integration.triggered_jobs == 1


def test_an_old_field_with_its_new_name_is_refused(fake: FakeBraze, url: str) -> None:
    with pytest.raises(BrazeConfigError, match="poll_timeout and max_wait were both given"):
        BrazeCDIResource(api_key=fake.api_key, rest_endpoint=url, poll_timeout=5, max_wait=6)
    with pytest.raises(BrazeConfigError, match="retry_deadline and retry_max_duration"):
        BrazeCDIResource(
            api_key=fake.api_key, rest_endpoint=url, retry_deadline=5, retry_max_duration=6
        )
    # Validated from a dict (not constructed), the same, as pydantic reports it.
    with pytest.raises(ValidationError, match="poll_timeout and max_wait were both given"):
        BrazeCDIResource.model_validate(
            {"api_key": fake.api_key, "rest_endpoint": url, "poll_timeout": 5, "max_wait": 6}
        )
    assert fake.count() == 0


def test_sync_and_poll_still_takes_poll_timeout_and_warns(
    fake: FakeBraze, resource: BrazeCDIResource
) -> None:
    integration = fake.add_integration(duration=60.0)

    with (
        pytest.warns(DeprecationWarning, match="poll_timeout is deprecated in sync_and_poll"),
        pytest.raises(SyncTimeout),
    ):
        resource.sync_and_poll(integration.integration_id, poll_timeout=0.3)
    with pytest.raises(BrazeConfigError, match="poll_timeout and max_wait were both given"):
        resource.sync_and_poll(integration.integration_id, poll_timeout=1, max_wait=1)

    assert integration.triggered_jobs == 1  # the refused call sent nothing
