"""One pipeline run, one sync: step retries, re-executions and a killed step process adopt the
job the first attempt triggered, and a new run starts a new sync.

Real Dagster execution on a real ``DagsterInstance`` (sqlite, in a temporary directory),
against a FakeBraze over loopback. The runs that ``dg.execute_job`` runs (re-executions, the
multiprocess executor) rebuild their job from ``sync_job`` below, by module and function name.

No outcome depends on timing: every fault is scripted by request (the storm starts with the
trigger and lasts until the test lifts it; the trigger's answer is held back until the killer,
which waits for the trigger to reach the fake, has killed the step), no assertion reads a
duration, and every wait on a condition has a generous deadline.
"""

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import httpx
import pytest

from braze_cdi import BrazeConfigError
from braze_cdi.testing import FakeBraze, FakeIntegration
from dagster_braze_cdi import BrazeCDIResource, build_braze_cdi_sync_asset

if TYPE_CHECKING:  # what dg.build_reconstructable_job returns, not exported by dagster
    from dagster._core.definitions.reconstruct import ReconstructableJob

INTEGRATION_ID = "00000000-0000-0000-0000-0000000000e1"
KEY = dg.AssetKey(["braze", "users"])
RECORD = "braze_cdi/trigger_record"
FOREVER = 10**9  # requests: a fault that lasts until the test lifts it
DEADLINE = 60.0  # seconds any wait on a condition may take before the test fails

# Quick, and few calls: the client keeps under Braze's per-minute budgets (100 job-list reads).
QUICK: dict[str, Any] = {
    "poll_interval": 0.05,
    "max_wait": 20.0,
    "retry_initial_delay": 0.01,
    "retry_max_delay": 0.05,
}
# While the job list answers 503: two tries a read, and a wait that runs out soon (but leaves
# ample time for the look and the trigger before the storm).
STORMY: dict[str, Any] = {**QUICK, "poll_interval": 0.5, "max_wait": 3.0, "retry_max_attempts": 2}


# --- the job, rebuilt by name in every process that runs it -----------------------------------


def sync_job(
    url: str, api_key: str, settings: dict[str, Any], multiprocess: bool = False
) -> dg.JobDefinition:
    """The sync asset of ``INTEGRATION_ID`` in a job whose ops may be retried three times."""
    asset = build_braze_cdi_sync_asset(integration_id=INTEGRATION_ID, key=KEY)
    job = dg.define_asset_job(
        "braze_sync",
        selection=[asset],
        op_retry_policy=dg.RetryPolicy(max_retries=3),
        executor_def=dg.multiprocess_executor if multiprocess else dg.in_process_executor,
    )
    resource = BrazeCDIResource(api_key=api_key, rest_endpoint=url, **settings)
    defs = dg.Definitions(assets=[asset], jobs=[job], resources={"braze_cdi": resource})
    return defs.resolve_job_def("braze_sync")


def reconstructable(
    fake: FakeBraze, url: str, settings: dict[str, Any], *, multiprocess: bool = False
) -> "ReconstructableJob":
    return dg.build_reconstructable_job(
        __name__,
        sync_job.__name__,
        reconstructable_kwargs={
            "url": url,
            "api_key": fake.api_key,
            "settings": settings,
            "multiprocess": multiprocess,
        },
        reconstructor_working_directory=str(Path(__file__).parent),
    )


# --- the fake and its faults ------------------------------------------------------------------


class StormAfterTrigger(FakeBraze):
    """A FakeBraze whose job list answers 503 from the first trigger on, until ``lift``."""

    storm: Any = None

    def reply(self, request: httpx.Request) -> Any:
        answer = super().reply(request)
        if request.method == "POST" and self.storm is None:
            self.storm = self.inject("status", status=503, times=FOREVER)
        return answer

    def lift(self) -> None:
        assert self.storm is not None, "the storm never started: no trigger reached the fake"
        self.storm.times = 0


@pytest.fixture
def stormy() -> StormAfterTrigger:
    return StormAfterTrigger()


