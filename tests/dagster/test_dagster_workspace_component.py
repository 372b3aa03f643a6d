"""The state-backed ``dg`` component of a whole workspace, loaded from the project in
``workspace_project/`` (copied to a temporary folder, where its state is written) against a
FakeBraze of 45 integrations on loopback."""

import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster.components.testing import create_defs_folder_sandbox
from dagster.components.utils.project_paths import get_local_state_path

from braze_cdi import BrazeConfigError
from braze_cdi.testing import FakeBraze
from dagster_braze_cdi.workspace_component import BrazeCDIWorkspaceComponent

from .conftest import PAUSED, TYPES, WAREHOUSES

PROJECT = Path(__file__).parent / "workspace_project"
PACKAGE = "braze_cdi_workspace_project"
DEFS_YAML = Path(PACKAGE, "defs", "braze_workspace", "defs.yaml")
STATE_KEY = "BrazeCDIWorkspaceComponent[env.BRAZE_REST_ENDPOINT, env.BRAZE_API_KEY]"
#: The component's step, resource and sensor are named after its folder, braze_workspace.
STEP = "braze_cdi_workspace__braze_workspace"
SENSOR = "braze_cdi_workspace_sensor__braze_workspace"
#: The checks of each asset: the sync's two, the job history's three, the schedule's.
CHECKS = {
    "braze_cdi_sync_succeeded",
    "braze_cdi_failed_rows",
    "braze_cdi_job_status",
    "braze_cdi_job_freshness",
    "braze_cdi_job_failed_rows",
    "braze_cdi_schedule_ran",
}


def _forget_project_modules() -> None:
    # Every test has its own copy of the project under the same module name.
    for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
        del sys.modules[name]


