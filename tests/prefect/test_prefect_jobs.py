"""The job block ``BrazeCDISync`` and the flow ``run_braze_cdi_sync``: Prefect's block standards,
saving, loading and registering, trigger / wait / fetch, failures and the key."""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from prefect import flow
from prefect.blocks.abstract import JobBlock, JobRun
from prefect.blocks.core import Block
from prefect.plugins import load_prefect_collections
from prefect.settings import get_current_settings
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from pydantic import ValidationError

from braze_cdi import JobStatus, RetryPolicy, SyncFailed, SyncHandle, SyncResult, SyncTimeout
from braze_cdi.testing import FakeBraze, FakeIntegration
from prefect_braze_cdi import BrazeCDICredentials, jobs
from prefect_braze_cdi.jobs import (
    BrazeCDISync,
    BrazeCDISyncRun,
    arun_braze_cdi_sync,
    run_braze_cdi_sync,
)
from prefect_braze_cdi.tasks import trigger_sync

if TYPE_CHECKING:
    from tests.conftest import RunningJob
    from tests.prefect.conftest import PrefectRecords

POLL = 0.05


@pytest.fixture
def braze_cdi_sync(credentials: BrazeCDICredentials, integration: FakeIntegration) -> BrazeCDISync:
    return BrazeCDISync(
        braze_cdi_credentials=credentials,
        integration_id=integration.integration_id,
        poll_interval_seconds=POLL,
    )


class TestBlockStandards(BlockStandardTestSuite):
    """Prefect's own suite: description, documentation URL, described fields, code example."""

    @pytest.fixture
    def block(self) -> type[Block]:
        return BrazeCDISync

    def test_has_a_valid_image(self, block: type[Block]) -> None:
        pytest.skip("The block has no logo: the suite's image check downloads it.")


def test_block_and_run_are_prefects_job_interfaces(braze_cdi_sync: BrazeCDISync) -> None:
    run = BrazeCDISyncRun(braze_cdi_sync, SyncHandle(integration_id="x", triggered=True))

    assert isinstance(braze_cdi_sync, JobBlock) and isinstance(run, JobRun)
    # The plain JobBlock: a parametrized one would be a block type of its own in the registry.
    assert BrazeCDISync.__bases__ == (JobBlock,)
    assert not any(inspect.iscoroutinefunction(f) for f in (BrazeCDISync.trigger, run.fetch_result))
    assert all(
        inspect.iscoroutinefunction(twin)
        for twin in (BrazeCDISync.atrigger, run.await_for_completion, run.afetch_result)
    )


def test_saved_block_loads_by_name_and_runs(
    braze_cdi_sync: BrazeCDISync,
    integration: FakeIntegration,
    fake: FakeBraze,
    prefect_records: PrefectRecords,
) -> None:
    braze_cdi_sync.save("braze-sync-test-load", overwrite=True)

    loaded = BrazeCDISync.load("braze-sync-test-load")
    state = run_braze_cdi_sync(loaded, return_state=True)

    result = state.result()
    assert isinstance(result, SyncResult)
    assert (result.job_status, result.job.rows_synced, result.triggered) == (
        JobStatus.SUCCESS,
        1234,
        True,
    )
    assert loaded.model_dump() == braze_cdi_sync.model_dump()
    assert loaded.braze_cdi_credentials.api_key.get_secret_value() == fake.api_key
    assert integration.triggered_jobs == 1
    assert prefect_records.flow_run(state).name == f"braze-cdi-sync-{integration.integration_id}"
    [trigger] = prefect_records.task_runs(state, "trigger-sync-")
    [wait] = prefect_records.task_runs(state, "wait-for-sync-")
    assert (trigger.run_count, wait.run_count) == (1, 1)
    artifact_key = f"braze-cdi-sync-{integration.integration_id}"
    assert [a.key for a in prefect_records.artifacts(state)] == [artifact_key]


def test_trigger_wait_and_fetch_step_by_step(
    braze_cdi_sync: BrazeCDISync, integration: FakeIntegration, fake: FakeBraze
) -> None:
    @flow
    def step_by_step() -> tuple[BrazeCDISyncRun, SyncResult, SyncResult]:
        run = braze_cdi_sync.trigger()
        assert fake.count("trigger") == 1 and run.handle.triggered
        run.wait_for_completion()
        waited = fake.count("status")
        first, again = run.fetch_result(), run.fetch_result()
        run.wait_for_completion()
        assert fake.count("status") == waited  # the result is kept: no more polls
        return run, first, again

    run, result, again = step_by_step()

    assert run.handle.integration_id == integration.integration_id
    assert result is again
    assert (result.job_status, result.job.rows_synced) == (JobStatus.SUCCESS, 1234)
    assert integration.triggered_jobs == 1
    assert repr(run) == (
        f"BrazeCDISyncRun(integration_id='{integration.integration_id}', triggered=True)"
    )


