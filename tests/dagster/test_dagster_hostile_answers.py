"""Hostile answers met through Dagster, by real execution against FakeBraze on loopback.

A trigger whose answer cannot be read starts exactly one sync, even with a retry policy on the
sync asset's op. And a server that echoes the API key into what the client quotes (a ``Link``
header, a job status, an error message past the point where messages are cut, a header, a
reason phrase) gets no piece of the key into anything the Dagster instance stores: the run, its
snapshots, every event record (failure metadata, materializations, check results, log lines)
and the captured compute logs.
"""

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from braze_cdi.testing import FakeBraze, FakeIntegration
from dagster_braze_cdi import BrazeCDIResource, build_braze_cdi_sync_asset
from tests.echo import (
    PIECE,
    REDACTED,
    UNDECODABLE_202,
    EchoingBraze,
    fail_the_job_list_after_the_first_read,
    key_sightings,
    new_key,
)

MAX_WAIT = 5.0
KEY_VARIABLE = "BRAZE_API_KEY"


@pytest.fixture
def key() -> str:
    """A live-looking key, new for each test. Its random part is not hex, so that no piece of
    it turns up by chance among the UUIDs a run stores."""
    return new_key()


@pytest.fixture
def fake(key: str) -> EchoingBraze:
    return EchoingBraze(api_key=key)


@pytest.fixture
def integration(fake: FakeBraze) -> FakeIntegration:
    return fake.add_integration(name="users", duration=0.2, rows_synced=1234)


@pytest.fixture
def resource_with(
    key: str, monkeypatch: pytest.MonkeyPatch, make_resource: Callable[..., BrazeCDIResource]
) -> Callable[..., BrazeCDIResource]:
    """A resource configured as the documentation says: the key from the environment."""
    monkeypatch.setenv(KEY_VARIABLE, key)

    def make(**settings: object) -> BrazeCDIResource:
        options = {"retry_max_delay": 0.05, "max_wait": MAX_WAIT, **settings}
        return make_resource(api_key=dg.EnvVar(KEY_VARIABLE), **options)

    return make


@pytest.fixture
def resource(resource_with: Callable[..., BrazeCDIResource]) -> BrazeCDIResource:
    return resource_with()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A persistent instance that also records httpx's and httpcore's lines, down to DEBUG, as
    ``python_logs: managed_python_loggers`` in a dagster.yaml would: they quote the status line
    and every header of each answer."""
    python_logs = {"managed_python_loggers": ["httpx", "httpcore"], "python_log_level": "DEBUG"}
    with dg.instance_for_test(overrides={"python_logs": python_logs}) as instance:
        yield instance


def sync_asset(integration: FakeIntegration) -> dg.AssetsDefinition:
    return build_braze_cdi_sync_asset(
        integration_id=integration.integration_id, key=["braze", "users"]
    )


def materialize(
    asset: dg.AssetsDefinition, resource: BrazeCDIResource, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [asset], resources={"braze_cdi": resource}, instance=instance, raise_on_error=False
    )


def materialize_with_retries(
    asset: dg.AssetsDefinition, resource: BrazeCDIResource, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    """Materialize the asset through a job whose ops may be retried twice."""
    job = dg.define_asset_job(
        "braze_sync", selection=[asset], op_retry_policy=dg.RetryPolicy(max_retries=2)
    )
    defs = dg.Definitions(assets=[asset], jobs=[job], resources={"braze_cdi": resource})
    return defs.resolve_job_def("braze_sync").execute_in_process(
        instance=instance, raise_on_error=False
    )


RUNS = {"dg.materialize": materialize, "op_retry_policy(max_retries=2)": materialize_with_retries}


def events_of(
    result: dg.ExecuteInProcessResult, kind: dg.DagsterEventType
) -> list[dg.DagsterEvent]:
    return [event for event in result.all_events if event.event_type == kind]


def failure_of(result: dg.ExecuteInProcessResult) -> dg.DagsterEvent:
    [failure] = events_of(result, dg.DagsterEventType.STEP_FAILURE)
    return failure


def metadata_of(event: dg.DagsterEvent) -> dict[str, Any]:
    data = event.step_failure_data.user_failure_data
    assert data is not None
    return {name: value.value for name, value in data.metadata.items()}


# --- what Dagster stored, read back -----------------------------------------------------------


def stored_by_dagster(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Everything the instance holds about a run, each piece named by where it is."""
    run = instance.get_run_by_id(run_id)
    assert run is not None
    stored = {"run": dg.serialize_value(run)}
    if run.job_snapshot_id:
        stored["job snapshot"] = dg.serialize_value(instance.get_job_snapshot(run.job_snapshot_id))
    if run.execution_plan_snapshot_id:
        plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        stored["execution plan snapshot"] = dg.serialize_value(plan)
    for number, entry in enumerate(instance.all_logs(run_id)):
        kind = entry.dagster_event.event_type_value if entry.dagster_event else "log message"
        stored[f"event {number} ({kind})"] = dg.serialize_value(entry)
    root = Path(instance.root_directory)
    for path in sorted(root.rglob("*")):
        if path.is_file():  # the storage's databases and the captured compute logs
            stored[f"file {path.relative_to(root)}"] = path.read_bytes().decode("latin-1")
    return stored


