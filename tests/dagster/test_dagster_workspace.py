"""The whole workspace as assets: specs, selectors, translators, and one multi-asset that syncs
a selection through one client, against a FakeBraze of 45 integrations on loopback."""

import math

import dagster as dg
import pytest

from braze_cdi import BrazeConfigError, Integration
from braze_cdi.testing import FakeBraze
from dagster_braze_cdi import (
    BrazeCDIIntegrationProps,
    BrazeCDIResource,
    BrazeCDISelector,
    DagsterBrazeCDITranslator,
    build_braze_cdi_assets_definitions,
    build_braze_cdi_sync_asset,
    load_braze_cdi_asset_specs,
    sync_assets_from_specs,
)

from .conftest import PAUSED, WAREHOUSES


def _keys(specs: list[dg.AssetSpec]) -> list[str]:
    return [spec.key.to_user_string() for spec in specs]


def test_every_active_integration_becomes_a_spec_read_in_one_call_per_page(
    fake: FakeBraze, workspace: list[str], resource: BrazeCDIResource
) -> None:
    specs = load_braze_cdi_asset_specs(resource)

    assert fake.count("list") == math.ceil(len(workspace) / 10) == 5
    active = [id_ for position, id_ in enumerate(workspace) if position not in PAUSED]
    assert [spec.metadata["braze_cdi/integration_id"] for spec in specs] == active
    keys = _keys(specs)
    assert len(set(keys)) == len(keys) == 42
    # The two integrations named "users" keep the name, told apart by the start of their id.
    assert keys[0] == f"braze/users_{workspace[0][:8]}"
    assert f"braze/users_{workspace[30][:8]}" in keys
    assert keys[1:3] == ["braze/table_01", "braze/table_02"]


def test_a_spec_carries_kinds_a_description_and_the_integration_s_fields(
    fake: FakeBraze, workspace: list[str], resource: BrazeCDIResource
) -> None:
    spec = load_braze_cdi_asset_specs(resource)[1]
    integration = fake.integrations[workspace[1]]

    assert spec.kinds == {"braze", WAREHOUSES[1].lower()}
    assert spec.metadata == {
        "braze_cdi/integration_id": integration.integration_id,
        "braze_cdi/integration_name": "table 01",
        "braze_cdi/integration_type": integration.integration_type,
        "braze_cdi/warehouse_type": integration.warehouse_type,
        "braze_cdi/app_group_id": "fake-workspace",
        "braze_cdi/contact_emails": "data-team@example.com",
    }
    assert spec.description is not None
    assert "'table 01'" in spec.description
    assert f"{integration.integration_type} from {integration.warehouse_type}" in spec.description


def test_paused_integrations_are_left_out_with_a_log_line_unless_asked_for(
    fake: FakeBraze,
    workspace: list[str],
    resource: BrazeCDIResource,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("INFO"):
        active = load_braze_cdi_asset_specs(resource)
    every = load_braze_cdi_asset_specs(resource, selector=BrazeCDISelector(active_only=False))

    assert len(active) == 42
    assert len(every) == 45
    left_out = [
        record.getMessage() for record in caplog.records if "left out" in record.getMessage()
    ]
    assert len(left_out) == len(PAUSED)
    assert all("'paused'" in line for line in left_out)
    assert workspace[PAUSED[0]] in left_out[0]


@pytest.mark.parametrize(
    ("selector", "positions"),
    [
        (BrazeCDISelector(ids=["<first>", "<last>"]), [0, 44]),
        (BrazeCDISelector(names=["table 1?"]), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]),
        (BrazeCDISelector(names=["users"]), [0, 30]),
        (BrazeCDISelector(warehouse_types=["bigquery"]), [1, 5, 9, 13, 17, 25, 29, 33, 37, 41]),
        (
            BrazeCDISelector(integration_types=["CATALOGS"], names=["table 0*"]),
            [1, 4],
        ),
        (BrazeCDISelector(names=["table 0?"], active_only=False), list(range(1, 10))),
        # A plain callable: paused integrations are still left out.
        (lambda integration: (integration.integration_name or "").endswith("8"), [8, 18, 28]),
    ],
)
def test_selectors(
    workspace: list[str],
    resource: BrazeCDIResource,
    selector: BrazeCDISelector,
    positions: list[int],
) -> None:
    if isinstance(selector, BrazeCDISelector) and selector.ids:
        selector = BrazeCDISelector(ids=[workspace[0], workspace[-1]])

    specs = load_braze_cdi_asset_specs(resource, selector=selector)

    assert [spec.metadata["braze_cdi/integration_id"] for spec in specs] == [
        workspace[position] for position in positions
    ]