@pytest.fixture
def stormy_url(stormy: StormAfterTrigger) -> Iterator[str]:
    with stormy.serve() as served:
        yield served


def users(fake: FakeBraze, **settings: Any) -> FakeIntegration:
    return fake.add_integration(INTEGRATION_ID, name="users", history=2, **settings)


# --- running and reading back -----------------------------------------------------------------


def execute(
    job: "ReconstructableJob",
    instance: dg.DagsterInstance,
    *,
    reexecute: str | None = None,
    every_step: bool = False,
) -> dg.JobExecutionResult:
    """A run of ``job``; with ``reexecute``, a re-execution of that run (from failure, or of
    every step)."""
    options = None
    if reexecute is not None:
        options = (
            dg.ReexecutionOptions(parent_run_id=reexecute)
            if every_step
            else dg.ReexecutionOptions.from_failure(reexecute, instance)
        )
    with dg.execute_job(job, instance, reexecution_options=options) as result:
        return result


def materialized_job_start(instance: dg.DagsterInstance, run_id: str) -> str:
    """The ``sync_start_time`` the run's materialization of the asset reports."""
    [entry] = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    assert entry.asset_materialization is not None
    return iso(entry.asset_materialization.metadata["sync_start_time"])


def iso(value: dg.MetadataValue[Any]) -> str:
    """A timestamp metadata value as the ISO 8601 text Braze writes."""
    assert isinstance(value, dg.TimestampMetadataValue)
    return datetime.fromtimestamp(value.value, tz=timezone.utc).isoformat()


def started_at(integration: FakeIntegration, index: int = -1) -> str:
    """The ``sync_start_time`` Braze reports for one of the integration's jobs."""
    job = [job for job in integration.jobs if job.triggered][index]
    return datetime.fromtimestamp(job.start, tz=timezone.utc).isoformat(timespec="milliseconds")


def same_time(first: str, second: str) -> bool:
    return datetime.fromisoformat(first) == datetime.fromisoformat(second)


def records_of(instance: dg.DagsterInstance, run_id: str) -> list[dg.EventLogEntry]:
    """The run's records of a trigger, as the event log holds them."""
    return [
        entry
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION)
        if entry.asset_observation is not None and RECORD in entry.asset_observation.metadata
    ]


def events_of(
    instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType
) -> list[dg.EventLogEntry]:
    return list(instance.all_logs(run_id, of_type=kind))


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


# --- faults after the trigger, then re-execution from failure ---------------------------------


def test_a_5xx_storm_after_the_trigger_then_re_execution_adopts_the_job(
    stormy: StormAfterTrigger, stormy_url: str, instance: dg.DagsterInstance
) -> None:
    integration = users(stormy, duration=0.2)
    job = reconstructable(stormy, stormy_url, STORMY)

    failed = execute(job, instance)  # every read of the job list answers 503: the wait runs out
    stormy.lift()
    retried = execute(job, instance, reexecute=failed.run_id)

    assert not failed.success and retried.success
    assert integration.triggered_jobs == 1
    assert len(records_of(instance, failed.run_id)) == 1
    assert records_of(instance, retried.run_id) == []  # adopted, not triggered again
    assert same_time(materialized_job_start(instance, retried.run_id), started_at(integration))


def test_a_dropped_trigger_then_re_execution_adopts_the_job(
    stormy: StormAfterTrigger, stormy_url: str, instance: dg.DagsterInstance
) -> None:
    integration = users(stormy, duration=0.2)
    # Braze starts the job, the answer is lost, and the job list cannot tell: outcome unknown.
    stormy.inject("trigger", drop=True, takes_effect=True)
    job = reconstructable(stormy, stormy_url, STORMY)

    failed = execute(job, instance)
    stormy.lift()
    retried = execute(job, instance, reexecute=failed.run_id)

    assert not failed.success and retried.success
    assert integration.triggered_jobs == 1
    assert same_time(materialized_job_start(instance, retried.run_id), started_at(integration))


