"""braze-cdi: trigger Braze Cloud Data Ingestion syncs, wait for them, check their health.

The framework-neutral core. It depends on httpx and pydantic only; the Prefect and Dagster
adapters (``prefect_braze_cdi``, ``dagster_braze_cdi``) and the ``braze-cdi`` command build on it.

Architecture (``docs/architecture.md``; its layers are import-linter contracts): the operations
(``_trigger_and_wait``, ``_listing``, ``_retry``, ``_protocol``) decide everything without I/O,
as generators that yield effects (``Send``, ``Sleep``, ``Emit``, ``Notify`` of a
``braze_cdi.events`` event); the clients of ``_client`` only carry the effects out. This module
re-exports the public names, which with ``events`` and ``testing`` are all the adapters import.

The names are loaded when first used (PEP 562): ``import braze_cdi`` costs next to nothing, and
the command line's ``--help`` never loads the client. ``from braze_cdi import BrazeCDIClient``
loads the client and everything it uses, as ``import braze_cdi`` used to.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING

from . import _httpx  # noqa: F401  # first: httpx without its command line (see there)
from ._version import __version__

if TYPE_CHECKING:
    from ._budget_store import state_directory
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
    "state_directory",
]

# Where each public name is defined (the imports under TYPE_CHECKING above, for the loader).
_ERRORS = (
    "BrazeAPIError BrazeAuthenticationError BrazeCDIError BrazeConfigError BrazePermissionError "
    "BrazeRateLimited BrazeServerError BrazeTransportError Hint IntegrationNotFound "
    "InvalidIntegrationId Setting Surface SyncAlreadyRunning SyncFailed SyncTimeout"
)
_SCHEDULE = (
    "KnownUntil ScheduleReport ScheduleVerdict ScheduleWatch Skip Where is_active schedule_verdict"
)
_DEFINED_IN: dict[str, str] = {
    name: module
    for module, names in (
        ("_budget_store", "state_directory"),
        ("_client", "AsyncBrazeCDIClient BrazeCDIClient"),
        ("_config", "INSTANCES accept_renamed check_integration_id resolve_rest_endpoint"),
        ("_dashboard", "dashboard_url"),
        ("_doctor", "Diagnosis Finding RateWindow"),
        ("_errors", _ERRORS),
        ("_models", "IfRunning Integration JobStatus SyncHandle SyncJob SyncResult"),
        ("_rate_limit", "RateLimit RateLimits"),
        ("_retry", "RetryPolicy"),
        ("_schedule", _SCHEDULE),
    )
    for name in names.split()
}


def _load(name: str) -> object:
    """The public ``name``, imported from its module on first use (PEP 562's ``__getattr__``)."""
    module = _DEFINED_IN.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import_module(f"{__name__}.{module}")
    _publish()
    return globals()[name]


def _publish() -> None:
    """Bind the public names of every module of the core imported so far, so that they are
    looked up once only.

    The public classes go by their public path: a traceback reads `braze_cdi.SyncFailed`, not
    the private module that defines it, and pickles (which orchestrators ship between
    processes) name a path that stays valid when the private modules move.
    """
    namespace = globals()
    for name, module_name in _DEFINED_IN.items():
        module = sys.modules.get(f"{__name__}.{module_name}")
        if name in namespace or module is None or not hasattr(module, name):
            continue  # not imported yet, or still being imported
        public = namespace[name] = getattr(module, name)
        if isinstance(public, type) and public.__module__.startswith(f"{__name__}._"):
            public.__module__ = __name__


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if not TYPE_CHECKING:  # for type checkers, only the names imported above exist
    __getattr__ = _load