class _CrmTranslator(DagsterBrazeCDITranslator):
    """Keys under crm/, grouped, with the warehouse table upstream and the team as owner; the
    integration id metadata dropped (the loader puts it back)."""

    def get_asset_spec(self, props: BrazeCDIIntegrationProps) -> dg.AssetSpec:
        spec = super().get_asset_spec(props)
        return dg.AssetSpec(
            key=spec.key.with_prefix("crm"),
            group_name="braze",
            deps=[["warehouse", props.identifier]],
            owners=["team:crm"],
            tags={"warehouse": (props.integration.warehouse_type or "none").lower()},
            kinds=spec.kinds,
        )


def test_a_translator_subclass_reshapes_every_spec(
    workspace: list[str], resource: BrazeCDIResource
) -> None:
    specs = load_braze_cdi_asset_specs(
        resource, translator=_CrmTranslator(), selector=BrazeCDISelector(names=["table 01"])
    )

    [spec] = specs
    assert spec.key == dg.AssetKey(["crm", "braze", "table_01"])
    assert spec.group_name == "braze"
    assert [dep.asset_key for dep in spec.deps] == [dg.AssetKey(["warehouse", "table_01"])]
    assert spec.owners == ["team:crm"]
    assert spec.tags["warehouse"] == WAREHOUSES[1].lower()
    assert spec.metadata["braze_cdi/integration_id"] == workspace[1]


def test_a_translator_that_gives_two_integrations_one_key_is_refused(
    workspace: list[str], resource: BrazeCDIResource
) -> None:
    class OneKey(DagsterBrazeCDITranslator):
        def get_asset_spec(self, props: BrazeCDIIntegrationProps) -> dg.AssetSpec:
            return super().get_asset_spec(props).replace_attributes(key="braze_sync")

    with pytest.raises(BrazeConfigError, match=r"both translate to the asset key braze_sync"):
        load_braze_cdi_asset_specs(resource, translator=OneKey())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"selector": "users"}, "selector is a BrazeCDISelector or a callable"),
        ({"translator": object()}, "translator is a DagsterBrazeCDITranslator"),
    ],
)
def test_bad_options_are_refused_before_any_request(
    fake: FakeBraze, resource: BrazeCDIResource, options: dict[str, object], message: str
) -> None:
    with pytest.raises(BrazeConfigError, match=message):
        load_braze_cdi_asset_specs(resource, **options)  # type: ignore[arg-type]

    assert fake.requests == []


def test_a_selector_with_a_bare_string_is_refused() -> None:
    with pytest.raises(BrazeConfigError, match="names is a list of strings"):
        BrazeCDISelector(names="users*")


def test_identifiers_of_hostile_names_stay_identifiers() -> None:
    from dagster_braze_cdi.translator import integration_props

    listed = [
        Integration(integration_id="a1", integration_name="Ünïcode ✓ names"),
        Integration(integration_id="b2", integration_name="x" * 10_000),
        Integration(integration_id="c3", integration_name="../../etc/passwd"),
        Integration(integration_id="d4", integration_name=None),
        Integration(integration_id="e5", integration_name="日本"),
        Integration(integration_id="f6", integration_name="users"),
        Integration(integration_id="f7", integration_name="users_f6"),
    ]

    identifiers = [props.identifier for props in integration_props(listed)]

    assert identifiers[:5] == [
        "n_code_names",
        "x" * 64,
        "etc_passwd",
        "integration_d4",
        "integration_e5",
    ]
    assert identifiers[5:] == ["users", "users_f6"]
    for identifier in identifiers:
        dg.AssetKey(["braze", identifier])  # a valid key
        assert identifier.isidentifier() or identifier[0].isdigit()


