"""The ``dg`` component of a whole workspace: the integration list, cached as the component's
state, becomes one subsettable multi-asset, with optional job checks and sensor."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import dagster as dg
from dagster.components import (
    DefsStateConfig,
    DefsStateConfigArgs,
    ResolvedDefsStateConfig,
    StateBackedComponent,
)
from dagster.components.utils.translation import TranslationFn, TranslationFnResolver
from pydantic import Field

from braze_cdi import BrazeConfigError, Integration

from .assets import integration_id_of, sync_assets_from_specs
from .checks import build_braze_cdi_job_checks
from .component import JobChecks, SyncSensor, SyncSettings
from .selector import BrazeCDISelector
from .translator import BrazeCDIIntegrationProps, DagsterBrazeCDITranslator
from .workspace import workspace_specs
from .workspace_sensor import build_braze_cdi_schedule_checks, build_braze_cdi_workspace_sensor

__all__ = [
    "BrazeCDIWorkspaceComponent",
    "BrazeCDIWorkspaceScaffolder",
    "SelectorArgs",
    "WorkspaceSensor",
]

_NOT_WORD = re.compile(r"[^0-9a-z]+")


class SelectorArgs(dg.Model):
    """The ``selector:`` of the YAML: which integrations become assets (a
    ``BrazeCDISelector``; an integration must pass every filter given)."""

    ids: list[str] = Field(default_factory=list, description="Integration ids to keep.")
    names: list[str] = Field(
        default_factory=list,
        description='Glob patterns on the integration name, case-sensitive, such as "prod_*".',
    )
    integration_types: list[str] = Field(
        default_factory=list,
        description="Integration types to keep (users, catalogs, ...), in any case.",
    )
    warehouse_types: list[str] = Field(
        default_factory=list,
        description="Warehouse types to keep (snowflake, bigquery, ...), in any case.",
    )
    active_only: bool = Field(
        default=True, description="Leave out integrations whose status is not active (paused)."
    )


def _resolve_selector(context: dg.ResolutionContext, model: SelectorArgs) -> BrazeCDISelector:
    return BrazeCDISelector(**context.resolve_value(model.model_dump()))


class WorkspaceSensor(SyncSensor):
    """Settings of the sensor that records syncs Braze ran on its own schedule, for every
    integration of the component (see ``build_braze_cdi_workspace_sensor``)."""

    schedule_grace_minutes: float = Field(
        default=30.0,
        gt=0,
        description="Minutes an integration's scheduled run may be late before its check "
        "braze_cdi_schedule_ran fails.",
    )


def _template_vars(props: BrazeCDIIntegrationProps) -> dict[str, Any]:
    return {"integration": props.integration, "identifier": props.identifier}


class _Translation(DagsterBrazeCDITranslator):
    """The default spec, then the YAML's ``translation:`` applied to it."""

    def __init__(self, translation: TranslationFn[BrazeCDIIntegrationProps]) -> None:
        self._translation = translation

    def get_asset_spec(self, props: BrazeCDIIntegrationProps) -> dg.AssetSpec:
        return self._translation(super().get_asset_spec(props), props)


