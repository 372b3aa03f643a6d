"""Hostile answers met through Prefect, against the real Prefect API.

A trigger whose answer cannot be read starts exactly one sync, however Prefect retries the
task. And a server that echoes the API key into what the client quotes (a ``Link`` header, a
job status, an error message past the point where messages are cut, a header, a reason phrase)
gets no piece of the key into anything Prefect stores: states, logs, artifacts, events, persisted
results, and the API's database itself.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import pickle
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import flow, get_run_logger
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import TaskRun
from prefect.events.filters import EventAnyResourceFilter, EventFilter
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.results import ResultRecordMetadata
from prefect.settings import (
    PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW,
    PREFECT_SERVER_DATABASE_CONNECTION_URL,
    temporary_settings,
)
from prefect.states import State

import prefect_braze_cdi.flows
from braze_cdi import BrazeServerError, JobStatus, SyncTimeout
from braze_cdi.testing import FakeBraze, FakeIntegration
from prefect_braze_cdi import (
    BrazeCDICredentials,
    atrigger_sync,
    atrigger_sync_and_wait_for_completion,
    await_for_sync,
    trigger_sync,
    trigger_sync_and_wait_for_completion,
    wait_for_sync,
)
from tests import echo
from tests.echo import (
    PIECE,
    REDACTED,
    UNDECODABLE_202,
    EchoingBraze,
    fail_the_job_list_after_the_first_read,
    new_key,
)

POLL = 0.05
MAX_WAIT = 5.0
FLAVORS = ["sync", "async"]


@pytest.fixture
def key() -> str:
    """A live-looking key, new for each test. Its random part is not hex, so that no piece of
    it turns up by chance among the UUIDs a run stores."""
    return new_key()


@pytest.fixture
def fake(key: str) -> EchoingBraze:
    return EchoingBraze(api_key=key)


@pytest.fixture(autouse=True)
def _adapter_retries_without_the_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flows run their tasks with the retries the adapter configures (how many, and only
    for retryable errors), but without the 10 s and more between attempts."""
    for name, task in {
        "trigger_sync": trigger_sync,
        "wait_for_sync": wait_for_sync,
        "atrigger_sync": atrigger_sync,
        "await_for_sync": await_for_sync,
    }.items():
        assert task.retries == 3
        monkeypatch.setattr(prefect_braze_cdi.flows, name, task.with_options(retry_delay_seconds=0))


def run_flow(
    flavor: str, credentials: BrazeCDICredentials, integration_id: str, **options: Any
) -> State:
    """Run the shipped flow (or its async twin) as a user would, and return its final state."""
    options = {"poll_interval_seconds": POLL, "max_wait_seconds": MAX_WAIT, **options}
    if flavor == "sync":
        return trigger_sync_and_wait_for_completion(
            credentials, integration_id, return_state=True, **options
        )
    return asyncio.run(
        atrigger_sync_and_wait_for_completion(
            credentials, integration_id, return_state=True, **options
        )
    )


# --- what Prefect stored, read back -----------------------------------------------------------


