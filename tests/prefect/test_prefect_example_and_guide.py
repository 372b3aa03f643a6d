"""The runnable example runs as a user would run it (the guide's code runs in tests/docs)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from braze_cdi.testing import FakeBraze

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "prefect_flow.py"


def test_example_runs_out_of_the_box_against_its_own_fake(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BRAZE_API_KEY", raising=False)
    monkeypatch.delenv("BRAZE_REST_ENDPOINT", raising=False)
    main = runpy.run_path(str(EXAMPLE))["main"]

    assert main([]) == 0

    out = capsys.readouterr().out
    assert "syncing against a FakeBraze" in out
    assert out.count(": success, ") == 2


def test_example_syncs_the_workspace_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeBraze()
    integration = fake.add_integration(duration=0.1, rows_synced=42)
    main = runpy.run_path(str(EXAMPLE))["main"]

    with fake.serve() as url:
        monkeypatch.setenv("BRAZE_API_KEY", fake.api_key)
        monkeypatch.setenv("BRAZE_REST_ENDPOINT", url)
        assert main([integration.integration_id, "--poll-interval", "0.05"]) == 0

    assert f"{integration.integration_id}: success, 42 rows synced" in capsys.readouterr().out
    assert integration.triggered_jobs == 1


def test_example_explains_an_incomplete_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRAZE_API_KEY", "my-rest-api-key-1234")
    monkeypatch.delenv("BRAZE_REST_ENDPOINT", raising=False)
    main = runpy.run_path(str(EXAMPLE))["main"]

    assert main(["some-integration"]) == 2
    assert "BRAZE_REST_ENDPOINT" in capsys.readouterr().err
