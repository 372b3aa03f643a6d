"""Fixtures shared by every test folder: a FakeBraze served on real loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from braze_cdi.testing import FakeBraze


@pytest.fixture
def fake() -> FakeBraze:
    return FakeBraze()


@pytest.fixture
def url(fake: FakeBraze) -> Iterator[str]:
    with fake.serve() as served:
        yield served


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
