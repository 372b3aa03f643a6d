"""Braze Cloud Data Ingestion for Prefect: a credentials block, tasks and flows.

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
from .flows import atrigger_sync_and_wait_for_completion, trigger_sync_and_wait_for_completion
from .tasks import atrigger_sync, await_for_sync, trigger_sync, wait_for_sync

__all__ = [
    "BrazeCDICredentials",
    "atrigger_sync",
    "atrigger_sync_and_wait_for_completion",
    "await_for_sync",
    "trigger_sync",
    "trigger_sync_and_wait_for_completion",
    "wait_for_sync",
]
