"""`diagnose`, through both clients over loopback HTTP: one finding per thing that can be wrong,
each problem with its fix, and never a trigger."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from braze_cdi import Diagnosis, Finding, RateWindow
from braze_cdi.testing import FakeBraze, FakeClock

from .conftest import Api

DNS_FAILURE = "https://rest.doctor-test.invalid"  # .invalid never resolves (RFC 6761)
LIST_ONLY = "a-key-with-cdi-integration-list-only"


def _problems(diagnosis: Diagnosis) -> list[tuple[str, str | None]]:
    return [(finding.check, finding.subject) for finding in diagnosis.problems]


def _finding(diagnosis: Diagnosis, check: str, subject: str | None = None) -> Finding:
    [found] = [
        f
        for f in diagnosis.findings
        if f.check == check and (subject is None or f.subject == subject)
    ]
    return found


@pytest.fixture
def other_instance() -> Iterator[tuple[FakeBraze, str]]:
    """A second Braze instance, on loopback, that knows a key the fake of the test does not."""
    other = FakeBraze(api_key="the-key-of-the-us-03-workspace")
    with other.serve() as url:
        yield other, url


def test_a_healthy_workspace_has_no_problem_and_no_trigger(api: Api, fake: FakeBraze) -> None:
    fake.add_integration(name="users", history=2)

    diagnosis = api.call("diagnose")

    assert diagnosis.ok
    assert [(f.check, f.verdict) for f in diagnosis.findings] == [
        ("endpoint", "ok"),
        ("key", "ok"),
        ("permission", "ok"),
        ("permission", "ok"),
        ("permission", "not_checked"),
        ("rate_window", "ok"),
        ("rate_window", "ok"),
        ("clock", "ok"),
        ("integration", "ok"),
    ]
    assert fake.count("trigger") == 0
    assert (fake.count("list"), fake.count("status")) == (1, 1)


def test_the_sync_permission_is_said_to_be_unchecked(api: Api, fake: FakeBraze) -> None:
    finding = _finding(api.call("diagnose"), "permission", "cdi.integration_sync")

    assert finding.verdict == "not_checked"
    assert "cannot be checked without triggering" in finding.summary


def test_find_instance_names_the_instance_that_accepts_the_key(
    api: Api, fake: FakeBraze, other_instance: tuple[FakeBraze, str]
) -> None:
    other, other_url = other_instance
    api.api_key = other.api_key

    diagnosis = api.call(
        "diagnose", find_instance=True, instances={"US-01": api.url, "US-03": other_url}
    )

    assert _problems(diagnosis) == [("key", "US-03")]
    assert diagnosis.key_instance == "US-03"
    key = _finding(diagnosis, "key")
    assert "refuses the key (401)" in key.summary
    assert "sent to Braze's instances" in key.summary
    assert key.fix == "Set the REST endpoint to US-03."
    # The configured endpoint is asked once, not again as one of the instances.
    assert (fake.count("list", status=401), other.count("list", status=200)) == (1, 1)


def test_without_find_instance_the_key_is_sent_nowhere_else(
    api: Api, fake: FakeBraze, other_instance: tuple[FakeBraze, str]
) -> None:
    other, other_url = other_instance
    api.api_key = other.api_key

    diagnosis = api.call("diagnose", instances={"US-03": other_url})

    assert _problems(diagnosis) == [("key", None)]
    assert "--find-instance" in (_finding(diagnosis, "key").fix or "")
    assert other.requests == []


def test_a_key_no_instance_accepts_is_a_key_to_replace(
    api: Api, fake: FakeBraze, other_instance: tuple[FakeBraze, str]
) -> None:
    _, other_url = other_instance
    api.api_key = "a-key-no-instance-knows-0123"

    diagnosis = api.call("diagnose", find_instance=True, instances={"US-03": other_url})

    key = _finding(diagnosis, "key")
    assert key.verdict == "problem"
    assert "every other Braze instance it was sent to (1)" in key.summary
    assert (key.fix or "").startswith("Create a new REST API key")
    assert diagnosis.key_instance is None


def test_a_missing_job_status_permission_is_a_problem(api: Api, fake: FakeBraze) -> None:
    fake.add_integration(name="users")
    fake.add_key(LIST_ONLY, {"cdi.integration_list"})
    api.api_key = LIST_ONLY

    diagnosis = api.call("diagnose")

    assert _problems(diagnosis) == [("permission", "cdi.integration_job_status")]
    finding = diagnosis.problems[0]
    assert "Braze answered 403" in finding.summary
    assert finding.fix is not None
    assert finding.fix.startswith("Create a REST API key with cdi.integration_job_status")


def test_a_missing_list_permission_leaves_the_rest_unchecked(api: Api, fake: FakeBraze) -> None:
    fake.add_integration(name="users")
    fake.add_key("a-key-without-cdi-integration-list", {"cdi.integration_job_status"})
    api.api_key = "a-key-without-cdi-integration-list"

    diagnosis = api.call("diagnose")

    assert _problems(diagnosis) == [("permission", "cdi.integration_list")]
    assert _finding(diagnosis, "key").verdict == "ok"  # a 403 means Braze knows the key
    assert _finding(diagnosis, "permission", "cdi.integration_job_status").verdict == (
        "not_checked"
    )
    assert _finding(diagnosis, "integration").verdict == "not_checked"


def test_the_job_status_permission_is_unchecked_without_an_integration(api: Api) -> None:
    diagnosis = api.call("diagnose")

    assert diagnosis.ok
    finding = _finding(diagnosis, "permission", "cdi.integration_job_status")
    assert finding.verdict == "not_checked"
    assert "no integration" in finding.summary


def test_a_paused_integration_is_a_problem(api: Api, fake: FakeBraze) -> None:
    fake.add_integration(name="users", history=1)
    paused = fake.add_integration(name="events", integration_status="PAUSED")

    diagnosis = api.call("diagnose")

    assert _problems(diagnosis) == [("integration", paused.integration_id)]
    assert "events" in diagnosis.problems[0].summary
    assert "Resume it in the Braze dashboard" in (diagnosis.problems[0].fix or "")


@pytest.mark.parametrize("outcome", ["error", "config_error"])
def test_a_last_job_that_failed_is_a_problem(api: Api, fake: FakeBraze, outcome: str) -> None:
    failing = fake.add_integration(name="purchases", history=1)
    fake.start_job(failing.integration_id, duration=0.0, outcome=outcome)

    diagnosis = api.call("diagnose")

    assert _problems(diagnosis) == [("integration", failing.integration_id)]
    assert f"ended {outcome}" in diagnosis.problems[0].summary


def test_a_schedule_long_overdue_is_stuck(virtual: tuple[FakeBraze, Api], clock: FakeClock) -> None:
    fake, api = virtual
    stuck = fake.add_integration(name="users", next_scheduled_run=clock.time() - 2 * 3600)
    fake.add_integration(name="late", next_scheduled_run=clock.time() - 10 * 60)  # within grace

    diagnosis = api.call("diagnose")

    assert _problems(diagnosis) == [("integration", stuck.integration_id)]
    assert "is 2 h 0 min overdue by Braze's clock" in diagnosis.problems[0].summary


def test_a_busy_rate_window_says_what_other_clients_use(
    virtual: tuple[FakeBraze, Api],
) -> None:
    fake, api = virtual
    fake.add_integration(name="users")
    fake.use_rate_limit("list", 40)

    diagnosis = api.call("diagnose")

    assert _problems(diagnosis) == [("rate_window", "list")]
    assert "use 40 of the 50 integration-list calls" in diagnosis.problems[0].summary
    windows = {window.endpoint: window for window in diagnosis.rate_windows}
    assert (windows["list"].other_calls, windows["list"].own_calls) == (40, 1)
    assert not windows["status"].busy


def test_a_skewed_clock_is_a_problem(virtual: tuple[FakeBraze, Api]) -> None:
    fake, api = virtual
    fake.clock_skew = -120.0

    diagnosis = api.call("diagnose")

    assert _problems(diagnosis) == [("clock", None)]
    assert diagnosis.clock_offset_seconds == -120.0
    assert "120 s behind this machine's" in diagnosis.problems[0].summary


def test_a_name_that_does_not_resolve_fails_at_dns(api: Api) -> None:
    api.url = DNS_FAILURE

    diagnosis = api.call("diagnose")

    [finding] = diagnosis.findings
    assert (finding.check, finding.verdict, finding.subject) == ("endpoint", "problem", "DNS")
    assert "rest.doctor-test.invalid does not resolve" in finding.summary


def test_a_closed_port_fails_at_connect(api: Api) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api.url = f"http://127.0.0.1:{port}"

    [finding] = api.call("diagnose").findings

    assert (finding.check, finding.subject) == ("endpoint", "connect")


def test_a_server_without_tls_fails_at_tls(api: Api) -> None:
    api.url = api.url.replace("http://", "https://")  # the fake speaks plain HTTP

    [finding] = api.call("diagnose").findings

    assert (finding.check, finding.subject) == ("endpoint", "TLS")


def test_a_server_error_fails_at_http_and_is_not_retried(api: Api, fake: FakeBraze) -> None:
    fake.inject("list", status=503)

    [finding] = api.call("diagnose").findings

    assert (finding.check, finding.subject) == ("endpoint", "HTTP")
    assert "status.braze.com" in (finding.fix or "")
    assert fake.count("list") == 1


def test_every_problem_has_a_fix() -> None:
    with pytest.raises(ValidationError, match="a problem needs its fix"):
        Finding(check="clock", verdict="problem", summary="The clock is off.")


def test_a_diagnosis_round_trips_through_json(api: Api, fake: FakeBraze) -> None:
    fake.add_integration(name="users", integration_status="paused")
    diagnosis = api.call("diagnose")

    dumped = diagnosis.model_dump(mode="json")

    assert dumped["ok"] is False
    assert Diagnosis.model_validate(dumped) == diagnosis
    assert RateWindow.model_validate(dumped["rate_windows"][0]) == diagnosis.rate_windows[0]