@pytest.fixture
def project(
    tmp_path: Path, fake: FakeBraze, url: str, workspace: list[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A copy of the project, its YAML's environment pointing at the fake, no state yet."""
    copy = tmp_path / "workspace_project"
    shutil.copytree(PROJECT, copy)
    monkeypatch.setenv("BRAZE_API_KEY", fake.api_key)
    monkeypatch.setenv("BRAZE_REST_ENDPOINT", url)
    monkeypatch.delenv("DAGSTER_IS_DEV_CLI", raising=False)  # dagster dev would refresh at load
    monkeypatch.syspath_prepend(str(copy))
    _forget_project_modules()
    yield copy
    _forget_project_modules()


def refresh_defs_state(project: Path) -> None:
    """What ``dg utils refresh-defs-state`` does: refresh every state-backed component of the
    project's component tree."""
    tree = dg.ComponentTree.for_project(project)
    for component in tree.get_all_components(of_type=dg.StateBackedComponent):
        asyncio.run(component.refresh_state(tree.project_root))


@pytest.fixture
def refreshed(project: Path, fake: FakeBraze) -> Path:
    """The project with its state refreshed, and the fake's record of requests emptied."""
    refresh_defs_state(project)
    fake.requests.clear()
    return project


def load(project: Path) -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=project)


@pytest.fixture
def defs(refreshed: Path) -> dg.Definitions:
    return load(refreshed)


def workspace_assets(defs: dg.Definitions) -> dg.AssetsDefinition:
    """The component's multi-asset."""
    [assets] = [
        assets
        for assets in defs.resolve_asset_graph().assets_defs
        if assets.is_executable and assets.node_def.name == STEP
    ]
    return assets


def edit_attributes(project: Path, **attributes: object) -> None:
    """Change attributes of the project's defs.yaml."""
    path = project / DEFS_YAML
    document = yaml.safe_load(path.read_text())
    document["attributes"].update(attributes)
    path.write_text(yaml.safe_dump(document))


def selected_positions() -> list[int]:
    """Positions of the ``workspace`` fixture that the project's selector keeps: active
    integrations of a Snowflake or BigQuery warehouse."""
    return [
        position
        for position in range(45)
        if WAREHOUSES[position % len(WAREHOUSES)] in ("SNOWFLAKE", "BIGQUERY")
        and position not in PAUSED
    ]


def identifier(position: int, workspace: list[str]) -> str:
    # Position 0 is one of the two integrations named "users": the start of its id tells it apart.
    return f"users_{workspace[0][:8]}" if position == 0 else f"table_{position:02d}"


def test_refreshing_reads_the_list_once_per_ten_integrations_and_keeps_it(
    project: Path, fake: FakeBraze, workspace: list[str]
) -> None:
    refresh_defs_state(project)

    assert fake.count("list") == math.ceil(len(workspace) / 10) == 5
    assert len(fake.requests) == 5  # nothing but the list
    state = get_local_state_path(STATE_KEY, project)
    assert state.is_relative_to(project)  # the copy's, not the repository's
    kept = json.loads(state.read_text())
    assert [integration["integration_id"] for integration in kept] == workspace


def test_loading_makes_no_call_to_braze(fake: FakeBraze, defs: dg.Definitions) -> None:
    assert len(workspace_assets(defs).keys) == 22
    assert fake.requests == []


def test_before_the_first_refresh_the_component_defines_nothing_and_says_how_to_refresh(
    project: Path, fake: FakeBraze, caplog: pytest.LogCaptureFixture
) -> None:
    defs = load(project)

    assert list(defs.resolve_all_asset_keys()) == []
    assert "dg utils refresh-defs-state" in caplog.text
    assert fake.requests == []


def test_a_selector_that_keeps_nothing_defines_nothing_and_says_so(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    edit_attributes(project, selector={"names": ["no_such_integration_*"]})
    refresh_defs_state(project)

    defs = load(project)

    assert list(defs.resolve_all_asset_keys()) == []
    assert "selects none of the workspace's integrations" in caplog.text


def test_the_selector_and_translation_from_yaml_shape_the_specs(
    defs: dg.Definitions, workspace: list[str]
) -> None:
    specs = {spec.key: spec for spec in workspace_assets(defs).specs}

    expected = {
        dg.AssetKey(["crm", identifier(position, workspace)]): position
        for position in selected_positions()
    }
    assert specs.keys() == expected.keys()
    assert len(specs) == 22  # 12 Snowflake and 11 BigQuery integrations, one of them paused
    for key, position in expected.items():
        spec = specs[key]
        assert spec.group_name == "braze"
        assert [dep.asset_key for dep in spec.deps] == [
            dg.AssetKey(["warehouse", identifier(position, workspace)])
        ]
        assert spec.tags["team"] == "crm"
        assert spec.tags["integration_type"] == TYPES[position % len(TYPES)]
        assert spec.kinds == {"braze", WAREHOUSES[position % len(WAREHOUSES)].lower()}
        assert spec.metadata["braze_cdi/integration_id"] == workspace[position]


def test_job_checks_and_the_sensor_come_from_yaml(defs: dg.Definitions) -> None:
    check_keys = defs.resolve_asset_graph().asset_check_keys

    assert {key.name for key in check_keys} == CHECKS
    assert len(check_keys) == 22 * len(CHECKS)
    sensor = defs.resolve_sensor_def(SENSOR)
    assert sensor.minimum_interval_seconds == 60


def test_the_sensor_ticks_with_the_component_resource(
    defs: dg.Definitions, instance: dg.DagsterInstance, workspace: list[str]
) -> None:
    sensor = defs.resolve_sensor_def(SENSOR)

    result = sensor(dg.build_sensor_context(instance, resources=defs.resources))

    assert isinstance(result, dg.SensorResult)
    expected = {dg.AssetKey(["crm", identifier(p, workspace)]) for p in selected_positions()}
    recorded = {
        event.asset_key
        for event in result.asset_events
        if isinstance(event, dg.AssetMaterialization)
    }
    assert recorded == expected  # each one's job in its history, as Braze's schedule ran it


def test_materializing_a_selection_syncs_exactly_those_integrations(
    fake: FakeBraze, defs: dg.Definitions, workspace: list[str]
) -> None:
    chosen = selected_positions()[:3]
    keys = [dg.AssetKey(["crm", identifier(position, workspace)]) for position in chosen]

    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=keys, instance=dg.DagsterInstance.ephemeral()
    )

    assert result.success
    assert {event.asset_key for event in result.get_asset_materialization_events()} == set(keys)
    triggered = {
        position: fake.integrations[integration_id].triggered_jobs
        for position, integration_id in enumerate(workspace)
    }
    assert triggered == {position: int(position in chosen) for position in range(45)}
    evaluations = result.get_asset_check_evaluations()
    assert {(evaluation.asset_key, evaluation.check_name) for evaluation in evaluations} == {
        (key, name) for key in keys for name in CHECKS
    }
    assert all(evaluation.passed for evaluation in evaluations)


def test_a_failed_sync_fails_with_its_hint_spelled_as_the_yaml_writes_it(
    project: Path, fake: FakeBraze, workspace: list[str]
) -> None:
    edit_attributes(project, if_running="fail")
    refresh_defs_state(project)
    defs = load(project)
    busy, idle = selected_positions()[1:3]
    fake.start_job(workspace[busy], duration=math.inf)  # Braze's schedule runs one

    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=[
            dg.AssetKey(["crm", identifier(position, workspace)]) for position in (busy, idle)
        ],
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )

    assert not result.success
    [materialization] = result.get_asset_materialization_events()
    assert materialization.asset_key == dg.AssetKey(["crm", identifier(idle, workspace)])
    [failure] = [event for event in result.all_events if event.is_step_failure]
    description = failure.step_failure_data.user_failure_data.description
    assert "Use if_running: wait or if_running: attach to not fail here." in description
    assert fake.integrations[workspace[busy]].triggered_jobs == 0
    assert fake.integrations[workspace[idle]].triggered_jobs == 1


