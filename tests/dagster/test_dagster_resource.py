"""The resource on its own: configuration in, working clients out, the key kept out of sight."""

import asyncio
import logging

import dagster as dg
import pytest

from braze_cdi import AsyncBrazeCDIClient, BrazeCDIClient, BrazeConfigError, SyncFailed
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
        assert (client.timeout, client.retry.max_attempts) == (5.0, 2)
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