def test_twenty_assets_sync_in_one_step_through_one_client_within_braze_s_limits(
    fake: FakeBraze, workspace: list[str], resource: BrazeCDIResource
) -> None:
    [assets] = build_braze_cdi_assets_definitions(resource)
    selected = sorted(assets.keys)[:20]
    fake.requests.clear()
    fake.connections = 0

    result = dg.materialize([assets], selection=selected, resources={"braze_cdi": resource})

    assert result.success
    assert len(result.get_step_success_events()) == 1
    # One async client reuses its connections: at most one per concurrent sync (10).
    assert 1 <= fake.connections <= 10
    assert [request for request in fake.requests if request.status == 429] == []
    materializations = {
        event.asset_key: event.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    # Each as its sync ends, so in no fixed order.
    assert len(materializations) == 20
    assert set(materializations) == set(selected)
    for key in selected:
        spec = assets.specs_by_key[key]
        integration_id = spec.metadata["braze_cdi/integration_id"]
        assert materializations[key]["integration_id"].value == integration_id
        assert materializations[key]["job_status"].value == "success"
        assert fake.integrations[integration_id].triggered_jobs == 1
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 40
    assert {check.asset_key for check in checks} == set(selected)
    assert all(check.passed for check in checks)
    assert sum(integration.triggered_jobs for integration in fake.integrations.values()) == 20


def test_a_failed_sync_fails_its_own_asset_and_checks_only(
    fake: FakeBraze, workspace: list[str], resource: BrazeCDIResource
) -> None:
    [assets] = build_braze_cdi_assets_definitions(
        resource, selector=BrazeCDISelector(names=["table 0?"])
    )
    broken = workspace[3]
    fake.integrations[broken].outcome = "error"
    broken_key = dg.AssetKey(["braze", "table_03"])

    result = dg.materialize([assets], resources={"braze_cdi": resource}, raise_on_error=False)

    assert not result.success
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert materialized == set(assets.keys) - {broken_key}
    verdicts = {
        (check.asset_key, check.check_name): check.passed
        for check in result.get_asset_check_evaluations()
    }
    assert verdicts[(broken_key, "braze_cdi_sync_succeeded")] is False
    assert all(passed for (key, _), passed in verdicts.items() if key != broken_key)
    [failure] = result.get_step_failure_events()
    description = failure.step_failure_data.user_failure_data.description
    assert "ended error" in description
    metadata = failure.step_failure_data.user_failure_data.metadata
    assert metadata["integration_id"].value == broken
    assert all(fake.integrations[workspace[p]].triggered_jobs == 1 for p in (1, 2, 3, 4, 5))


def test_several_failures_are_named_in_one_failure(
    fake: FakeBraze, workspace: list[str], resource: BrazeCDIResource
) -> None:
    [assets] = build_braze_cdi_assets_definitions(
        resource, selector=BrazeCDISelector(names=["table 0[1-4]"])
    )
    for position in (2, 4):
        fake.integrations[workspace[position]].outcome = "config_error"

    result = dg.materialize([assets], resources={"braze_cdi": resource}, raise_on_error=False)

    [failure] = result.get_step_failure_events()
    data = failure.step_failure_data.user_failure_data
    assert data.description.startswith("2 of 4 Braze CDI syncs failed:")
    assert set(data.metadata["failed_integrations"].value) == {"braze/table_02", "braze/table_04"}
    assert len(result.get_asset_materialization_events()) == 2


def test_specs_without_an_integration_id_are_refused() -> None:
    with pytest.raises(BrazeConfigError, match="does not say which Braze integration"):
        sync_assets_from_specs([dg.AssetSpec("orphan")])


def test_the_single_sync_asset_takes_what_a_spec_can_say() -> None:
    asset = build_braze_cdi_sync_asset(
        integration_id="00000000-0000-0000-0000-000000000001",
        key=["braze", "users"],
        tags={"team": "crm"},
        owners=["team:crm"],
        metadata={"table": "analytics.users"},
        kinds={"snowflake"},
        automation_condition=dg.AutomationCondition.eager(),
    )

    [spec] = asset.specs
    assert spec.tags["team"] == "crm"
    assert spec.owners == ["team:crm"]
    assert spec.kinds == {"braze", "snowflake"}
    assert spec.metadata["table"] == "analytics.users"
    assert spec.metadata["braze_cdi/integration_id"] == "00000000-0000-0000-0000-000000000001"
    assert spec.automation_condition == dg.AutomationCondition.eager()


# --- a re-execution adopts every job the first attempt started --------------------------------

FIRST_ID = "00000000-0000-0000-0000-0000000000f1"
SECOND_ID = "00000000-0000-0000-0000-0000000000f2"
FOREVER = 10**9


def workspace_job(url: str, api_key: str) -> dg.JobDefinition:
    """Two integrations' multi-asset, built from specs (no Braze call), rebuilt by name."""
    specs = [
        dg.AssetSpec(["braze", name], metadata={"braze_cdi/integration_id": integration_id})
        for name, integration_id in (("first", FIRST_ID), ("second", SECOND_ID))
    ]
    assets = sync_assets_from_specs(specs)
    resource = BrazeCDIResource(
        api_key=api_key,
        rest_endpoint=url,
        poll_interval=0.05,
        max_wait=3.0,
        retry_max_attempts=2,
        retry_initial_delay=0.01,
        retry_max_delay=0.05,
    )
    defs = dg.Definitions(
        assets=[assets],
        jobs=[
            dg.define_asset_job(
                "braze_workspace", selection=[assets], executor_def=dg.in_process_executor
            )
        ],
        resources={"braze_cdi": resource},
    )
    return defs.resolve_job_def("braze_workspace")


class StormAfterSecondTrigger(FakeBraze):
    """The second integration's job list answers 503 from its trigger on, until lifted."""

    storm: object = None

    def reply(self, request):  # type: ignore[no-untyped-def]
        answer = super().reply(request)
        if request.method == "POST" and SECOND_ID in request.url.path and self.storm is None:
            self.storm = self.inject("status", status=503, times=FOREVER, integration_id=SECOND_ID)
        return answer


def test_a_re_execution_adopts_the_jobs_of_the_first_attempt(
    instance: dg.DagsterInstance,
) -> None:
    from pathlib import Path

    fake = StormAfterSecondTrigger()
    first = fake.add_integration(FIRST_ID, name="first", history=1, duration=0.0)
    second = fake.add_integration(SECOND_ID, name="second", history=1, duration=0.0)
    with fake.serve() as url:
        job = dg.build_reconstructable_job(
            __name__,
            workspace_job.__name__,
            reconstructable_kwargs={"url": url, "api_key": fake.api_key},
            reconstructor_working_directory=str(Path(__file__).parent.parent.parent),
        )
        with dg.execute_job(job, instance) as failed:
            assert not failed.success
            failed_run = failed.run_id
        fake.storm.times = 0  # type: ignore[attr-defined]
        options = dg.ReexecutionOptions.from_failure(failed_run, instance)
        with dg.execute_job(job, instance, reexecution_options=options) as retried:
            assert retried.success
            retried_keys = {event.asset_key for event in retried.get_asset_materialization_events()}

    assert first.triggered_jobs == 1
    assert second.triggered_jobs == 1
    assert dg.AssetKey(["braze", "second"]) in retried_keys
