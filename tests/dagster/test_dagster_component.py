"""The ``dg`` component, loaded from the YAML project in ``yaml_project/`` and materialized."""

import importlib.metadata
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster.components.testing import create_defs_folder_sandbox
from pydantic import ValidationError

from braze_cdi.testing import FakeBraze
from dagster_braze_cdi import BrazeCDIResource, BrazeCDISyncComponent, BrazeCDIWorkspaceComponent

PROJECT = Path(__file__).parent / "yaml_project"
INTEGRATION_ID = "0d7c4a5e-8c1b-4f3a-9e2d-5b6a7c8d9e0f"  # as in defs.yaml
USERS = dg.AssetKey(["braze", "users"])


@pytest.fixture
def defs(fake: FakeBraze, url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.Definitions]:
    """The project's definitions, with the environment its YAML reads pointing at the fake."""
    fake.add_integration(INTEGRATION_ID, duration=0.2)
    monkeypatch.setenv("BRAZE_API_KEY", fake.api_key)
    monkeypatch.setenv("BRAZE_REST_ENDPOINT", url)
    monkeypatch.syspath_prepend(str(PROJECT))
    yield dg.load_from_defs_folder(path_within_project=PROJECT)
    for name in [name for name in sys.modules if name.startswith("braze_cdi_yaml_project")]:
        del sys.modules[name]


def test_the_component_loads_from_yaml(defs: dg.Definitions) -> None:
    [spec] = defs.resolve_all_asset_specs()
    assert spec.key == USERS
    assert spec.group_name == "braze"
    assert spec.kinds == {"braze"}
    assert spec.description == "Users synced from the warehouse to Braze."
    assert {key.name for key in defs.resolve_asset_graph().asset_check_keys} == {
        "braze_cdi_sync_succeeded",
        "braze_cdi_failed_rows",
        "braze_cdi_job_status",
        "braze_cdi_job_freshness",
        "braze_cdi_job_failed_rows",
    }
    sensor = defs.resolve_sensor_def("braze_cdi_sync_sensor__braze__users")
    assert sensor.minimum_interval_seconds == 60


def test_the_component_materializes_with_its_own_resource(
    fake: FakeBraze,
    defs: dg.Definitions,
    event_log_text: Callable[[dg.DagsterInstance, str], str],
) -> None:
    instance = dg.DagsterInstance.ephemeral()

    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance)

    assert result.success
    [materialization] = result.asset_materializations_for_node("braze_cdi_sync__braze__users")
    assert materialization.metadata["job_status"].value == "success"
    assert materialization.metadata["integration_id"].value == INTEGRATION_ID
    assert all(check.passed for check in result.get_asset_check_evaluations())
    assert len(result.get_asset_check_evaluations()) == 5
    assert fake.integrations[INTEGRATION_ID].triggered_jobs == 1
    assert fake.api_key not in event_log_text(instance, result.run_id)


def test_an_env_template_key_stays_out_of_what_dagster_shows(
    fake: FakeBraze, url: str, defs: dg.Definitions
) -> None:
    # The UI shows resource configuration from the repository snapshot: with "{{ env.X }}" the
    # component configures an EnvVar, so only the variable's name is in it.
    shown = dg.serialize_value(RepositorySnap.from_def(defs.get_repository_def()))
    plain = dg.Definitions(
        resources={"braze_cdi": BrazeCDIResource(api_key=fake.api_key, rest_endpoint=url)}
    )
    shown_plain = dg.serialize_value(RepositorySnap.from_def(plain.get_repository_def()))

    assert fake.api_key not in shown
    assert "BRAZE_API_KEY" in shown
    assert fake.api_key in shown_plain  # why the component keeps the template as an EnvVar


@pytest.mark.parametrize(
    "template",
    ["{{ env.BRAZE_API_KEY }}", "{{env('BRAZE_API_KEY')}}", '{{ env("BRAZE_API_KEY") }}'],
)
def test_an_env_template_becomes_an_env_var(template: str) -> None:
    component = BrazeCDISyncComponent.from_attributes_dict(
        attributes={
            "integration_id": INTEGRATION_ID,
            "asset": {"key": "braze/users"},
            "api_key": template,
            "rest_endpoint": "US-01",
        }
    )

    assert isinstance(component.api_key, dg.EnvVar)
    assert component.api_key.env_var_name == "BRAZE_API_KEY"