def test_the_api_key_stays_out_of_what_dagster_shows_and_of_the_state(
    refreshed: Path, fake: FakeBraze, defs: dg.Definitions
) -> None:
    shown = dg.serialize_value(RepositorySnap.from_def(defs.get_repository_def()))

    assert fake.api_key not in shown
    assert "BRAZE_API_KEY" in shown
    assert fake.api_key not in get_local_state_path(STATE_KEY, refreshed).read_text()


def test_dagster_definitions_validate_passes_with_the_state_kept(
    refreshed: Path, fake: FakeBraze, tmp_path: Path
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    # A ready instance loads faster than the temporary one validate would make.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {name: value for name, value in os.environ.items() if name != "DAGSTER_IS_DEV_CLI"}
    env["DAGSTER_HOME"] = str(home)
    dagster = Path(sys.executable).parent / "dagster"

    completed = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", f"{PACKAGE}.definitions"],
        cwd=refreshed,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )

    output = completed.stderr + completed.stdout
    assert completed.returncode == 0, completed.stderr
    assert "All code locations passed validation" in output
    assert "dg utils refresh-defs-state" not in output  # it found the state
    assert fake.requests == []  # and loaded from it, without Braze


def test_refreshing_without_the_key_in_the_environment_names_the_variable(
    project: Path, fake: FakeBraze, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BRAZE_API_KEY")

    with pytest.raises(BrazeConfigError, match="environment variable BRAZE_API_KEY, which is not"):
        refresh_defs_state(project)
    assert fake.requests == []


def test_the_state_key_names_the_endpoint_and_where_the_key_comes_from_never_the_key() -> None:
    from_env = BrazeCDIWorkspaceComponent.from_attributes_dict(
        attributes={"api_key": "{{ env.BRAZE_API_KEY }}", "rest_endpoint": "US-01"}
    )
    literal = BrazeCDIWorkspaceComponent.from_attributes_dict(
        attributes={"api_key": "a-literal-key", "rest_endpoint": "US-01"}
    )
    chosen = BrazeCDIWorkspaceComponent.from_attributes_dict(
        attributes={
            "api_key": "a-literal-key",
            "rest_endpoint": "US-01",
            "defs_state": {"key": "braze-prod", "management_type": "LOCAL_FILESYSTEM"},
        }
    )

    assert from_env.defs_state_config.key == "BrazeCDIWorkspaceComponent[US-01, env.BRAZE_API_KEY]"
    assert literal.defs_state_config.key.startswith("BrazeCDIWorkspaceComponent[US-01, key sha256:")
    assert "a-literal-key" not in literal.defs_state_config.key
    assert chosen.defs_state_config.key == "braze-prod"


def test_scaffolding_writes_a_defs_yaml_that_reads_the_environment() -> None:
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            component_cls=BrazeCDIWorkspaceComponent, defs_path="braze_workspace"
        )
        written = yaml.safe_load((path / "defs.yaml").read_text())

    assert written == {
        "type": "dagster_braze_cdi.workspace_component.BrazeCDIWorkspaceComponent",
        "attributes": {
            "api_key": "{{ env.BRAZE_API_KEY }}",
            "rest_endpoint": "{{ env.BRAZE_REST_ENDPOINT }}",
            "selector": {"names": ["*"], "active_only": True},
        },
    }
    assert BrazeCDIWorkspaceComponent.from_attributes_dict(attributes=written["attributes"])
