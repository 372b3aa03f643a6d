"""Fixtures shared by every test folder: a FakeBraze served on real loopback HTTP."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from braze_cdi.testing import FakeBraze, FakeJob


@pytest.fixture(autouse=True)
def state_directory(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test keeps its state (the rate budgets shared between processes, the command
    line's run records) in a directory of its own, which the processes it starts inherit."""
    directory = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("BRAZE_CDI_STATE_DIR", str(directory))
    return directory


@pytest.fixture
def fake() -> FakeBraze:
    return FakeBraze()


@pytest.fixture
def url(fake: FakeBraze) -> Iterator[str]:
    with fake.serve() as served:
        yield served


#: ``running_job(integration_id)``: see the fixture.
RunningJob = Callable[[str], FakeJob]


@pytest.fixture
def running_job(fake: FakeBraze) -> Iterator[RunningJob]:
    """``running_job(integration_id)`` starts a job as Braze's schedule would, that runs until
    the fake has had two job-status requests of that integration, then ends.

    However slowly the code under test gets going, its first look finds the job running, and
    its next one finds it ended: a job "long enough to be running still" measured in seconds
    is not, on a loaded machine.
    """
    watchers: list[threading.Thread] = []

    def start(integration_id: str) -> FakeJob:
        job = fake.start_job(integration_id, duration=math.inf)

        def end_it() -> None:
            deadline = time.monotonic() + 120
            while fake.count("status", integration_id=integration_id) < 2:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.005)
            job.duration = fake.clock.time() - job.start

        watcher = threading.Thread(target=end_it, daemon=True)
        watcher.start()
        watchers.append(watcher)
        return job

    yield start
    for watcher in watchers:
        watcher.join(timeout=1)


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One temporary Prefect server on loopback for the whole run (the Prefect tests and the
    documents that need one): starting one costs seconds.

    Its triggers are off, so that an automation a page creates never acts (a notification
    would leave the machine).
    """
    from prefect.settings import (  # only runs that need Prefect pay for it
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL,
        PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    settings = {
        # The heartbeat thread makes every flow run wait up to a second before it returns.
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: 0.1,
        PREFECT_SERVER_ANALYTICS_ENABLED: False,
        PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED: False,
    }
    with temporary_settings(updates=settings), prefect_test_harness():
        yield