# --- 1. A trigger whose answer cannot be read starts one sync -----------------------------------


@pytest.mark.parametrize("run", RUNS)
def test_an_undecodable_202_to_the_trigger_starts_one_sync_and_materializes(
    run: str,
    fake: FakeBraze,
    integration: FakeIntegration,
    resource: BrazeCDIResource,
    instance: dg.DagsterInstance,
) -> None:
    fake.inject("trigger", **UNDECODABLE_202)

    result = RUNS[run](sync_asset(integration), resource, instance)

    assert result.success
    [materialization] = result.get_asset_materialization_events()
    metadata = {
        name: value.value for name, value in materialization.materialization.metadata.items()
    }
    assert (metadata["job_status"], metadata["triggered"], metadata["rows_synced"]) == (
        "success",
        True,
        1234,
    )
    assert all(check.passed for check in result.get_asset_check_evaluations())
    assert events_of(result, dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    assert (integration.triggered_jobs, fake.count("trigger")) == (1, 1)


@pytest.mark.parametrize("run", RUNS)
def test_a_trigger_whose_outcome_stays_unknown_starts_one_sync_however_often_retried(
    run: str,
    fake: FakeBraze,
    integration: FakeIntegration,
    resource: BrazeCDIResource,
    instance: dg.DagsterInstance,
) -> None:
    fail_the_job_list_after_the_first_read(fake)
    fake.inject("trigger", **UNDECODABLE_202)

    result = RUNS[run](sync_asset(integration), resource, instance)

    assert not result.success
    # Retryable, since the record was kept before the trigger: a retry resumes with it (here
    # it cannot read the job list either), and never triggers again.
    retries = events_of(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert len(retries) == (0 if run == "dg.materialize" else 2)
    if not retries:
        failure = failure_of(result)
        assert "The trigger may have reached Braze" in failure.step_failure_data.error.message
        assert (metadata_of(failure)["error"], metadata_of(failure)["retryable"]) == (
            "BrazeTransportError",
            True,
        )
    assert result.get_asset_materialization_events() == []
    assert (integration.triggered_jobs, fake.count("trigger")) == (1, 1)


def test_control_the_retry_policy_does_retry_a_retryable_failure(
    fake: FakeBraze,
    integration: FakeIntegration,
    resource: BrazeCDIResource,
    instance: dg.DagsterInstance,
) -> None:
    # The job list read before the trigger fails every attempt of the core's first call.
    fake.inject("status", status=503, times=resource.retry_max_attempts)

    result = materialize_with_retries(sync_asset(integration), resource, instance)

    assert result.success
    assert len(events_of(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)) == 1
    assert (integration.triggered_jobs, fake.count("trigger")) == (1, 1)


# --- 2. A server that echoes the key gets none of it stored -----------------------------------


def test_a_key_echoed_into_the_link_header_is_stored_nowhere(
    key: str,
    fake: FakeBraze,
    integration: FakeIntegration,
    resource: BrazeCDIResource,
    instance: dg.DagsterInstance,
) -> None:
    link = f'</cdi/x?cursor={key}&k={key}>; rel="next", <junk {key}>'
    fake.inject("status", headers={"Link": link})

    result = materialize_with_retries(sync_asset(integration), resource, instance)

    assert not result.success
    # The echoing server refused its own cursor.
    assert "Invalid cursor" in failure_of(result).step_failure_data.error.message
    assert integration.triggered_jobs == 0
    assert key_sightings(key, stored_by_dagster(instance, result.run_id)) == []


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def running_job_with_the_key_as_status(fake: FakeBraze, key: str) -> FakeIntegration:
    return fake.add_integration(name="users", duration=30.0, running_status=key)


def listed_job_with_the_key_as_status(fake: FakeBraze, key: str) -> FakeIntegration:
    job = {"job_status": key, "sync_start_time": _now(), key: key, "note": f"by {key}"}
    fake.inject("status", status=200, body={"results": [job]}, times=1000)
    return fake.add_integration(name="users")


@pytest.mark.parametrize(
    "script", [running_job_with_the_key_as_status, listed_job_with_the_key_as_status]
)
def test_a_key_echoed_as_the_job_status_is_stored_nowhere(
    key: str,
    fake: FakeBraze,
    resource_with: Callable[..., BrazeCDIResource],
    instance: dg.DagsterInstance,
    script: Callable[[FakeBraze, str], FakeIntegration],
) -> None:
    echoing = script(fake, key)

    # The job never ends, so the wait runs out. It must first have seen the job: 0.5 s left the
    # baseline, the trigger and one poll too little time on a loaded machine.
    result = materialize_with_retries(sync_asset(echoing), resource_with(max_wait=4.0), instance)

    assert not result.success
    failure = failure_of(result)
    assert f"was still {REDACTED}" in failure.step_failure_data.error.message
    assert (metadata_of(failure)["error"], metadata_of(failure)["job_status"]) == (
        "SyncTimeout",
        REDACTED,
    )
    stored = stored_by_dagster(instance, result.run_id)
    assert any("does not document" in text for text in stored.values())  # the warning, logged
    assert key_sightings(key, stored) == []


def test_a_key_echoed_into_a_field_braze_does_not_document_is_stored_nowhere(
    key: str,
    fake: FakeBraze,
    integration: FakeIntegration,
    resource: BrazeCDIResource,
    instance: dg.DagsterInstance,
) -> None:
    earlier = datetime.now(timezone.utc) - timedelta(hours=1)
    previous = {
        "job_status": "success",
        "sync_start_time": earlier.isoformat(),
        "sync_finish_time": (earlier + timedelta(minutes=1)).isoformat(),
        "note": f"synced by {key}",
        key: [key.upper()],
    }
    fake.inject("status", status=200, body={"results": [previous], "message": key})

    result = materialize_with_retries(sync_asset(integration), resource, instance)

    assert result.success
    assert integration.triggered_jobs == 1
    assert key_sightings(key, stored_by_dagster(instance, result.run_id)) == []


MESSAGE_CUT = 300


#: Error answers whose message carries the key just past the point where messages are cut.
ECHOES_PAST_THE_CUT: dict[str, Callable[[str], dict[str, Any]]] = {
    "json": lambda key: {"status": 500, "body": {"message": "x" * 290 + key}},
    "json, upper-cased": lambda key: {"status": 500, "body": {"message": "x" * 290 + key.upper()}},
    "json errors list": lambda key: {
        "status": 503,
        "body": {"errors": [{"message": "x" * 288 + key}]},
    },
    "html title": lambda key: {"status": 502, "body": f"<title>{'x' * 290}{key}</title>"},
}


@pytest.mark.parametrize("echo", ECHOES_PAST_THE_CUT)
def test_a_key_just_past_the_message_cut_is_stored_nowhere(
    fake: FakeBraze,
    integration: FakeIntegration,
    resource: BrazeCDIResource,
    instance: dg.DagsterInstance,
    echo: str,
) -> None:
    key = fake.api_key
    answer = ECHOES_PAST_THE_CUT[echo](key)
    assert len(str(answer["body"])) > MESSAGE_CUT
    fake.inject("trigger", **answer, times=50)

    # One attempt: a retry would resume, and wait a minute for Braze to list a job.
    result = materialize(sync_asset(integration), resource, instance)

    assert not result.success
    message = failure_of(result).step_failure_data.error.message
    assert "Braze answered 'xxxxxxxx" in message
    assert f"x{REDACTED}'." in message  # cut after the key was taken out, not through it
    assert "The trigger may have reached Braze" in message
    assert key_sightings(key, stored_by_dagster(instance, result.run_id)) == []


def test_a_key_echoed_in_a_header_and_the_reason_phrase_is_stored_nowhere(
    key: str,
    fake: EchoingBraze,
    integration: FakeIntegration,
    resource: BrazeCDIResource,
    instance: dg.DagsterInstance,
) -> None:
    fake.reason_phrase = f"Bearer {key}"
    echo = {"X-Echo": f"Bearer {key}", "WWW-Authenticate": f'Bearer realm="{key}"'}
    fake.inject("status", headers=echo, times=50)
    fake.inject("trigger", status=500, body={"message": "upstream failed"}, headers=echo, times=50)

    # One attempt: a retry would resume, and wait a minute for Braze to list a job.
    result = materialize(sync_asset(integration), resource, instance)

    assert not result.success
    assert "Braze answered 'upstream failed'" in failure_of(result).step_failure_data.error.message
    stored = stored_by_dagster(instance, result.run_id)
    events = "\n".join(text for where, text in stored.items() if where.startswith("event "))
    # The echoes did reach the event log, through httpx and httpcore, redacted.
    assert f"500 Bearer {REDACTED}" in events
    assert f"(b'X-Echo', b'Bearer {REDACTED}')" in events
    assert key_sightings(key, stored) == []


# --- the search itself finds a key ----------------------------------------------------------


PLANTED = {
    "the key": lambda key: key,
    "the key upper-cased": lambda key: key.upper(),
    "an 8-character piece of it": lambda key: key[13 : 13 + PIECE],
}


@pytest.mark.parametrize("planted", PLANTED)
def test_control_the_search_finds_a_key_planted_in_a_run_log(
    key: str, instance: dg.DagsterInstance, planted: str
) -> None:
    text = PLANTED[planted](key)

    @dg.asset
    def planting(context: dg.AssetExecutionContext) -> None:
        context.log.info(f"planted: {text}.")

    result = dg.materialize([planting], instance=instance)

    sightings = key_sightings(key, stored_by_dagster(instance, result.run_id))
    assert any(where.startswith("event ") for where in sightings), sightings


def test_control_the_search_finds_a_key_planted_in_failure_metadata(
    key: str, instance: dg.DagsterInstance
) -> None:
    @dg.asset
    def failing() -> None:
        raise dg.Failure(description="planted", metadata={"planted": key})

    result = dg.materialize([failing], instance=instance, raise_on_error=False)

    sightings = key_sightings(key, stored_by_dagster(instance, result.run_id))
    assert any("STEP_FAILURE" in where for where in sightings), sightings