def test_a_literal_key_is_still_accepted() -> None:
    component = BrazeCDISyncComponent.from_attributes_dict(
        attributes={
            "integration_id": INTEGRATION_ID,
            "asset": {"key": "braze/users"},
            "api_key": "a-literal-key",
            "rest_endpoint": "US-01",
        }
    )

    assert component.api_key == "a-literal-key"
    assert not isinstance(component.api_key, dg.EnvVar)


def test_the_component_is_registered_for_dg() -> None:
    [entry_point] = [
        entry_point
        for entry_point in importlib.metadata.entry_points(group="dagster_dg_cli.registry_modules")
        if entry_point.name == "dagster_braze_cdi"
    ]

    registered = entry_point.load()
    assert registered.BrazeCDISyncComponent is BrazeCDISyncComponent
    assert registered.BrazeCDIWorkspaceComponent is BrazeCDIWorkspaceComponent


def test_scaffolding_writes_a_defs_yaml_that_reads_the_environment() -> None:
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            component_cls=BrazeCDISyncComponent,
            defs_path="users_sync",
            scaffold_params={"integration_id": INTEGRATION_ID},
        )
        written = yaml.safe_load((path / "defs.yaml").read_text())

    assert written == {
        "type": "dagster_braze_cdi.component.BrazeCDISyncComponent",
        "attributes": {
            "integration_id": INTEGRATION_ID,
            "asset": {"key": "braze/users_sync"},
            "api_key": "{{ env.BRAZE_API_KEY }}",
            "rest_endpoint": "{{ env.BRAZE_REST_ENDPOINT }}",
        },
    }


def test_a_defs_yaml_with_the_old_poll_timeout_still_loads_and_warns() -> None:
    attributes = {
        "integration_id": INTEGRATION_ID,
        "asset": {"key": "braze/users"},
        "api_key": "{{ env.BRAZE_API_KEY }}",
        "rest_endpoint": "US-01",
        "poll_timeout": 120,
    }
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            component_cls=BrazeCDISyncComponent,
            defs_path="users_sync",
            defs_yaml_contents={
                "type": "dagster_braze_cdi.BrazeCDISyncComponent",
                "attributes": attributes,
            },
        )
        with (
            pytest.warns(
                DeprecationWarning,
                match="poll_timeout is deprecated in BrazeCDISyncComponent: use max_wait",
            ),
            sandbox.load_component_and_build_defs(defs_path=path) as (component, defs),
        ):
            resource = defs.resources["braze_cdi__braze__users"]

    assert isinstance(component, BrazeCDISyncComponent)
    assert (component.max_wait, component.poll_timeout) == (120.0, None)
    assert isinstance(resource, BrazeCDIResource)
    assert resource.max_wait == 120.0


def test_the_old_poll_timeout_with_max_wait_is_refused() -> None:
    with pytest.raises(ValidationError, match="poll_timeout and max_wait were both given"):
        BrazeCDISyncComponent.from_attributes_dict(
            attributes={
                "integration_id": INTEGRATION_ID,
                "asset": {"key": "braze/users"},
                "api_key": "a-literal-key",
                "rest_endpoint": "US-01",
                "poll_timeout": 120,
                "max_wait": 60,
            }
        )


def test_a_failure_names_the_settings_as_the_yaml_writes_them(fake: FakeBraze, url: str) -> None:
    integration = fake.add_integration(INTEGRATION_ID, duration=0.2)
    fake.start_job(integration.integration_id, duration=60.0)  # Braze's schedule runs one
    attributes = {
        "integration_id": INTEGRATION_ID,
        "asset": {"key": "braze/users"},
        "api_key": fake.api_key,
        "rest_endpoint": url,
        "if_running": "fail",
    }
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            component_cls=BrazeCDISyncComponent,
            defs_path="users_sync",
            defs_yaml_contents={
                "type": "dagster_braze_cdi.BrazeCDISyncComponent",
                "attributes": attributes,
            },
        )
        with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
            result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
                raise_on_error=False
            )

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    description = failure.step_failure_data.user_failure_data.description
    assert "Use if_running: wait or if_running: attach to not fail here." in description
    assert integration.triggered_jobs == 0
