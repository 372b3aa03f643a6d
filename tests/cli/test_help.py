"""`--help` documents the exit codes and the configuration, and never shows a key."""

from __future__ import annotations

from braze_cdi.testing import FakeBraze

from .conftest import Run


def test_help_documents_the_exit_codes_and_the_configuration(braze_cdi: Run) -> None:
    ran = braze_cdi("--help", configured=False)

    assert ran.code == 0
    for documented in (
        "Exit codes",
        "0: success",
        "1: a sync failed",
        "2: bad usage or configuration",
        "3: a wait timed out",
        "BRAZE_API_KEY",
        "BRAZE_REST_ENDPOINT",
    ):
        assert documented in ran.stdout


def test_sync_help_names_the_variables_but_never_shows_their_values(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    # The fixture sets BRAZE_API_KEY to the fake's key, and fails the test if it is printed.
    ran = braze_cdi("sync", "--help")

    assert ran.code == 0
    assert "env var: BRAZE_API_KEY" in ran.stdout
    assert "--if-running" in ran.stdout
    assert "3: a wait timed out" in ran.stdout


def test_help_shows_flags_as_flags(braze_cdi: Run) -> None:
    # `--wait <bool>` read as if --wait took a value: `--wait true` made `true` an id.
    commands = ["integrations", "jobs", "sync", "wait", "fake", "demo", "doctor"]
    for command in [[], *([name] for name in commands)]:
        ran = braze_cdi(*command, "--help", configured=False)

        assert ran.code == 0, command
        assert "<bool>" not in ran.stdout, command
    sync_help = braze_cdi("sync", "--help", configured=False).stdout
    for flag in ("--wait", "--json", "--fail-on-partial", "--debug"):
        [line] = [line for line in sync_help.splitlines() if line.startswith(f"│ {flag} ")]
        assert "<" not in line, line


def test_a_value_given_to_a_flag_is_refused_not_taken_as_an_id(
    braze_cdi: Run, fake: FakeBraze
) -> None:
    integration = fake.add_integration()

    ran = braze_cdi("sync", integration.integration_id, "--wait", "true")

    assert ran.code == 2
    [line] = ran.error_lines
    assert "'true' is not an integration id" in line
    assert "flags and take no value" in line
    assert fake.requests == []
