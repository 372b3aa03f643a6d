"""The table artifacts that record how a sync ended, and how each of many syncs ended."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from prefect.types.names import raise_on_name_alphanumeric_dashes_only

from braze_cdi import BrazeCDIError, BrazeConfigError, SyncFailed, SyncResult, SyncTimeout

__all__ = [
    "artifact_description",
    "artifact_key_for",
    "artifact_table",
    "check_artifact_key",
    "outcome_row",
    "selection_artifact_key",
    "selection_description",
]


def check_artifact_key(key: str | None) -> None:
    """Refuse a key Prefect would refuse, before a sync is started that could not be recorded.

    Raises:
        BrazeConfigError: (a ``ValueError``) in Prefect's words.
    """
    if key is not None:
        try:
            raise_on_name_alphanumeric_dashes_only(key, field_name="artifact_key")
        except ValueError as error:
            raise BrazeConfigError(str(error)) from None


def artifact_key_for(integration_id: str, key: str | None) -> str:
    """The given key, or one per integration, so the Artifacts page keeps each one's history."""
    if key is not None:
        return key
    return "braze-cdi-sync-" + re.sub(r"[^a-z0-9-]+", "-", integration_id.lower()).strip("-")


def artifact_table(result: SyncResult) -> list[dict[str, str | int | float | bool | None]]:
    """One row: the result's record, named as the model fields."""
    return [result.record()]


def artifact_description(result: SyncResult) -> str:
    """The line shown above the table."""
    return f"Braze CDI sync of integration `{result.integration_id}`: **{result.job_status}**"


# --- many syncs in one table ------------------------------------------------------------------

Row = dict[str, str | int | float | bool | None]

# The columns of a sync that ended in an error: those of ``SyncResult.record``, and the error.
_COLUMNS = (
    "integration_id",
    "integration_name",
    "job_status",
    "rows_synced",
    "rows_failed_with_errors",
    "sync_start_time",
    "sync_finish_time",
    "last_timestamp_synced",
    "duration_seconds",
    "triggered",
    "waited_seconds",
    "status_calls",
    "error",
)


def selection_artifact_key(
    integration_ids: Sequence[str] | None, name_pattern: str | None, key: str | None
) -> str:
    """The given key, or one per selection, the same on every run of it, so the Artifacts page
    keeps its history: ``braze-cdi-syncs-<pattern>-<hash>`` or ``braze-cdi-syncs-<hash>``
    (the hash of the pattern, or of the ids in any order)."""
    if key is not None:
        return key
    if name_pattern is not None:
        selection = "pattern:" + name_pattern
        slug = re.sub(r"[^a-z0-9-]+", "-", name_pattern.lower()).strip("-")[:40].strip("-")
    else:
        selection = "ids:" + "\n".join(sorted(integration_ids or ()))
        slug = ""
    digest = hashlib.sha256(selection.encode()).hexdigest()[:8]
    return "-".join(part for part in ("braze-cdi-syncs", slug, digest) if part)


def outcome_row(
    integration_id: str, outcome: SyncResult | Exception, integration_name: str | None = None
) -> Row:
    """One row of the table of many syncs: the result's record, or what the error knows of the
    job, and the error."""
    row: Row = dict.fromkeys(_COLUMNS)
    row |= {"integration_id": integration_id, "integration_name": integration_name}
    if isinstance(outcome, SyncResult):
        return row | outcome.record()
    job = outcome.job if isinstance(outcome, SyncFailed | SyncTimeout) else None
    if job is not None:
        row |= job.record()
    if isinstance(outcome, BrazeCDIError):
        row["triggered"] = None if outcome.handle is None else outcome.handle.triggered
    row["error"] = f"{type(outcome).__name__}: {outcome}"
    return row


def selection_description(rows: Sequence[Row]) -> str:
    """The line shown above the table of many syncs."""
    failed = [str(row["integration_id"]) for row in rows if row["error"] is not None]
    summary = f"{len(rows) - len(failed)} of {len(rows)} succeeded"
    if failed:
        summary += "; failed: " + ", ".join(f"`{integration_id}`" for integration_id in failed)
    return f"Braze CDI syncs: **{summary}**"