def test_a_re_execution_of_a_re_execution_still_adopts_the_first_job(
    stormy: StormAfterTrigger, stormy_url: str, instance: dg.DagsterInstance
) -> None:
    """A run retry (``dagster/max_retries``) is a re-execution from failure: a chain of them
    finds the record of the run at its root."""
    integration = users(stormy, duration=0.2)
    stormy.inject("trigger", drop=True, takes_effect=True)
    job = reconstructable(stormy, stormy_url, STORMY)

    first = execute(job, instance)
    # The storm goes on: each attempt fails to read the job list, and is retried.
    second = execute(job, instance, reexecute=first.run_id)
    stormy.lift()
    third = execute(job, instance, reexecute=second.run_id)

    assert [first.success, second.success, third.success] == [False, False, True]
    assert integration.triggered_jobs == 1
    retries = events_of(instance, second.run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert len(retries) == 3  # each attempt resumed the record (and met the storm): no trigger
    assert records_of(instance, second.run_id) == []
    assert same_time(materialized_job_start(instance, third.run_id), started_at(integration))


def test_the_record_is_in_the_event_log_before_the_trigger_is_sent(
    url: str, fake: FakeBraze, instance: dg.DagsterInstance
) -> None:
    users(fake, duration=0.1)
    seen: list[int] = []  # as each trigger arrives: the records the instance holds
    original = fake.reply

    def reply(request: httpx.Request) -> Any:
        if request.method == "POST":
            [run] = instance.get_runs()
            seen.append(len(records_of(instance, run.run_id)))
        return original(request)

    fake.reply = reply  # type: ignore[method-assign]
    result = execute(reconstructable(fake, url, QUICK), instance)

    assert result.success
    assert seen == [1]


# --- the step process killed right after the trigger ------------------------------------------


def test_a_step_process_killed_after_the_trigger_is_retried_and_adopts_the_job(
    fake: FakeBraze, url: str, instance: dg.DagsterInstance
) -> None:
    integration = users(fake, duration=0.5)
    # Braze starts the job; its answer is held back, so the step process is still waiting for it
    # when it is killed: neither the trigger's answer nor anything after it ever happened.
    fake.inject("trigger", delay=DEADLINE)
    killed: list[int] = []

    def kill_the_step_process() -> None:
        wait_until(lambda: integration.triggered_jobs == 1, "the trigger")
        [run] = instance.get_runs()
        # The record was written before the trigger was sent, by the step's own process.
        [record] = records_of(instance, run.run_id)
        assert record.dagster_event is not None and record.dagster_event.pid is not None
        os.kill(record.dagster_event.pid, signal.SIGKILL)
        killed.append(record.dagster_event.pid)

    killer = threading.Thread(target=kill_the_step_process, daemon=True)
    killer.start()
    result = execute(reconstructable(fake, url, QUICK, multiprocess=True), instance)
    killer.join(DEADLINE)

    assert killed, "the step process was not killed"
    assert result.success
    assert integration.triggered_jobs == 1
    retries = events_of(instance, result.run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert len(retries) == 1
    assert same_time(materialized_job_start(instance, result.run_id), started_at(integration))


# --- a step retry of your own asset -----------------------------------------------------------


def test_retry_requested_after_the_sync_adopts_its_job(
    fake: FakeBraze, make_resource: Callable[..., BrazeCDIResource]
) -> None:
    integration = users(fake, duration=0.1)

    @dg.asset(key=KEY, required_resource_keys={"braze_cdi"})
    def braze_users(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        result = context.resources.braze_cdi.sync_and_poll(INTEGRATION_ID, context=context)
        if context.retry_number == 0:
            raise dg.RetryRequested(max_retries=3)  # something after the sync failed
        return dg.MaterializeResult(metadata=result.record())

    result = dg.materialize([braze_users], resources={"braze_cdi": make_resource()})

    assert result.success
    assert integration.triggered_jobs == 1
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    # Your own asset writes the core's row as it is: the time is ISO 8601 text.
    assert same_time(str(metadata["sync_start_time"].value), started_at(integration))
    assert metadata["triggered"].value is True


# --- when a new sync starts -------------------------------------------------------------------


def test_two_runs_start_two_syncs(fake: FakeBraze, url: str, instance: dg.DagsterInstance) -> None:
    integration = users(fake, duration=0.1)
    job = reconstructable(fake, url, QUICK)

    first = execute(job, instance)
    second = execute(job, instance)

    assert first.success and second.success
    assert integration.triggered_jobs == 2
    assert same_time(materialized_job_start(instance, first.run_id), started_at(integration, 0))
    assert same_time(materialized_job_start(instance, second.run_id), started_at(integration, 1))


def test_two_materializations_through_dg_materialize_start_two_syncs(
    fake: FakeBraze, resource: BrazeCDIResource, instance: dg.DagsterInstance
) -> None:
    integration = users(fake, duration=0.1)
    asset = build_braze_cdi_sync_asset(integration_id=INTEGRATION_ID, key=KEY)

    for _ in range(2):
        assert dg.materialize([asset], resources={"braze_cdi": resource}, instance=instance).success

    assert integration.triggered_jobs == 2


def test_re_executing_every_step_of_a_run_that_synced_syncs_again(
    fake: FakeBraze, url: str, instance: dg.DagsterInstance
) -> None:
    integration = users(fake, duration=0.1)
    job = reconstructable(fake, url, QUICK)

    first = execute(job, instance)
    again = execute(job, instance, reexecute=first.run_id, every_step=True)

    assert first.success and again.success
    assert integration.triggered_jobs == 2
    assert same_time(materialized_job_start(instance, again.run_id), started_at(integration, 1))


def test_a_re_execution_after_the_job_failed_syncs_again(
    fake: FakeBraze, url: str, instance: dg.DagsterInstance
) -> None:
    integration = users(fake, duration=0.1, outcome="error")
    job = reconstructable(fake, url, QUICK)

    failed = execute(job, instance)
    integration.outcome = "success"  # the integration was fixed in Braze
    retried = execute(job, instance, reexecute=failed.run_id)

    assert not failed.success and retried.success
    assert integration.triggered_jobs == 2
    assert same_time(materialized_job_start(instance, retried.run_id), started_at(integration, 1))


# --- the record's asset -----------------------------------------------------------------------


def test_an_op_without_an_asset_names_the_asset_of_the_record(
    fake: FakeBraze, resource: BrazeCDIResource
) -> None:
    integration = users(fake, duration=0.1)
    errors: list[BrazeConfigError] = []

    @dg.op(required_resource_keys={"braze_cdi"})
    def sync_users(context: dg.OpExecutionContext) -> None:
        braze_cdi = context.resources.braze_cdi
        try:
            braze_cdi.sync_and_poll(INTEGRATION_ID, context=context)
        except BrazeConfigError as error:
            errors.append(error)
        braze_cdi.sync_and_poll(INTEGRATION_ID, context=context, asset_key=KEY)

    @dg.job(resource_defs={"braze_cdi": resource})
    def sync() -> None:
        sync_users()

    result = sync.execute_in_process()

    assert result.success
    [error] = errors
    assert "asset_key=" in str(error)
    assert integration.triggered_jobs == 1  # the refused call sent nothing
    [observation] = [
        event.asset_observation_data.asset_observation
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_OBSERVATION
    ]
    assert observation.asset_key == KEY


def test_an_asset_invoked_directly_syncs_without_a_record(
    fake: FakeBraze, resource: BrazeCDIResource
) -> None:
    """Outside a run (a unit test's ``build_asset_context``) there is no run to retry."""
    integration = users(fake, duration=0.1)

    @dg.asset(key=KEY)
    def braze_users(
        context: dg.AssetExecutionContext, braze_cdi: BrazeCDIResource
    ) -> dg.MaterializeResult:
        result = braze_cdi.sync_and_poll(INTEGRATION_ID, context=context)
        return dg.MaterializeResult(metadata=result.record())

    braze_users(dg.build_asset_context(), braze_cdi=resource)

    assert integration.triggered_jobs == 1