def test_fetch_result_waits_when_the_run_was_not_waited_for(
    braze_cdi_sync: BrazeCDISync, integration: FakeIntegration
) -> None:
    @flow
    def fetch_only() -> SyncResult:
        return braze_cdi_sync.trigger().fetch_result()

    result = fetch_only()

    assert (result.job_status, result.job.rows_synced) == (JobStatus.SUCCESS, 1234)
    assert integration.triggered_jobs == 1


def test_async_twins_run_the_saved_block(
    braze_cdi_sync: BrazeCDISync, integration: FakeIntegration, fake: FakeBraze
) -> None:
    braze_cdi_sync.save("braze-sync-test-async", overwrite=True)

    @flow
    async def step_by_step() -> SyncResult:
        loaded = await BrazeCDISync.aload("braze-sync-test-async")
        run = await loaded.atrigger()
        await run.await_for_completion()
        return await run.afetch_result()

    async def both() -> tuple[SyncResult, SyncResult]:
        loaded = await BrazeCDISync.aload("braze-sync-test-async")
        return await arun_braze_cdi_sync(loaded), await step_by_step()

    flowed, stepped = asyncio.run(both())

    assert flowed.job_status == stepped.job_status == JobStatus.SUCCESS
    assert flowed.triggered and stepped.triggered
    assert integration.triggered_jobs == fake.count("trigger") == 2


@pytest.mark.parametrize("outcome", ["error", "config_error"])
def test_failed_job_raises_sync_failed_and_is_never_retried(
    credentials: BrazeCDICredentials,
    fake: FakeBraze,
    prefect_records: PrefectRecords,
    outcome: str,
) -> None:
    failing = fake.add_integration(duration=0.2, outcome=outcome)
    block = BrazeCDISync(
        braze_cdi_credentials=credentials,
        integration_id=failing.integration_id,
        poll_interval_seconds=POLL,
    )

    state = run_braze_cdi_sync(block, return_state=True)

    with pytest.raises(SyncFailed) as raised:
        state.result()
    assert raised.value.job.job_status == outcome
    stored = prefect_records.flow_run(state).state
    assert stored is not None and stored.is_failed()
    assert f"ended {outcome}" in (stored.message or "")
    [trigger] = prefect_records.task_runs(state, "trigger-sync-")
    [wait] = prefect_records.task_runs(state, "wait-for-sync-")
    assert (trigger.run_count, wait.run_count) == (1, 1)
    assert failing.triggered_jobs == fake.count("trigger") == 1


def test_partial_job_fails_only_with_fail_on_partial(
    credentials: BrazeCDICredentials, fake: FakeBraze
) -> None:
    partial = fake.add_integration(duration=0.2, outcome="partial", rows_failed=3)
    block = BrazeCDISync(
        braze_cdi_credentials=credentials,
        integration_id=partial.integration_id,
        poll_interval_seconds=POLL,
    )

    result = run_braze_cdi_sync(block)
    strict = block.model_copy(update={"fail_on_partial": True})
    with pytest.raises(SyncFailed, match="ended partial"):
        run_braze_cdi_sync(strict)

    assert (result.job_status, result.job.rows_failed_with_errors) == (JobStatus.PARTIAL, 3)
    assert partial.triggered_jobs == 2