class BrazeCDIWorkspaceScaffolder(dg.Scaffolder):
    """Writes a ``defs.yaml`` that reads the key and endpoint from the environment and keeps
    every active integration, with a selector to narrow."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        dg.scaffold_component(
            request,
            {
                "api_key": "{{ env.BRAZE_API_KEY }}",
                "rest_endpoint": "{{ env.BRAZE_REST_ENDPOINT }}",
                "selector": {"names": ["*"], "active_only": True},
            },
        )


@dg.scaffold_with(BrazeCDIWorkspaceScaffolder)
class BrazeCDIWorkspaceComponent(StateBackedComponent, dg.Resolvable, SyncSettings):
    """Every selected integration of a Braze workspace as an asset of one subsettable
    multi-asset: materializing any of them syncs those integrations concurrently, through one
    client, each with the checks ``braze_cdi_sync_succeeded`` and ``braze_cdi_failed_rows``.

    The integration list is the component's state: ``dg utils refresh-defs-state`` (and
    ``dagster dev``, as it starts) reads ``GET /cdi/integrations`` once, every page, and keeps
    it in the project (``defs_state``; by default on the local filesystem, in the ``defs``
    folder's ``.local_defs_state``, which git ignores); loading the code reads that copy and
    calls no Braze API. Refresh it when integrations are added, renamed or paused, and when the
    image of a deployment is built. Until the first refresh, the component defines nothing and
    logs how to refresh.

    ``selector`` picks integrations (all active ones by default) and ``translation`` changes
    their specs, with the template variables ``integration`` (the ``braze_cdi.Integration``),
    ``identifier`` (its unique name as an identifier: integration names are free text, so
    build keys from this) and ``spec`` (the default spec, key ``braze/<identifier>``).
    Optionally adds the checks on Braze's job history of each asset (``job_checks``), and the
    sensor of syncs Braze's own schedule ran with its check ``braze_cdi_schedule_ran``
    (``sensor``). The component binds its own ``BrazeCDIResource``; the asset, resource and
    sensor names end with the component's folder (``braze_cdi_workspace__<folder>``). Scaffold
    one with ``dg scaffold defs dagster_braze_cdi.BrazeCDIWorkspaceComponent braze_workspace``.

    The state's key is ``BrazeCDIWorkspaceComponent[<endpoint>, <key>]``, where an
    ``{{ env.NAME }}`` value appears as ``env.NAME`` and a literal API key only as the start of
    its SHA-256 digest; set ``defs_state: {key: ...}`` to choose another.

    Examples:
        A ``defs.yaml``:

        ```yaml
        type: dagster_braze_cdi.BrazeCDIWorkspaceComponent
        attributes:
          api_key: "{{ env.BRAZE_API_KEY }}"
          rest_endpoint: "{{ env.BRAZE_REST_ENDPOINT }}"
          selector:
            names: ["prod_*"]
            warehouse_types: [snowflake]
          translation:
            key: "crm/{{ identifier }}"
            group_name: braze
            deps: ["warehouse/{{ identifier }}"]
            tags: {team: crm, integration_type: "{{ integration.integration_type }}"}
          max_concurrency: 5
          max_failed_rows: 10
          job_checks:
            max_age_hours: 24
          sensor:
            minimum_interval_seconds: 300
        ```

        The state refreshed as ``dg utils refresh-defs-state`` does it, then the definitions
        loaded from it and two integrations synced, against a FakeBraze:

        >>> import asyncio, os
        >>> import dagster as dg
        >>> from dagster.components.testing import create_defs_folder_sandbox
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> for name in ("prod_users", "prod_purchases", "staging_users"):
        ...     _ = fake.add_integration(name=name, duration=0.0)
        >>> DEFS_YAML = '''
        ... type: dagster_braze_cdi.BrazeCDIWorkspaceComponent
        ... attributes:
        ...   api_key: "{{ env.BRAZE_API_KEY }}"
        ...   rest_endpoint: "{{ env.BRAZE_REST_ENDPOINT }}"
        ...   selector: {names: ["prod_*"]}
        ...   translation: {group_name: braze}
        ... '''
        >>> with fake.serve() as url, create_defs_folder_sandbox() as sandbox:
        ...     os.environ["BRAZE_API_KEY"], os.environ["BRAZE_REST_ENDPOINT"] = fake.api_key, url
        ...     path = sandbox.defs_folder_path / "braze_workspace"
        ...     path.mkdir()
        ...     _ = (path / "defs.yaml").write_text(DEFS_YAML)
        ...     with sandbox.build_component_tree() as tree:  # dg utils refresh-defs-state
        ...         for component in tree.get_all_components(of_type=dg.StateBackedComponent):
        ...             _ = asyncio.run(component.refresh_state(sandbox.project_root))
        ...     fake.requests.clear()
        ...     with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
        ...         keys = [key.to_user_string() for key in defs.resolve_all_asset_keys()]
        ...         loading_calls = len(fake.requests)
        ...         result = defs.resolve_implicit_global_asset_job_def().execute_in_process()
        >>> sorted(keys), loading_calls
        (['braze/prod_purchases', 'braze/prod_users'], 0)
        >>> result.success, [i.triggered_jobs for i in fake.integrations.values()]
        (True, [1, 1, 0])
    """

    selector: Annotated[
        BrazeCDISelector,
        dg.Resolver(
            _resolve_selector,
            model_field_type=SelectorArgs,
            description="Which integrations become assets; by default every active one.",
        ),
    ] = BrazeCDISelector()
    translation: (
        Annotated[
            TranslationFn[BrazeCDIIntegrationProps],
            TranslationFnResolver[BrazeCDIIntegrationProps](_template_vars),
        ]
        | None
    ) = Field(
        default=None,
        description="Changes to each spec, templated with integration (the integration as "
        "Braze lists it), identifier (its unique name as an identifier) and spec.",
    )
    max_concurrency: int = Field(default=10, gt=0, description="How many syncs run at once.")
    job_checks: JobChecks | None = Field(
        default=None, description="Add checks on Braze's job history to every asset."
    )
    sensor: WorkspaceSensor | None = Field(
        default=None, description="Add the sensor of Braze-run syncs."
    )
    defs_state: ResolvedDefsStateConfig = DefsStateConfigArgs.local_filesystem()

    @property
    def defs_state_config(self) -> DefsStateConfig:
        """Where the integration list is kept; its key names the endpoint and the API key's
        variable, never the key."""
        default_key = (
            f"{type(self).__name__}[{_label(self.rest_endpoint)}, {_key_label(self.api_key)}]"
        )
        return DefsStateConfig.from_args(self.defs_state, default_key=default_key)

    def write_state_to_path(self, state_path: Path) -> None:
        """Reads the integration list (every page) and writes it to ``state_path`` as JSON."""
        resource = self.build_resource(
            api_key=_value(self.api_key, "api_key"),
            rest_endpoint=_value(self.rest_endpoint, "rest_endpoint"),
        )
        with resource.get_client() as client:
            integrations = [
                integration.model_dump(mode="json") for integration in client.list_integrations()
            ]
        state_path.write_text(json.dumps(integrations))

    def build_defs_from_state(
        self, context: dg.ComponentLoadContext, state_path: Path | None
    ) -> dg.Definitions:
        """The multi-asset of the selected integrations of the kept list, its checks, the
        sensor if asked for, and the resource they use; no call to Braze."""
        log = dg.get_dagster_logger("dagster_braze_cdi")
        if state_path is None:
            log.warning(
                f"BrazeCDIWorkspaceComponent in {context.path} defines no asset yet: its list of "
                f"integrations ({self.defs_state_config.key}) has not been read. Run "
                "`dg utils refresh-defs-state` in the project (`dagster dev` does it as it starts)."
            )
            return dg.Definitions()
        specs = workspace_specs(
            _read_state(state_path), selector=self.selector, translator=self._translator()
        )
        if not specs:
            log.warning(
                f"BrazeCDIWorkspaceComponent in {context.path} selects none of the workspace's "
                "integrations: it defines no asset."
            )
            return dg.Definitions()
        suffix = _component_suffix(context)
        resource_key = f"braze_cdi_workspace{suffix}"
        assets = sync_assets_from_specs(
            specs,
            name=f"braze_cdi_workspace{suffix}",
            max_concurrency=self.max_concurrency,
            max_failed_rows=self.max_failed_rows,
            blocking_checks=self.blocking_checks,
            resource_key=resource_key,
            pool=self.pool,
            hints_for="yaml",  # its failures name settings as this file writes them
        )
        checks: list[dg.AssetChecksDefinition] = []
        if self.job_checks is not None:
            checks.extend(
                build_braze_cdi_job_checks(
                    integration_id=integration_id_of(spec),
                    asset_key=spec.key,
                    max_age=timedelta(hours=self.job_checks.max_age_hours),
                    max_failed_rows=self.job_checks.max_failed_rows,
                    resource_key=resource_key,
                )
                for spec in specs
            )
        sensors: list[dg.SensorDefinition] = []
        if self.sensor is not None:
            grace = timedelta(minutes=self.sensor.schedule_grace_minutes)
            sensors.append(
                build_braze_cdi_workspace_sensor(
                    specs,
                    name=f"braze_cdi_workspace_sensor{suffix}",
                    minimum_interval_seconds=self.sensor.minimum_interval_seconds,
                    schedule_grace=grace,
                    resource_key=resource_key,
                )
            )
            # Declares the check the sensor reports, so that the UI shows it.
            checks.append(
                build_braze_cdi_schedule_checks(
                    specs,
                    name=f"braze_cdi_schedule_checks{suffix}",
                    schedule_grace=grace,
                    resource_key=resource_key,
                )
            )
        return dg.Definitions(
            assets=[assets],
            asset_checks=checks,
            sensors=sensors,
            resources={resource_key: self.build_resource()},
        )

    def _translator(self) -> DagsterBrazeCDITranslator:
        if self.translation is None:
            return DagsterBrazeCDITranslator()
        return _Translation(self.translation)


def _label(value: dg.EnvVar | str) -> str:
    return f"env.{value.env_var_name}" if isinstance(value, dg.EnvVar) else value


def _key_label(api_key: dg.EnvVar | str) -> str:
    # Two workspaces on one instance differ by their key only; the key itself stays out of a
    # name that Dagster shows and writes to disk.
    if isinstance(api_key, dg.EnvVar):
        return _label(api_key)
    return "key sha256:" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


def _value(value: dg.EnvVar | str, field: str) -> str:
    # The state is refreshed outside any run, where Dagster does not read EnvVars for us.
    if not isinstance(value, dg.EnvVar):
        return value
    read = value.get_value()
    if not read:
        raise BrazeConfigError(
            f"BrazeCDIWorkspaceComponent's {field} reads the environment variable "
            f"{value.env_var_name}, which is not set: set it to refresh the integration list."
        )
    return read


def _read_state(state_path: Path) -> list[Integration]:
    try:
        return [Integration.model_validate(item) for item in json.loads(state_path.read_text())]
    except (ValueError, TypeError) as error:  # pydantic's ValidationError is a ValueError
        raise BrazeConfigError(
            f"The integration list kept in {state_path} cannot be read ({error}): refresh it "
            "with `dg utils refresh-defs-state`."
        ) from error


def _component_suffix(context: dg.ComponentLoadContext) -> str:
    """``__<folder>`` of the component within the defs folder (``__<folder>_<n>`` for the
    n-th of several in one ``defs.yaml``), empty at the defs folder itself."""
    path = context.component_path
    try:
        relative = path.file_path.relative_to(context.defs_module_path).as_posix()
    except ValueError:
        relative = path.file_path.name
    words = _NOT_WORD.sub("_", relative.lower()).strip("_")
    if path.instance_key not in (None, 0):
        words = f"{words}_{path.instance_key}".strip("_")
    return f"__{words}" if words else ""
