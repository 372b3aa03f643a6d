"""Fixtures of the Prefect adapter's tests: one real Prefect API (a temporary server) for the
whole session, credentials for the test's FakeBraze (``fake`` and ``url`` come from
``tests/conftest.py``), and what the Prefect API recorded about a flow run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from uuid import UUID

import pytest
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import Artifact, FlowRun, TaskRun
from prefect.events import Event
from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.states import State

from braze_cdi import RetryPolicy
from braze_cdi.testing import FakeBraze, FakeIntegration
from prefect_braze_cdi import BrazeCDICredentials


@pytest.fixture(scope="package", autouse=True)
def _prefect_server(prefect_api: None) -> None:
    """Every test here talks to the shared Prefect server (tests/conftest.py)."""


@pytest.fixture
def credentials(fake: FakeBraze, url: str) -> BrazeCDICredentials:
    # Short backoffs: a retried call takes milliseconds, not seconds.
    return BrazeCDICredentials(
        api_key=fake.api_key,
        rest_endpoint=url,
        retry=RetryPolicy(initial_delay=0.01, max_delay=0.05),
    )


@pytest.fixture
def integration(fake: FakeBraze) -> FakeIntegration:
    return fake.add_integration(name="users", duration=0.2, rows_synced=1234)


class PrefectRecords:
    """What the Prefect API stored about a flow run, read back as the UI would show it."""

    def __init__(self, client: SyncPrefectClient) -> None:
        self.client = client

    def flow_run(self, state: State) -> FlowRun:
        return self.client.read_flow_run(_flow_run_id(state))

    def task_runs(self, state: State, name_prefix: str) -> list[TaskRun]:
        """The flow run's task runs named ``name_prefix...``, once the server has recorded each
        one's final state.

        Task runs report their states as events: the client sends them from a background
        worker, and the server records them in a service of its own, so a read straight after
        the flow run can see a task run still pending, or none at all.
        """
        EventsWorker.drain_all(timeout=10)
        deadline = time.monotonic() + 15
        while True:
            runs = [
                run
                for run in self.client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[_flow_run_id(state)]))
                )
                if run.name.startswith(name_prefix)
            ]
            recorded = runs and all(run.state is not None and run.state.is_final() for run in runs)
            if recorded or time.monotonic() > deadline:
                return runs
            time.sleep(0.05)

    def artifacts(self, state: State) -> list[Artifact]:
        return self.client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[_flow_run_id(state)])
            )
        )

    def logs(self, state: State) -> list[str]:
        """Every log line of the flow run, its tasks' lines included."""
        APILogWorker.drain_all(timeout=10)
        logs = self.client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[_flow_run_id(state)]))
        )
        return [log.message for log in logs]

    def events(self, state: State, until: str) -> list[Event]:
        """The flow run's ``braze.cdi.*`` events, oldest first, once ``until`` is among them
        (the server persists events in batches)."""
        EventsWorker.drain_all(timeout=10)
        event_filter = EventFilter(
            event=EventNameFilter(prefix=["braze.cdi."]),
            related=EventRelatedFilter(id=[f"prefect.flow-run.{_flow_run_id(state)}"]),
        )
        deadline = time.monotonic() + 15
        while True:
            events = self.client.read_events(event_filter, limit=50).events
            if any(event.event == until for event in events) or time.monotonic() > deadline:
                return sorted(events, key=lambda event: event.occurred)
            time.sleep(0.1)


def _flow_run_id(state: State) -> UUID:
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    return run_id


@pytest.fixture
def prefect_records() -> Iterator[PrefectRecords]:
    with get_client(sync_client=True) as client:
        yield PrefectRecords(client)
