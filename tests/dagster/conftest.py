"""Fixtures of the Dagster adapter's tests: a FakeBraze on loopback and a resource pointed at it.

Jobs run in real time, so tests keep them short and the resource polls every 0.05 s.
"""

from collections.abc import Callable, Iterator

import dagster as dg
import pytest

from braze_cdi.testing import FakeBraze
from dagster_braze_cdi import BrazeCDIResource

POLL_SECONDS = 0.05


@pytest.fixture
def make_resource(fake: FakeBraze, url: str) -> Callable[..., BrazeCDIResource]:
    """A resource pointed at the fake, with short waits; keyword arguments change settings."""

    def make(**settings: object) -> BrazeCDIResource:
        options: dict[str, object] = {
            "api_key": fake.api_key,
            "rest_endpoint": url,
            "poll_interval": POLL_SECONDS,
            "max_wait": 10.0,
            "retry_initial_delay": 0.01,
            **settings,
        }
        return BrazeCDIResource(**options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def resource(make_resource: Callable[..., BrazeCDIResource]) -> BrazeCDIResource:
    return make_resource()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A persistent instance (sensor contexts refuse an ephemeral one)."""
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def event_log_text() -> Callable[[dg.DagsterInstance, str], str]:
    """Everything a run's event log holds, serialized as Dagster stores it."""

    def text(instance: dg.DagsterInstance, run_id: str) -> str:
        return "\n".join(dg.serialize_value(entry) for entry in instance.all_logs(run_id))

    return text


@pytest.fixture
def log_messages() -> Callable[[dg.DagsterInstance, str], list[str]]:
    """A run's plain log messages (the ``context.log`` lines)."""

    def messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
        return [
            entry.user_message for entry in instance.all_logs(run_id) if entry.dagster_event is None
        ]

    return messages
