"""Each integration's page in the Braze dashboard, wherever the command shows an integration or a
sync: a ``dashboard_url`` in the JSON, a line under the table.

The fake the installed command reaches serves on loopback, a custom REST URL with no dashboard:
there the field is null and no line is printed. The links of a real instance are checked by
running the command in this process, configured for US-03, with the fake answering its
requests (nothing leaves the process).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from functools import partial

import pytest
from typer.testing import CliRunner, Result

import braze_cdi
from braze_cdi import AsyncBrazeCDIClient, BrazeCDIClient
from braze_cdi.testing import FakeBraze

from .conftest import Run

cli = importlib.import_module("braze_cdi.cli.app")

US_03_PAGE = "https://dashboard-03.braze.com/integrations/cloud_data_ingestion/"

RunOnUS03 = Callable[..., Result]
FAST = ("--poll-interval", "0.05")


@pytest.fixture
def braze_cdi_on_us_03(fake: FakeBraze, monkeypatch: pytest.MonkeyPatch) -> RunOnUS03:
    """``braze_cdi_on_us_03(*args)`` runs the command in this process with BRAZE_REST_ENDPOINT
    set to US-03, every client it makes answered by ``fake`` instead of Braze."""
    # The commands import the clients by their public names when they run.
    monkeypatch.setattr(braze_cdi, "BrazeCDIClient", partial(BrazeCDIClient, transport=fake))
    monkeypatch.setattr(
        braze_cdi, "AsyncBrazeCDIClient", partial(AsyncBrazeCDIClient, transport=fake)
    )
    environment = {"BRAZE_API_KEY": fake.api_key, "BRAZE_REST_ENDPOINT": "US-03", "COLUMNS": "200"}

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli.app, list(args), env=environment)

    return run


# --- on a custom REST URL (the fake on loopback): no page is known -------------------------


def test_integrations_json_has_a_null_dashboard_url_on_a_custom_url(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    fake.add_integration(name="users")

    ran = braze_cdi("integrations", "--json")

    assert ran.code == 0
    assert [item["dashboard_url"] for item in ran.json()] == [None]


def test_jobs_json_has_a_null_dashboard_url_on_a_custom_url(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    integration = fake.add_integration(history=2)

    ran = braze_cdi("jobs", integration.integration_id, "--json")

    assert ran.code == 0
    assert [job["dashboard_url"] for job in ran.json()] == [None, None]


@pytest.mark.parametrize("wait", [["--wait"], []], ids=["result", "handle"])
def test_sync_json_has_a_null_dashboard_url_on_a_custom_url(
    braze_cdi: Run, fake: FakeBraze, wait: list[str]
) -> None:
    integration = fake.add_integration(duration=0.0)

    ran = braze_cdi("sync", integration.integration_id, *wait, *FAST, "--json")

    assert ran.code == 0
    [outcome] = ran.json()
    assert outcome["dashboard_url"] is None


def test_a_table_has_no_dashboard_line_on_a_custom_url(braze_cdi: Run, fake: FakeBraze) -> None:
    integration = fake.add_integration(name="users", history=1)

    for args in (("integrations",), ("jobs", integration.integration_id)):
        ran = braze_cdi(*args)

        assert ran.code == 0
        assert ran.stdout.rstrip().endswith("┘")  # the table's last line ends the output
        assert "dashboard" not in ran.stdout.lower()


# --- on a documented instance: the page of each integration --------------------------------


def test_integrations_json_gives_each_integration_its_dashboard_url(
    braze_cdi_on_us_03: RunOnUS03, fake: FakeBraze
) -> None:
    ids = [fake.add_integration(name=name).integration_id for name in ("users", "purchases")]

    ran = braze_cdi_on_us_03("integrations", "--json")

    assert ran.exit_code == 0, ran.output
    listed = json.loads(ran.stdout)
    assert {item["integration_id"]: item["dashboard_url"] for item in listed} == {
        integration_id: f"{US_03_PAGE}{integration_id}" for integration_id in ids
    }


def test_integrations_table_is_followed_by_each_page_labelled_with_its_name(
    braze_cdi_on_us_03: RunOnUS03, fake: FakeBraze
) -> None:
    users = fake.add_integration(name="users").integration_id
    purchases = fake.add_integration(name="purchases").integration_id

    ran = braze_cdi_on_us_03("integrations")

    assert ran.exit_code == 0, ran.output
    lines = ran.stdout.splitlines()
    at = lines.index("Braze dashboard:")
    assert lines[at + 1 :] == [
        f"  users      {US_03_PAGE}{users}",
        f"  purchases  {US_03_PAGE}{purchases}",
    ]


def test_jobs_table_is_followed_by_the_integrations_page(
    braze_cdi_on_us_03: RunOnUS03, fake: FakeBraze
) -> None:
    integration_id = fake.add_integration(history=2).integration_id

    ran = braze_cdi_on_us_03("jobs", integration_id)

    assert ran.exit_code == 0, ran.output
    assert ran.stdout.splitlines()[-1] == f"Braze dashboard: {US_03_PAGE}{integration_id}"


def test_jobs_json_gives_every_job_the_integrations_dashboard_url(
    braze_cdi_on_us_03: RunOnUS03, fake: FakeBraze
) -> None:
    integration_id = fake.add_integration(history=2).integration_id

    ran = braze_cdi_on_us_03("jobs", integration_id, "--json")

    assert ran.exit_code == 0, ran.output
    assert [job["dashboard_url"] for job in json.loads(ran.stdout)] == [
        f"{US_03_PAGE}{integration_id}"
    ] * 2


@pytest.mark.parametrize("wait", [["--wait"], []], ids=["result", "handle"])
def test_sync_json_gives_each_outcome_its_dashboard_url(
    braze_cdi_on_us_03: RunOnUS03, fake: FakeBraze, wait: list[str]
) -> None:
    ok = fake.add_integration(name="users", duration=0.0).integration_id
    failing = fake.add_integration(name="events", duration=0.0, outcome="error").integration_id

    ran = braze_cdi_on_us_03("sync", ok, failing, *wait, *FAST, "--json")

    outcomes = json.loads(ran.stdout)
    assert {outcome["integration_id"]: outcome["dashboard_url"] for outcome in outcomes} == {
        ok: f"{US_03_PAGE}{ok}",
        failing: f"{US_03_PAGE}{failing}",
    }


def test_sync_wait_table_is_followed_by_each_page_labelled_with_its_name(
    braze_cdi_on_us_03: RunOnUS03, fake: FakeBraze
) -> None:
    users = fake.add_integration(name="users", duration=0.0).integration_id
    events = fake.add_integration(name="events", duration=0.0, outcome="error").integration_id

    ran = braze_cdi_on_us_03("sync", users, events, "--wait", *FAST)

    assert ran.exit_code == 1  # the events sync failed
    lines = ran.stdout.splitlines()
    at = lines.index("Braze dashboard:")
    assert lines[at + 1 :] == [
        f"  users   {US_03_PAGE}{users}",
        f"  events  {US_03_PAGE}{events}",
    ]


def test_one_sync_is_followed_by_its_page_on_one_line(
    braze_cdi_on_us_03: RunOnUS03, fake: FakeBraze
) -> None:
    integration_id = fake.add_integration(name="users", duration=0.0).integration_id

    ran = braze_cdi_on_us_03("sync", integration_id, "--wait", *FAST)

    assert ran.exit_code == 0, ran.output
    assert ran.stdout.splitlines()[-1] == f"Braze dashboard: {US_03_PAGE}{integration_id}"