class PrefectStorage:
    """Everything the Prefect API stored about a flow run, each piece named by where it is."""

    def __init__(self, client: SyncPrefectClient) -> None:
        self.client = client

    def of(self, state: State) -> dict[str, str]:
        run_id = flow_run_id(state)
        APILogWorker.drain_all(timeout=10)
        EventsWorker.drain_all(timeout=10)
        flow_run = self.client.read_flow_run(run_id)
        task_runs = self.task_runs(run_id)
        stored = {"flow run": flow_run.model_dump_json()}
        states = [("flow run", s) for s in self.client.read_flow_run_states(run_id)]
        for task_run in task_runs:
            stored[f"task run {task_run.name}"] = task_run.model_dump_json()
            states += [(task_run.name, s) for s in self.client.read_task_run_states(task_run.id)]
        for number, (owner, stored_state) in enumerate(states):
            where = f"state {number} ({stored_state.name}) of {owner}"
            stored[where] = stored_state.model_dump_json()
            if isinstance(stored_state.data, ResultRecordMetadata):
                stored[f"persisted result of {where}"] = _persisted(stored_state.data)
        for number, log in enumerate(self.logs(run_id)):
            stored[f"log {number} ({log.name})"] = log.model_dump_json()
        for artifact in self.client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        ):
            stored[f"artifact {artifact.key}"] = artifact.model_dump_json()
        for number, event in enumerate(self.events(run_id, flow_run.state, task_runs)):
            stored[f"event {number} ({event.event})"] = event.model_dump_json()
        stored.update(_database_files())
        return stored

    def task_runs(self, run_id: UUID) -> list[TaskRun]:
        """The run's task runs, once each one's final state is recorded (task runs report their
        states through events, which the server records in a service of its own)."""
        deadline = time.monotonic() + 15
        while True:
            runs = self.client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            )
            if all(run.state is not None and run.state.is_final() for run in runs):
                return runs
            assert time.monotonic() < deadline, "the task runs' final states were not recorded"
            time.sleep(0.05)

    def logs(self, run_id: UUID) -> list[Any]:
        logs: list[Any] = []
        while True:
            page = self.client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])),
                limit=200,
                offset=len(logs),
            )
            logs += page
            if len(page) < 200:
                return logs

    def events(self, run_id: UUID, final: State | None, task_runs: list[TaskRun]) -> list[Any]:
        """Every event about the run or its task runs, once the final ones are persisted."""
        expected = {f"prefect.task-run.{run.state.name}" for run in task_runs if run.state}
        if final is not None:
            expected.add(f"prefect.flow-run.{final.name}")
        deadline = time.monotonic() + 15
        while True:
            events = self._all_events(
                EventFilter(any_resource=EventAnyResourceFilter(id=[f"prefect.flow-run.{run_id}"]))
            )
            missing = expected - {event.event for event in events}
            if not missing:
                return events
            assert time.monotonic() < deadline, f"events never persisted: {missing}"
            time.sleep(0.1)

    def _all_events(self, event_filter: EventFilter) -> list[Any]:
        page = self.client.read_events(event_filter, limit=50)
        events = list(page.events)
        while page.next_page is not None:
            page = self.client.read_events_page(str(page.next_page))
            events += page.events
        return events


def flow_run_id(state: State) -> UUID:
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    return run_id


def _persisted(metadata: ResultRecordMetadata) -> str:
    """A persisted result as stored (base64 of a pickle) and as loaded back."""
    path = Path(metadata.storage_key or "")
    if not path.is_file():
        return ""
    raw = path.read_bytes()
    texts = [raw.decode("latin-1")]
    try:
        pickled = base64.b64decode(raw)
    except binascii.Error:
        return texts[0]
    texts.append(pickled.decode("latin-1"))
    loaded = pickle.loads(pickled)  # our own test server's result, written by this run
    texts += [str(loaded), repr(loaded), repr(getattr(loaded, "__dict__", None))]
    return "\n".join(texts)


SHARED_BY_THE_SESSION = "database file "


def _database_files() -> dict[str, str]:
    """The Prefect API's SQLite database, byte for byte (the harness's server writes it)."""
    url = PREFECT_SERVER_DATABASE_CONNECTION_URL.value() or ""
    path = url.partition(":///")[2]
    if not url.startswith("sqlite") or not path:
        return {}
    return {
        SHARED_BY_THE_SESSION + file.name: file.read_bytes().decode("latin-1")
        for file in Path(path).parent.glob(Path(path).name + "*")
        if file.is_file()
    }


def key_sightings(key: str, stored: dict[str, str]) -> list[str]:
    """``tests.echo.key_sightings``; the database every test of the session writes to is
    searched for this key's own random part only."""
    return echo.key_sightings(key, stored, shared=(SHARED_BY_THE_SESSION,))


@pytest.fixture
def prefect_storage() -> Iterator[PrefectStorage]:
    with get_client(sync_client=True) as client:
        yield PrefectStorage(client)


@pytest.fixture
def http_logs_in_the_run_log() -> Iterator[None]:
    """httpx's and httpcore's records in the run log, down to DEBUG, as
    ``PREFECT_LOGGING_EXTRA_LOGGERS=httpx,httpcore`` would send them: they quote the status
    line and every header of each answer."""
    handlers = logging.getLogger("prefect.extra").handlers
    assert handlers, "Prefect's logging is not set up"
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    levels = [logger.level for logger in loggers]
    # The log worker's own requests to the Prefect API are logged outside any run.
    with temporary_settings({PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW: "ignore"}):
        for logger in loggers:
            logger.setLevel(logging.DEBUG)
            for handler in handlers:
                logger.addHandler(handler)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
                for handler in handlers:
                    logger.removeHandler(handler)


def task_run_named(stored_runs: list[TaskRun], prefix: str) -> list[TaskRun]:
    return [run for run in stored_runs if run.name.startswith(prefix)]