def test_retryable_error_is_retried_by_prefect(
    fake: FakeBraze,
    url: str,
    integration: FakeIntegration,
    prefect_records: PrefectRecords,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One attempt per call: the core gives up at once and leaves the retry to Prefect, whose
    # delay this test does not wait for.
    monkeypatch.setattr(jobs, "trigger_sync", trigger_sync.with_options(retry_delay_seconds=0))
    block = BrazeCDISync(
        braze_cdi_credentials=BrazeCDICredentials(
            api_key=fake.api_key, rest_endpoint=url, retry=RetryPolicy(max_attempts=1)
        ),
        integration_id=integration.integration_id,
        poll_interval_seconds=POLL,
    )
    fake.inject("status", status=503)  # the job list read before the trigger fails once

    state = run_braze_cdi_sync(block, return_state=True)

    assert state.result().job_status == JobStatus.SUCCESS
    [trigger] = prefect_records.task_runs(state, "trigger-sync-")
    assert trigger.run_count == 2
    assert integration.triggered_jobs == 1


def test_if_running_attach_adopts_the_running_job(
    braze_cdi_sync: BrazeCDISync, integration: FakeIntegration, running_job: RunningJob
) -> None:
    scheduled = running_job(integration.integration_id)
    attach = braze_cdi_sync.model_copy(update={"if_running": "attach"})

    result = run_braze_cdi_sync(attach)

    assert not result.triggered
    assert result.job.sync_start_time is not None
    assert result.job.sync_start_time.timestamp() == pytest.approx(scheduled.start, abs=0.001)
    assert integration.triggered_jobs == 0


def test_a_wait_that_runs_out_raises_sync_timeout_with_the_handle(
    credentials: BrazeCDICredentials, fake: FakeBraze
) -> None:
    endless = fake.add_integration(duration=math.inf)  # the job runs until the test ends it
    block = BrazeCDISync(
        braze_cdi_credentials=credentials,
        integration_id=endless.integration_id,
        poll_interval_seconds=POLL,
        max_wait_seconds=0.5,
    )

    with pytest.raises(SyncTimeout) as raised:
        run_braze_cdi_sync(block)

    handle = raised.value.handle
    assert handle is not None and handle.triggered
    assert handle.integration_id == endless.integration_id
    # Braze goes on with the job; once it ends, a run made from the handle reads it.
    [job] = endless.jobs
    job.duration = fake.clock.time() - job.start

    @flow
    def wait_again() -> SyncResult:
        return BrazeCDISyncRun(block, handle).fetch_result()

    result = wait_again()
    assert result.job_status == JobStatus.SUCCESS
    assert endless.triggered_jobs == 1


@pytest.mark.parametrize("integration_id", ["../other", "users?page=2", "", "with space"])
def test_a_bad_integration_id_is_refused_before_any_request(
    credentials: BrazeCDICredentials, fake: FakeBraze, integration_id: str
) -> None:
    with pytest.raises(ValidationError, match="Invalid integration id"):
        BrazeCDISync(braze_cdi_credentials=credentials, integration_id=integration_id)

    assert fake.count() == 0


@pytest.mark.parametrize(
    "setting",
    [{"if_running": "sometimes"}, {"poll_interval_seconds": 0}, {"max_wait_seconds": -1}],
    ids=lambda setting: next(iter(setting)),
)
def test_a_bad_setting_is_refused_when_the_block_is_made(
    credentials: BrazeCDICredentials, integration: FakeIntegration, setting: dict[str, Any]
) -> None:
    [name] = setting
    with pytest.raises(ValidationError, match=name):
        BrazeCDISync(
            braze_cdi_credentials=credentials,
            integration_id=integration.integration_id,
            **setting,
        )


def test_the_key_never_reaches_prefect(
    fake: FakeBraze,
    url: str,
    prefect_records: PrefectRecords,
    capfd: pytest.CaptureFixture[str],
) -> None:
    wrong_key = "wrong-key-0123456789abcdef"
    ok = fake.add_integration(duration=0.2)
    failing = fake.add_integration(duration=0.2, outcome="error")
    blocks = [
        BrazeCDISync(
            braze_cdi_credentials=BrazeCDICredentials(api_key=key, rest_endpoint=url),
            integration_id=integration.integration_id,
            poll_interval_seconds=POLL,
        )
        for key, integration in ((fake.api_key, ok), (fake.api_key, failing), (wrong_key, ok))
    ]
    seen: list[str] = []
    for number, block in enumerate(blocks):
        name = f"braze-sync-test-secret-{number}"
        block.save(name, overwrite=True)
        document = prefect_records.client.read_block_document_by_name(
            name, block_type_slug="braze-cdi-sync", include_secrets=False
        )
        seen += [repr(block), str(block), document.model_dump_json()]

    states = [run_braze_cdi_sync(block, return_state=True) for block in blocks]

    assert [state.type.value for state in states] == ["COMPLETED", "FAILED", "FAILED"]
    assert "401" in (states[2].message or "")
    for state in states:
        flow_run = prefect_records.flow_run(state)
        seen += prefect_records.logs(state)
        seen += [json.dumps(flow_run.parameters, default=str), flow_run.model_dump_json()]
        seen += [a.model_dump_json() for a in prefect_records.artifacts(state)]
        seen += [str(state.message), repr(state.result(raise_on_failure=False))]
    seen += capfd.readouterr()

    assert any("Triggered a sync" in text for text in seen)  # the capture is not empty
    assert any("braze_cdi_credentials" in text for text in seen)  # the documents are in it
    for key in (fake.api_key, wrong_key):
        assert not [text for text in seen if key in text]


def test_the_collection_registers_the_block_type_from_the_command_line(
    prefect_records: PrefectRecords,
) -> None:
    # The installed `prefect` command, in a process of its own, against this run's API.
    environment = {
        **os.environ,
        "PREFECT_API_URL": str(get_current_settings().api.url),
        "COLUMNS": "200",  # the table of registered blocks is not cut short
    }
    command = [str(Path(sys.executable).with_name("prefect")), "block", "register"]

    registered = subprocess.run(
        [*command, "-m", "prefect_braze_cdi"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert registered.returncode == 0, registered.stderr
    assert "Braze CDI Sync" in registered.stdout
    assert "prefect_braze_cdi" in load_prefect_collections()
    assert Block.get_block_class_from_key("braze-cdi-sync") is BrazeCDISync
    block_type = prefect_records.client.read_block_type_by_slug("braze-cdi-sync")
    assert block_type.name == "Braze CDI Sync"
    assert 'BrazeCDISync.load("BLOCK_NAME")' in (block_type.code_example or "")
    schema = prefect_records.client.get_most_recent_block_schema_for_block_type(block_type.id)
    assert schema is not None
    assert schema.fields["secret_fields"] == ["braze_cdi_credentials.api_key"]
    assert schema.fields["block_schema_references"]["braze_cdi_credentials"]["block_type_slug"] == (
        "braze-cdi-credentials"
    )
