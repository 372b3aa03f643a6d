"""Braze Cloud Data Ingestion for Dagster: a resource, a sync asset, asset checks, a sensor and a
``dg`` component, all thin over the ``braze_cdi`` core.

Install with ``pip install 'braze-cdi[dagster]'``.
"""

try:
    import dagster  # noqa: F401
except ImportError as error:
    raise ImportError(
        f"dagster_braze_cdi needs Dagster, which could not be imported ({error}). "
        "Install it with: pip install 'braze-cdi[dagster]'"
    ) from error

from .assets import build_braze_cdi_sync_asset
from .checks import build_braze_cdi_job_checks
from .component import BrazeCDISyncComponent
from .resource import BrazeCDIResource
from .sensor import build_braze_cdi_sync_sensor

__all__ = [
    "BrazeCDIResource",
    "BrazeCDISyncComponent",
    "build_braze_cdi_job_checks",
    "build_braze_cdi_sync_asset",
    "build_braze_cdi_sync_sensor",
]