# --- 1. A trigger whose answer cannot be read starts one sync -----------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_an_undecodable_202_to_the_trigger_starts_one_sync_and_the_flow_succeeds(
    flavor: str,
    fake: FakeBraze,
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_storage: PrefectStorage,
) -> None:
    fake.inject("trigger", **UNDECODABLE_202)

    state = run_flow(flavor, credentials, integration.integration_id)

    assert state.is_completed()
    result = state.result()
    assert (result.job_status, result.triggered, result.job.rows_synced) == (
        JobStatus.SUCCESS,
        True,
        1234,
    )
    assert (integration.triggered_jobs, fake.count("trigger")) == (1, 1)
    runs = prefect_storage.task_runs(flow_run_id(state))
    [trigger] = task_run_named(runs, "trigger-sync-")
    assert trigger.run_count == 1


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_trigger_whose_outcome_stays_unknown_starts_one_sync_however_often_it_is_retried(
    flavor: str,
    fake: FakeBraze,
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_storage: PrefectStorage,
) -> None:
    # Each retry looks for the job the first attempt's trigger started (its record is kept
    # with the flow run) rather than triggering again; the job list never answers again.
    fail_the_job_list_after_the_first_read(fake)
    fake.inject("trigger", **UNDECODABLE_202)

    state = run_flow(flavor, credentials, integration.integration_id)

    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, BrazeServerError)  # the last retry could not read the job list
    assert (integration.triggered_jobs, fake.count("trigger")) == (1, 1)
    runs = prefect_storage.task_runs(flow_run_id(state))
    [trigger] = task_run_named(runs, "trigger-sync-")
    assert trigger.run_count == 1 + trigger_sync.retries
    assert trigger.state is not None and trigger.state.is_failed()
    assert task_run_named(runs, "wait-for-sync-") == []


@pytest.mark.parametrize("flavor", FLAVORS)
def test_control_the_flow_does_retry_a_retryable_failure_of_its_trigger_task(
    flavor: str,
    fake: FakeBraze,
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_storage: PrefectStorage,
) -> None:
    # The job list read before the trigger fails every attempt of the core's first call.
    fake.inject("status", status=503, times=credentials.retry.max_attempts)

    state = run_flow(flavor, credentials, integration.integration_id)

    assert state.is_completed()
    runs = prefect_storage.task_runs(flow_run_id(state))
    [trigger] = task_run_named(runs, "trigger-sync-")
    assert trigger.run_count == 2
    assert (integration.triggered_jobs, fake.count("trigger")) == (1, 1)


# --- 2. A server that echoes the key gets none of it stored -----------------------------------


@pytest.mark.usefixtures("http_logs_in_the_run_log")
def test_a_key_echoed_into_the_link_header_is_stored_nowhere(
    key: str,
    fake: FakeBraze,
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_storage: PrefectStorage,
) -> None:
    link = f'</cdi/x?cursor={key}&k={key}>; rel="next", <junk {key}>'
    fake.inject("status", headers={"Link": link})

    state = run_flow("sync", credentials, integration.integration_id)

    assert state.is_failed()
    assert "Invalid cursor" in (state.message or "")  # the echoing server refused its own cursor
    assert integration.triggered_jobs == 0
    assert key_sightings(key, prefect_storage.of(state)) == []


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def running_job_with_the_key_as_status(fake: FakeBraze, key: str) -> FakeIntegration:
    return fake.add_integration(name="users", duration=30.0, running_status=key)


def listed_job_with_the_key_as_status(fake: FakeBraze, key: str) -> FakeIntegration:
    job = {"job_status": key, "sync_start_time": _now(), key: key, "note": f"by {key}"}
    fake.inject("status", status=200, body={"results": [job]}, times=1000)
    return fake.add_integration(name="users")


@pytest.mark.usefixtures("http_logs_in_the_run_log")
@pytest.mark.parametrize(
    "script", [running_job_with_the_key_as_status, listed_job_with_the_key_as_status]
)
def test_a_key_echoed_as_the_job_status_is_stored_nowhere(
    key: str,
    fake: FakeBraze,
    credentials: BrazeCDICredentials,
    prefect_storage: PrefectStorage,
    script: Callable[[FakeBraze, str], FakeIntegration],
) -> None:
    echoing = script(fake, key)

    # The job never ends, so the wait runs out; it must have seen the job first, which 0.5 s
    # did not always leave time for on a loaded machine.
    state = run_flow("sync", credentials, echoing.integration_id, max_wait_seconds=4.0)

    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, SyncTimeout)
    assert error.job is not None and error.job.job_status == REDACTED
    assert f"was still {REDACTED}" in (state.message or "")
    stored = prefect_storage.of(state)
    assert any("does not document" in text for text in stored.values())  # the warning, logged
    assert key_sightings(key, stored) == []


