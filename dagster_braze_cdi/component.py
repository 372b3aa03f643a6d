"""The ``dg`` component: one Braze CDI sync asset, its checks and sensor, declared in YAML."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field, model_validator

from braze_cdi import accept_renamed

from .assets import sync_asset_from_spec
from .checks import build_braze_cdi_job_checks
from .resource import BrazeCDIRateLimits, BrazeCDIResource
from .sensor import build_braze_cdi_sync_sensor

__all__ = [
    "BrazeCDISyncComponent",
    "BrazeCDISyncScaffolder",
    "JobChecks",
    "SyncSensor",
    "SyncSettings",
]

# "{{ env.NAME }}" or "{{ env('NAME') }}", and nothing else.
_ENV_TEMPLATE = re.compile(
    r"""\{\{\s*env(?:\.(?P<attr>\w+)|\(\s*(?P<q>['"])(?P<arg>\w+)(?P=q)\s*\))\s*\}\}"""
)


def _resolve_secret(context: dg.ResolutionContext, value: str) -> dg.EnvVar | str:
    # Rendering the template would put the key itself into the resource's configuration, which
    # Dagster shows in its UI; an EnvVar shows only the variable's name and is read at run time.
    match = _ENV_TEMPLATE.fullmatch(value.strip())
    if match:
        return dg.EnvVar(match["attr"] or match["arg"])
    resolved: str = context.resolve_value(value, as_type=str)
    return resolved


SecretOrEnvVar = Annotated[
    dg.EnvVar | str,
    dg.Resolver(
        _resolve_secret,
        model_field_type=str,
        inject_before_resolve=False,
        description='A value, or "{{ env.NAME }}" to read it from an environment variable at '
        "run time.",
    ),
]


class JobChecks(dg.Model, dg.Resolvable):
    """Settings of the checks on Braze's job history (see ``build_braze_cdi_job_checks``)."""

    max_age_hours: float = Field(
        default=24.0, gt=0, description="How old the latest success may be."
    )
    max_failed_rows: int = Field(
        default=0, ge=0, description="Failed rows the latest job may have."
    )


class SyncSensor(dg.Model, dg.Resolvable):
    """Settings of the sensor that records syncs Braze ran on its own schedule."""

    minimum_interval_seconds: int = Field(
        default=300, gt=0, description="Seconds between two ticks."
    )


class SyncSettings(dg.Model):
    """What both components say of the workspace and of each sync."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    api_key: SecretOrEnvVar
    rest_endpoint: SecretOrEnvVar
    poll_interval: float = Field(
        default=10.0, gt=0, description="Seconds between two looks at a running job."
    )
    max_wait: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds a sync may take in all, waiting for a running job included.",
    )
    if_running: Literal["wait", "attach", "fail"] = Field(
        default="wait",
        description="When a job is running already: wait for it, attach to it, or fail.",
    )
    fail_on_partial: bool = Field(default=False, description="Fail when the job ends partial.")
    max_failed_rows: int = Field(
        default=0, ge=0, description="Failed rows braze_cdi_failed_rows allows."
    )
    blocking_checks: bool = Field(
        default=False, description="Failed checks stop downstream assets."
    )
    pool: str | None = Field(
        default="braze_cdi", description="The concurrency pool of the sync step."
    )
    rate_limits: BrazeCDIRateLimits | None = Field(
        default_factory=BrazeCDIRateLimits,
        description="The request budgets per kind of CDI endpoint (trigger_calls, "
        "trigger_period, list_calls, ..., across_processes): Braze's documented limits by "
        "default; null sends without client-side budgets.",
    )

    def build_resource(self, **overrides: Any) -> BrazeCDIResource:
        """A resource with these settings (``overrides`` replace some)."""
        settings: dict[str, Any] = {
            "api_key": self.api_key,
            "rest_endpoint": self.rest_endpoint,
            "poll_interval": self.poll_interval,
            "max_wait": self.max_wait,
            "if_running": self.if_running,
            "fail_on_partial": self.fail_on_partial,
            "rate_limits": self.rate_limits,
            **overrides,
        }
        return BrazeCDIResource(**settings)


class ScaffoldParams(BaseModel):
    """What ``dg scaffold defs dagster_braze_cdi.BrazeCDISyncComponent PATH`` can fill in."""

    integration_id: str | None = Field(default=None, description="The Braze integration to sync.")
    asset_key: str | None = Field(default=None, description="The asset key, such as braze/users.")


class BrazeCDISyncScaffolder(dg.Scaffolder[ScaffoldParams]):
    """Writes a ``defs.yaml`` that reads the key and endpoint from the environment."""

    @classmethod
    def get_scaffold_params(cls) -> type[ScaffoldParams]:
        return ScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[ScaffoldParams]) -> None:
        params = request.params or ScaffoldParams()
        dg.scaffold_component(
            request,
            {
                "integration_id": params.integration_id or "<the id at the end of its URL>",
                "asset": {"key": params.asset_key or f"braze/{request.target_path.name}"},
                "api_key": "{{ env.BRAZE_API_KEY }}",
                "rest_endpoint": "{{ env.BRAZE_REST_ENDPOINT }}",
            },
        )


@dg.scaffold_with(BrazeCDISyncScaffolder)
class BrazeCDISyncComponent(dg.Component, dg.Resolvable, SyncSettings):
    """A Braze Cloud Data Ingestion sync as an asset: materializing it triggers the sync and
    waits for it, with the checks ``braze_cdi_sync_succeeded`` and ``braze_cdi_failed_rows``.

    Optionally adds the checks on Braze's job history (``job_checks``) and the sensor that
    records syncs Braze's own schedule ran (``sensor``). The component binds its own
    ``BrazeCDIResource`` under a key derived from the asset key. Scaffold one with
    ``dg scaffold defs dagster_braze_cdi.BrazeCDISyncComponent users_sync --integration-id ID``.

    Examples:
        A ``defs.yaml``:

        ```yaml
        type: dagster_braze_cdi.BrazeCDISyncComponent
        attributes:
          integration_id: 00000000-0000-0000-0000-000000000001
          asset:
            key: braze/users
            deps: [warehouse/users]
          api_key: "{{ env.BRAZE_API_KEY }}"
          rest_endpoint: US-01
          max_failed_rows: 10
          job_checks:
            max_age_hours: 6
          sensor: {}
        ```

        The same in Python:

        >>> import dagster as dg
        >>> from dagster_braze_cdi import BrazeCDISyncComponent
        >>> component = BrazeCDISyncComponent.from_attributes_dict(
        ...     attributes={
        ...         "integration_id": "00000000-0000-0000-0000-000000000001",
        ...         "asset": {"key": "braze/users"},
        ...         "api_key": "{{ env.BRAZE_API_KEY }}",
        ...         "rest_endpoint": "US-01",
        ...     }
        ... )
        >>> defs = dg.build_defs_for_component(component)
        >>> [key.to_user_string() for key in defs.resolve_all_asset_keys()]
        ['braze/users']

        Materialized against a FakeBraze, the key and endpoint read from the environment when
        the run starts:

        >>> import os
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> _ = fake.add_integration("00000000-0000-0000-0000-000000000001", duration=0.0)
        >>> component = BrazeCDISyncComponent.from_attributes_dict(
        ...     attributes={
        ...         "integration_id": "00000000-0000-0000-0000-000000000001",
        ...         "asset": {"key": "braze/users"},
        ...         "api_key": "{{ env.BRAZE_API_KEY }}",
        ...         "rest_endpoint": "{{ env.BRAZE_REST_ENDPOINT }}",
        ...     }
        ... )
        >>> defs = dg.build_defs_for_component(component)
        >>> with fake.serve() as url:
        ...     os.environ["BRAZE_API_KEY"], os.environ["BRAZE_REST_ENDPOINT"] = fake.api_key, url
        ...     result = defs.resolve_implicit_global_asset_job_def().execute_in_process()
        >>> result.success
        True
    """

    integration_id: str = Field(description="The Braze integration to sync.")
    asset: dg.ResolvedAssetSpec
    job_checks: JobChecks | None = Field(
        default=None, description="Add checks on Braze's job history."
    )
    sensor: SyncSensor | None = Field(
        default=None, description="Add the sensor of Braze-run syncs."
    )
    poll_timeout: float | None = Field(default=None, gt=0, description="Deprecated: use max_wait.")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        # A defs.yaml written before the rename still loads, with the warning.
        if isinstance(data, dict) and data.get("poll_timeout") is not None:
            data = dict(data)
            accept_renamed(data, {"poll_timeout": "max_wait"}, of="BrazeCDISyncComponent")
        return data

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The asset, its checks, the sensor if asked for, and the resource they use."""
        key = self.asset.key
        resource_key = f"braze_cdi__{key.to_python_identifier()}"
        resource = self.build_resource()
        asset = sync_asset_from_spec(
            self.asset,
            integration_id=self.integration_id,
            max_failed_rows=self.max_failed_rows,
            blocking_checks=self.blocking_checks,
            resource_key=resource_key,
            pool=self.pool,
            hints_for="yaml",  # its failures name settings as this file writes them
        )
        checks: list[dg.AssetChecksDefinition] = []
        if self.job_checks is not None:
            checks.append(
                build_braze_cdi_job_checks(
                    integration_id=self.integration_id,
                    asset_key=key,
                    max_age=timedelta(hours=self.job_checks.max_age_hours),
                    max_failed_rows=self.job_checks.max_failed_rows,
                    resource_key=resource_key,
                )
            )
        sensors: list[dg.SensorDefinition] = []
        if self.sensor is not None:
            sensors.append(
                build_braze_cdi_sync_sensor(
                    integration_id=self.integration_id,
                    asset_key=key,
                    minimum_interval_seconds=self.sensor.minimum_interval_seconds,
                    resource_key=resource_key,
                )
            )
        return dg.Definitions(
            assets=[asset],
            asset_checks=checks,
            sensors=sensors,
            resources={resource_key: resource},
        )
