"""Braze Cloud Data Ingestion for Dagster: a resource, sync assets (one integration, or the whole
workspace through a translator), asset checks, sensors and ``dg`` components, all thin over the
``braze_cdi`` core.

Install with ``pip install 'braze-cdi[dagster]'``.
"""

try:
    import dagster  # noqa: F401
except ImportError as error:
    raise ImportError(
        f"dagster_braze_cdi needs Dagster, which could not be imported ({error}). "
        "Install it with: pip install 'braze-cdi[dagster]'"
    ) from error

from .assets import (
    build_braze_cdi_sync_asset,
    integration_id_of,
    sync_asset_from_spec,
    sync_assets_from_specs,
)
from .checks import build_braze_cdi_job_checks
from .component import BrazeCDISyncComponent
from .resource import BrazeCDIRateLimits, BrazeCDIResource
from .selector import BrazeCDISelector
from .sensor import build_braze_cdi_sync_sensor
from .translator import BrazeCDIIntegrationProps, DagsterBrazeCDITranslator
from .workspace import build_braze_cdi_assets_definitions, load_braze_cdi_asset_specs
from .workspace_component import BrazeCDIWorkspaceComponent
from .workspace_sensor import build_braze_cdi_schedule_checks, build_braze_cdi_workspace_sensor

__all__ = [
    "BrazeCDIIntegrationProps",
    "BrazeCDIRateLimits",
    "BrazeCDIResource",
    "BrazeCDISelector",
    "BrazeCDISyncComponent",
    "BrazeCDIWorkspaceComponent",
    "DagsterBrazeCDITranslator",
    "build_braze_cdi_assets_definitions",
    "build_braze_cdi_job_checks",
    "build_braze_cdi_schedule_checks",
    "build_braze_cdi_sync_asset",
    "build_braze_cdi_sync_sensor",
    "build_braze_cdi_workspace_sensor",
    "integration_id_of",
    "load_braze_cdi_asset_specs",
    "sync_asset_from_spec",
    "sync_assets_from_specs",
]
