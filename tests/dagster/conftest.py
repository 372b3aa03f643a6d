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


#: The shape of the ``workspace`` fixture's 45 integrations: 5 pages of Braze's 10.
WAREHOUSES = ("SNOWFLAKE", "BIGQUERY", "REDSHIFT", "DATABRICKS")
TYPES = ("users", "catalogs", "events")
PAUSED = (7, 21, 38)  # positions of the paused ones
DUPLICATE_NAME = "users"  # positions 0 and 30 are both named this


@pytest.fixture
def workspace(fake: FakeBraze) -> list[str]:
    """45 integrations in the fake, in list order (their ids): warehouse and integration types
    mixed, 3 paused, two of them named ``users``, each with one finished job in its past; jobs
    of a triggered sync take no time."""
    ids = []
    for position in range(45):
        name = DUPLICATE_NAME if position in (0, 30) else f"table {position:02d}"
        integration = fake.add_integration(
            name=name,
            history=1,
            duration=0.0,
            warehouse_type=WAREHOUSES[position % len(WAREHOUSES)],
            integration_type=TYPES[position % len(TYPES)],
            integration_status="paused" if position in PAUSED else "active",
        )
        ids.append(integration.integration_id)
    return ids
