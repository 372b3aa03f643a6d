"""``examples/dagster_defs.py``: it validates without Braze settings, and runs against the
workspace ``braze-cdi fake`` serves."""

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import dagster as dg
import pytest

from braze_cdi.cli.sample import sample_workspace
from braze_cdi.testing import FakeBraze

EXAMPLE = Path(__file__).parents[2] / "examples" / "dagster_defs.py"


def test_dagster_definitions_validate_passes_without_braze_settings(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("BRAZE_")}
    # A ready instance loads faster than the temporary one validate would make.
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env["DAGSTER_HOME"] = str(tmp_path)
    dagster = Path(sys.executable).parent / "dagster"

    completed = subprocess.run(
        [str(dagster), "definitions", "validate", "-f", str(EXAMPLE)],
        cwd=tmp_path,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    assert "All code locations passed validation" in completed.stderr + completed.stdout


@pytest.fixture
def workspace() -> Iterator[tuple[FakeBraze, str]]:
    """The sample workspace of ``braze-cdi fake``, with instant jobs to keep the test short."""
    fake = sample_workspace()
    for integration in fake.integrations.values():
        integration.duration = 0.0
    with fake.serve() as url:
        yield fake, url


@pytest.fixture
def example(workspace: tuple[FakeBraze, str], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    fake, url = workspace
    monkeypatch.setenv("BRAZE_API_KEY", fake.api_key)
    monkeypatch.setenv("BRAZE_REST_ENDPOINT", url)
    for name in ("BRAZE_USERS_INTEGRATION_ID", "BRAZE_PURCHASES_INTEGRATION_ID"):
        monkeypatch.delenv(name, raising=False)
    spec = importlib.util.spec_from_file_location("braze_cdi_dagster_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_runs_against_braze_cdi_fake(
    workspace: tuple[FakeBraze, str], example: ModuleType
) -> None:
    fake, _ = workspace
    defs: dg.Definitions = example.defs

    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=dg.DagsterInstance.ephemeral()
    )

    assert result.success
    assert result.is_node_success("campaign_audiences")
    statuses = {
        event.asset_key.to_user_string(): event.materialization.metadata["job_status"].value
        for event in result.get_asset_materialization_events()
        if "job_status" in event.materialization.metadata
    }
    assert statuses == {"braze/users": "success", "braze/purchases": "partial"}
    assert all(check.passed for check in result.get_asset_check_evaluations())
    assert len(result.get_asset_check_evaluations()) == 10
    assert sum(integration.triggered_jobs for integration in fake.integrations.values()) == 2
