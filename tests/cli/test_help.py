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
