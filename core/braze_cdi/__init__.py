"""braze-cdi: trigger Braze Cloud Data Ingestion syncs, wait for them, check their health.

The framework-neutral core. It depends on httpx and pydantic only; the Prefect and Dagster
adapters (``prefect_braze_cdi``, ``dagster_braze_cdi``) and the ``braze-cdi`` command build on it.

Architecture (``docs/architecture.md``; its layers are import-linter contracts): the operations
(``_trigger_and_wait``, ``_listing``, ``_retry``, ``_protocol``) decide everything without I/O,
as generators that yield effects (``Send``, ``Sleep``, ``Emit``, ``Notify`` of a
``braze_cdi.events`` event); the clients of ``_client`` only carry the effects out. This module
re-exports the public names, which with ``events`` and ``testing`` are all the adapters import.
"""

from . import _httpx  # noqa: F401  # first: httpx without its command line (see there)
from ._client import AsyncBrazeCDIClient, BrazeCDIClient
from ._config import INSTANCES, accept_renamed, check_integration_id, resolve_rest_endpoint
from ._dashboard import dashboard_url
from ._doctor import Diagnosis, Finding, RateWindow
from ._errors import (
    BrazeAPIError,
    BrazeAuthenticationError,
    BrazeCDIError,
    BrazeConfigError,
    BrazePermissionError,
    BrazeRateLimited,
    BrazeServerError,
    BrazeTransportError,
    Hint,
    IntegrationNotFound,
    InvalidIntegrationId,
    Setting,
    Surface,
    SyncAlreadyRunning,
    SyncFailed,
    SyncTimeout,
)
from ._models import IfRunning, Integration, JobStatus, SyncHandle, SyncJob, SyncResult
from ._rate_limit import RateLimit, RateLimits
from ._retry import RetryPolicy
from ._schedule import (
    KnownUntil,
    ScheduleReport,
    ScheduleVerdict,
    ScheduleWatch,
    Skip,
    Where,
    is_active,
    schedule_verdict,
)
from ._version import __version__

__all__ = [
    "INSTANCES",
    "AsyncBrazeCDIClient",
    "BrazeAPIError",
    "BrazeAuthenticationError",
    "BrazeCDIClient",
    "BrazeCDIError",
    "BrazeConfigError",
    "BrazePermissionError",
    "BrazeRateLimited",
    "BrazeServerError",
    "BrazeTransportError",
    "Diagnosis",
    "Finding",
    "Hint",
    "IfRunning",
    "Integration",
    "IntegrationNotFound",
    "InvalidIntegrationId",
    "JobStatus",
    "KnownUntil",
    "RateLimit",
    "RateLimits",
    "RateWindow",
    "RetryPolicy",
    "ScheduleReport",
    "ScheduleVerdict",
    "ScheduleWatch",
    "Setting",
    "Skip",
    "Surface",
    "SyncAlreadyRunning",
    "SyncFailed",
    "SyncHandle",
    "SyncJob",
    "SyncResult",
    "SyncTimeout",
    "Where",
    "__version__",
    "accept_renamed",
    "check_integration_id",
    "dashboard_url",
    "is_active",
    "resolve_rest_endpoint",
    "schedule_verdict",
]

# The public classes go by their public path: a traceback reads `braze_cdi.SyncFailed`, not the
# private module that defines it, and pickles (which orchestrators ship between processes)
# name a path that stays valid when the private modules move.
for _name in __all__:
    _public = globals()[_name]
    if isinstance(_public, type) and _public.__module__.startswith("braze_cdi._"):
        _public.__module__ = __name__
del _name, _public
