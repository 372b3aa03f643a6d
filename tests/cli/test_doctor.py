"""`braze-cdi doctor`, the installed script against FakeBraze configured for each finding: the
finding and its fix in the text, the same in ``--json``, exit 0 when nothing is wrong and 1
when something is."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from braze_cdi import Diagnosis
from braze_cdi.testing import FakeBraze, FakeClock

from .conftest import Ran, Run

DNS_FAILURE = "https://rest.doctor-test.invalid"  # .invalid never resolves (RFC 6761)


def _problems(ran: Ran) -> list[tuple[str, str | None]]:
    diagnosis = Diagnosis.model_validate(ran.json())
    return [(finding.check, finding.subject) for finding in diagnosis.problems]


@pytest.fixture
def other_instance() -> Iterator[tuple[FakeBraze, str]]:
    """Another Braze instance on loopback, whose workspace the key belongs to."""
    other = FakeBraze(api_key="the-key-of-the-us-03-workspace")
    with other.serve() as url:
        yield other, url


def test_a_healthy_workspace_exits_0(braze_cdi: Run, fake: FakeBraze) -> None:
    fake.add_integration(name="users", history=2)

    ran = braze_cdi("doctor")

    assert ran.code == 0, ran.stdout
    assert "✔ endpoint" in ran.stdout
    assert "cannot be checked without triggering" in ran.stdout  # cdi.integration_sync
    assert ran.stdout.rstrip().endswith("Nothing is wrong.")
    assert fake.count("trigger") == 0


def test_a_healthy_workspace_in_json_is_ok(braze_cdi: Run, fake: FakeBraze) -> None:
    fake.add_integration(name="users", history=2)

    ran = braze_cdi("doctor", "--json")

    assert ran.code == 0
    assert ran.json()["ok"] is True
    assert _problems(ran) == []


def test_a_key_of_another_instance_is_named_with_find_instance(
    braze_cdi: Run, url: str, other_instance: tuple[FakeBraze, str]
) -> None:
    other, other_url = other_instance
    instances = json.dumps({"US-01": url, "US-03": other_url})
    env = {"BRAZE_API_KEY": other.api_key, "BRAZE_CDI_DOCTOR_INSTANCES": instances}

    text = braze_cdi("doctor", "--find-instance", env=env)
    as_json = braze_cdi("doctor", "--find-instance", "--json", env=env)

    assert text.code == as_json.code == 1
    assert "refuses the key (401), but US-03" in text.stdout
    assert "Fix: Set the REST endpoint to US-03." in text.stdout
    assert _problems(as_json) == [("key", "US-03")]
    assert as_json.json()["key_instance"] == "US-03"


def test_without_find_instance_the_key_goes_to_no_other_instance(
    braze_cdi: Run, other_instance: tuple[FakeBraze, str]
) -> None:
    other, other_url = other_instance
    instances = json.dumps({"US-03": other_url})

    ran = braze_cdi(
        "doctor", env={"BRAZE_API_KEY": other.api_key, "BRAZE_CDI_DOCTOR_INSTANCES": instances}
    )

    assert ran.code == 1
    assert "--find-instance" in ran.stdout
    assert other.requests == []


def test_a_missing_permission_exits_1_with_its_fix(braze_cdi: Run, fake: FakeBraze) -> None:
    fake.add_integration(name="users", history=1)
    fake.add_key("a-key-with-cdi-integration-list-only", {"cdi.integration_list"})
    env = {"BRAZE_API_KEY": "a-key-with-cdi-integration-list-only"}

    text = braze_cdi("doctor", env=env)
    as_json = braze_cdi("doctor", "--json", env=env)

    assert text.code == as_json.code == 1
    assert "✖ permission" in text.stdout
    assert "The key lacks cdi.integration_job_status" in text.stdout
    assert "Fix: Create a REST API key with cdi.integration_job_status" in text.stdout
    assert _problems(as_json) == [("permission", "cdi.integration_job_status")]


def test_a_paused_integration_exits_1(braze_cdi: Run, fake: FakeBraze) -> None:
    paused = fake.add_integration(name="events", integration_status="paused")

    text = braze_cdi("doctor")
    as_json = braze_cdi("doctor", "--json")

    assert text.code == as_json.code == 1
    assert f"Integration events ({paused.integration_id}) is paused" in text.stdout
    assert "Fix: Resume it in the Braze dashboard" in text.stdout
    assert _problems(as_json) == [("integration", paused.integration_id)]


def test_a_stuck_schedule_exits_1(braze_cdi: Run, fake: FakeBraze) -> None:
    stuck = fake.add_integration(name="users", next_scheduled_run=time.time() - 3 * 3600)

    text = braze_cdi("doctor")
    as_json = braze_cdi("doctor", "--json")

    assert text.code == as_json.code == 1
    assert "its schedule looks stuck" in text.stdout
    assert "Fix: Check the integration's schedule" in text.stdout
    assert _problems(as_json) == [("integration", stuck.integration_id)]


def test_a_busy_rate_window_exits_1(braze_cdi: Run) -> None:
    # A clock that stands still: Braze's window cannot roll over during the test.
    busy = FakeBraze(clock=FakeClock(start=time.time()))
    busy.add_integration(name="users")
    busy.use_rate_limit("list", 45)
    with busy.serve() as busy_url:
        env = {"BRAZE_API_KEY": busy.api_key, "BRAZE_REST_ENDPOINT": busy_url}
        text = braze_cdi("doctor", env=env)
        as_json = braze_cdi("doctor", "--json", env=env)

    assert text.code == as_json.code == 1
    assert "use 45 of the 50 integration-list calls" in text.stdout
    assert "Fix: Every key of the workspace shares this limit" in text.stdout
    assert _problems(as_json) == [("rate_window", "list")]
    [window] = [w for w in as_json.json()["rate_windows"] if w["endpoint"] == "list"]
    assert (window["other_calls"], window["busy"]) == (46, True)  # the text run's call too


def test_a_skewed_clock_exits_1(braze_cdi: Run) -> None:
    skewed = FakeBraze(clock_skew=600.0)
    with skewed.serve() as skewed_url:
        env = {"BRAZE_API_KEY": skewed.api_key, "BRAZE_REST_ENDPOINT": skewed_url}
        text = braze_cdi("doctor", env=env)
        as_json = braze_cdi("doctor", "--json", env=env)

    assert text.code == as_json.code == 1
    assert "s ahead of this machine's" in text.stdout
    assert "Fix: Synchronise this machine's clock with NTP" in text.stdout
    assert _problems(as_json) == [("clock", None)]
    assert 595 <= as_json.json()["clock_offset_seconds"] <= 600


def test_a_name_that_does_not_resolve_exits_1_naming_dns(braze_cdi: Run) -> None:
    env = {"BRAZE_REST_ENDPOINT": DNS_FAILURE}

    text = braze_cdi("doctor", env=env)
    as_json = braze_cdi("doctor", "--json", env=env)

    assert text.code == as_json.code == 1
    assert "✖ endpoint The name rest.doctor-test.invalid does not resolve (DNS" in text.stdout
    assert "Fix: Check the REST endpoint" in text.stdout
    assert _problems(as_json) == [("endpoint", "DNS")]


def test_a_missing_configuration_exits_2(braze_cdi: Run) -> None:
    ran = braze_cdi("doctor", configured=False)

    assert ran.code == 2
    assert ran.error_lines[0].startswith("Error: Set BRAZE_API_KEY (or --api-key)")


def test_a_malformed_instance_table_exits_2(braze_cdi: Run) -> None:
    ran = braze_cdi(
        "doctor", "--find-instance", env={"BRAZE_CDI_DOCTOR_INSTANCES": "US-03=nowhere"}
    )

    assert ran.code == 2
    assert "BRAZE_CDI_DOCTOR_INSTANCES must be a JSON object" in ran.stderr
