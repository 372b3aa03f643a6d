"""Braze Cloud Data Ingestion for Prefect: a credentials block, a job block per integration,
tasks and flows (one integration, many at once, and a watcher of Braze's own schedules), with
each sync in Prefect's asset lineage.

A thin layer over the ``braze_cdi`` core: the core makes every request, retry and wait; this
package turns its results and failures into Prefect's idioms (task retries, run logs, a table
artifact, events, a shared rate limit). Every task and flow has an async twin named with an
``a`` in front: ``atrigger_sync``, ``await_for_sync``, ``atrigger_sync_and_wait_for_completion``.
Errors are the core's, importable from ``braze_cdi``.
"""

try:
    import prefect  # noqa: F401
except ImportError as error:
    raise ImportError(
        f"prefect_braze_cdi needs Prefect, which could not be imported ({error}). "
        "Install the extra: pip install 'braze-cdi[prefect]'"
    ) from error

from .credentials import BrazeCDICredentials
from .flows import (
    async_integrations,
    atrigger_sync_and_wait_for_completion,
    sync_integrations,
    trigger_sync_and_wait_for_completion,
)
from .jobs import BrazeCDISync, BrazeCDISyncRun, arun_braze_cdi_sync, run_braze_cdi_sync
from .tasks import atrigger_sync, await_for_sync, trigger_sync, wait_for_sync
from .watcher import BrazeCDIWatcherCursor, WatchSummary, watch_braze_cdi_syncs

__all__ = [
    "BrazeCDICredentials",
    "BrazeCDISync",
    "BrazeCDISyncRun",
    "BrazeCDIWatcherCursor",
    "WatchSummary",
    "arun_braze_cdi_sync",
    "async_integrations",
    "atrigger_sync",
    "atrigger_sync_and_wait_for_completion",
    "await_for_sync",
    "run_braze_cdi_sync",
    "sync_integrations",
    "trigger_sync",
    "trigger_sync_and_wait_for_completion",
    "wait_for_sync",
    "watch_braze_cdi_syncs",
]