@pytest.mark.usefixtures("http_logs_in_the_run_log")
def test_a_key_echoed_into_a_field_braze_does_not_document_is_stored_nowhere(
    key: str,
    fake: FakeBraze,
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_storage: PrefectStorage,
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

    state = run_flow("sync", credentials, integration.integration_id)

    assert state.is_completed()
    assert integration.triggered_jobs == 1
    stored = prefect_storage.of(state)
    # The previous job, extra fields and all, went into the triggered event; the result into
    # the artifact.
    assert any("braze.cdi.sync.triggered" in where for where in stored)
    assert any(where.startswith("artifact ") for where in stored)
    assert key_sightings(key, stored) == []


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


@pytest.fixture
def _trigger_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trigger's own error ends the flow run. (A retry would adopt the job the trigger
    started; where Braze started none, it would look at the job list until its time runs out.)"""
    monkeypatch.setattr(
        prefect_braze_cdi.flows, "trigger_sync", trigger_sync.with_options(retries=0)
    )


@pytest.mark.usefixtures("http_logs_in_the_run_log", "_trigger_not_retried")
@pytest.mark.parametrize("echo", ECHOES_PAST_THE_CUT)
def test_a_key_just_past_the_message_cut_is_stored_nowhere(
    fake: FakeBraze,
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_storage: PrefectStorage,
    echo: str,
) -> None:
    key = fake.api_key
    answer = ECHOES_PAST_THE_CUT[echo](key)
    assert len(str(answer["body"])) > MESSAGE_CUT
    fake.inject("trigger", **answer, times=50)

    state = run_flow("sync", credentials, integration.integration_id)

    assert state.is_failed()
    message = state.message or ""
    assert "Braze answered 'xxxxxxxx" in message
    assert f"x{REDACTED}'." in message  # cut after the key was taken out, not through it
    assert "The trigger may have reached Braze" in message
    assert key_sightings(key, prefect_storage.of(state)) == []


@pytest.mark.usefixtures("http_logs_in_the_run_log", "_trigger_not_retried")
def test_a_key_echoed_in_a_header_and_the_reason_phrase_is_stored_nowhere(
    key: str,
    fake: EchoingBraze,
    credentials: BrazeCDICredentials,
    integration: FakeIntegration,
    prefect_storage: PrefectStorage,
) -> None:
    fake.reason_phrase = f"Bearer {key}"
    echo = {"X-Echo": f"Bearer {key}", "WWW-Authenticate": f'Bearer realm="{key}"'}
    fake.inject("status", headers=echo, times=50)
    fake.inject("trigger", status=500, body={"message": "upstream failed"}, headers=echo, times=50)

    state = run_flow("sync", credentials, integration.integration_id)

    assert state.is_failed()
    assert "Braze answered 'upstream failed'" in (state.message or "")
    stored = prefect_storage.of(state)
    logs = "\n".join(text for where, text in stored.items() if where.startswith("log "))
    # The echoes did reach the run log, through httpx and httpcore, redacted.
    assert f"500 Bearer {REDACTED}" in logs
    assert f"(b'X-Echo', b'Bearer {REDACTED}')" in logs
    assert key_sightings(key, stored) == []


# --- the search itself finds a key ----------------------------------------------------------


PLANTED = {
    "the key": lambda key: key,
    "the key upper-cased": lambda key: key.upper(),
    "an 8-character piece of it": lambda key: key[13 : 13 + PIECE],
}


@pytest.mark.parametrize("planted", PLANTED)
def test_control_the_search_finds_a_key_planted_in_a_run_log(
    key: str, prefect_storage: PrefectStorage, planted: str
) -> None:
    text = PLANTED[planted](key)

    @flow
    def planting() -> None:
        get_run_logger().info("planted: %s.", text)

    state = planting(return_state=True)

    sightings = key_sightings(key, prefect_storage.of(state))
    assert any(where.startswith("log ") for where in sightings), sightings
    assert any(where.startswith("database file ") for where in sightings), sightings


def test_control_the_search_finds_a_key_planted_in_a_failure(
    key: str, prefect_storage: PrefectStorage
) -> None:
    @flow
    def failing() -> None:
        raise RuntimeError(f"planted: {key}")

    state = failing(return_state=True)

    sightings = key_sightings(key, prefect_storage.of(state))
    for place in ("state ", "persisted result of state ", "event ", "log ", "database file "):
        assert any(where.startswith(place) for where in sightings), (place, sightings)
