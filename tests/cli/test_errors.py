"""Bad input and refusals: the documented exit code, one clear line, no traceback, no key."""

from __future__ import annotations

import json
import socket
import subprocess

from braze_cdi.testing import FakeBraze

from .conftest import BRAZE_CDI, Run, command_environment

WRONG_KEY = "wrong-key-0123456789abcdef"


def test_missing_configuration_exits_2_and_names_the_variables(braze_cdi: Run) -> None:
    ran = braze_cdi("integrations", configured=False)

    assert ran.code == 2
    [line] = ran.error_lines
    assert "BRAZE_API_KEY" in line
    assert "BRAZE_REST_ENDPOINT" in line


def test_an_unsafe_integration_id_exits_2_before_any_request(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    ran = braze_cdi("sync", "ok-id", "../users", "--wait")

    assert ran.code == 2
    [line] = ran.error_lines
    assert "Invalid integration id '../users'" in line
    assert fake.requests == []


def test_a_bad_option_value_is_a_usage_error(braze_cdi: Run, fake: FakeBraze) -> None:
    ran = braze_cdi("sync", "some-id", "--wait", "--poll-interval", "0")

    assert ran.code == 2
    assert "Invalid value for '--poll-interval': must be more than 0 seconds" in ran.stderr
    assert fake.requests == []


def test_a_refused_key_exits_1_with_a_json_error_and_no_key(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    # The fixture fails the test if the wrong key shows anywhere in the output.
    ran = braze_cdi("integrations", "--json", env={"BRAZE_API_KEY": WRONG_KEY})

    assert ran.code == 1
    assert ran.json() == {
        "error": {
            "type": "BrazeAuthenticationError",
            "message": ran.json()["error"]["message"],
            "status_code": 401,
            "retryable": False,
            "exit_code": 1,
        }
    }
    [line] = ran.error_lines
    assert "Invalid API key" in line
    assert fake.count("list", status=401) == 1


def test_debug_adds_the_traceback_but_never_the_key(braze_cdi: Run, fake: FakeBraze) -> None:
    ran = braze_cdi("integrations", "--debug", "--api-key", WRONG_KEY)

    assert ran.code == 1
    assert "Traceback" in ran.stderr
    assert "BrazeAuthenticationError" in ran.stderr
    assert "HTTP Request: GET" in ran.stderr  # each request is logged


def test_a_connection_error_names_the_host(braze_cdi: Run) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = {
        f"127.0.0.1:{port}": f"http://127.0.0.1:{port}",
        "rest.braze-cdi-test.invalid": "https://rest.braze-cdi-test.invalid",
    }
    key = "a-key-for-this-test-0123"
    # At once: each retries its connection for a few seconds first.
    commands = {
        host: subprocess.Popen(
            [str(BRAZE_CDI), "integrations", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=command_environment(
                BRAZE_API_KEY=key, BRAZE_REST_ENDPOINT=endpoint, BRAZE_REQUEST_TIMEOUT="5"
            ),
        )
        for (host, endpoint), extra in zip(
            unreachable.items(), (["--json"], ["--debug"]), strict=True
        )
    }
    done = {host: command.communicate(timeout=120) for host, command in commands.items()}

    for host, command in commands.items():
        stdout, stderr = done[host]
        assert command.returncode == 1, stderr
        [line] = [line for line in stderr.splitlines() if line.startswith("Error:")]
        assert f"Listing integrations at {host} failed: ConnectError" in line
        assert key not in stdout + stderr
    [json_host, debug_host] = unreachable
    error = json.loads(done[json_host][0])["error"]
    assert (error["type"], error["exit_code"]) == ("BrazeTransportError", 1)
    assert json_host in error["message"]
    assert "Traceback" in done[debug_host][1]
