"""The artifacts that record how a sync ended (a table, and a link to the integration's page in
the Braze dashboard), and how each of many syncs ended (one table)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from prefect.types.names import raise_on_name_alphanumeric_dashes_only

from braze_cdi import (
    BrazeCDIError,
    BrazeConfigError,
    SyncFailed,
    SyncResult,
    SyncTimeout,
    dashboard_url,
)

__all__ = [
    "SyncArtifacts",
    "artifact_key_for",
    "check_artifact_key",
    "outcome_row",
    "readable",
    "selection_artifact_key",
    "selection_description",
    "sync_artifacts",
]

Row = dict[str, str | int | float | bool | None]


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


@dataclass(frozen=True)
class SyncArtifacts:
    """What records how one sync ended: a table of one row, and the link to the integration's
    dashboard page where that page is known."""

    key: str
    table: list[Row]
    description: str
    dashboard: str | None

    @property
    def link_key(self) -> str:
        """The link artifact's key: the table's, with ``-dashboard``."""
        return f"{self.key}-dashboard"


def sync_artifacts(
    rest_endpoint: str, integration_id: str, outcome: SyncResult | Exception, key: str | None
) -> SyncArtifacts:
    """The artifacts of one sync that ended in ``outcome``: a result, or the ``SyncFailed`` or
    ``SyncTimeout`` that ended the wait (with the job as Braze reported it)."""
    row = outcome_row(rest_endpoint, integration_id, outcome)
    del row["integration_name"]  # Braze's job status does not name the integration
    status = row["job_status"]
    if not isinstance(outcome, SyncResult):
        status = type(outcome).__name__ + ("" if status is None else f" (job {status})")
    description = f"Braze CDI sync of integration `{integration_id}`: **{status}**"
    dashboard = row["dashboard"]
    if dashboard is not None:
        description += f" ([open in Braze]({dashboard}))"
    return SyncArtifacts(
        key=artifact_key_for(integration_id, key),
        table=[row],
        description=description,
        dashboard=None if dashboard is None else str(dashboard),
    )


# --- the columns --------------------------------------------------------------------------------

# The columns of a sync that ended in an error: those of ``SyncResult.record``, the integration's
# dashboard page, and the error.
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
    "dashboard",
    "error",
)
_TIMES = ("sync_start_time", "sync_finish_time", "last_timestamp_synced")
_DURATIONS = ("duration_seconds", "waited_seconds")


def readable(row: Row) -> Row:
    """The row as a person reads it in a table: times in UTC to the second
    (``2026-11-29 20:07:32 UTC``), durations in seconds to a tenth below ten seconds and whole
    above.

    Examples:
        >>> row = readable({"sync_start_time": "2026-11-29T21:07:32.123456+01:00",
        ...                 "duration_seconds": 83.52, "waited_seconds": 0.2345})
        >>> row["sync_start_time"], row["duration_seconds"], row["waited_seconds"]
        ('2026-11-29 20:07:32 UTC', 84, 0.2)
    """
    shown = dict(row)
    for column in _TIMES:
        if isinstance(value := row.get(column), str):
            instant = datetime.fromisoformat(value).astimezone(timezone.utc)
            shown[column] = instant.strftime("%Y-%m-%d %H:%M:%S UTC")
    for column in _DURATIONS:
        if isinstance(seconds := row.get(column), int | float) and not isinstance(seconds, bool):
            shown[column] = round(seconds) if seconds >= 10 else round(seconds, 1)
    return shown


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
    rest_endpoint: str,
    integration_id: str,
    outcome: SyncResult | Exception,
    integration_name: str | None = None,
) -> Row:
    """One sync's row, ``readable``: the result's record, or what the error knows of the job
    and the error; and the integration's dashboard page where it is known."""
    row: Row = dict.fromkeys(_COLUMNS)
    row |= {
        "integration_id": integration_id,
        "integration_name": integration_name,
        "dashboard": dashboard_url(rest_endpoint, integration_id),
    }
    if isinstance(outcome, SyncResult):
        return readable(row | outcome.record())
    job = outcome.job if isinstance(outcome, SyncFailed | SyncTimeout) else None
    if job is not None:
        row |= job.record()
    if isinstance(outcome, BrazeCDIError):
        row["triggered"] = None if outcome.handle is None else outcome.handle.triggered
    row["error"] = f"{type(outcome).__name__}: {outcome}"
    return readable(row)


def selection_description(rows: Sequence[Row]) -> str:
    """The line shown above the table of many syncs."""
    failed = [str(row["integration_id"]) for row in rows if row["error"] is not None]
    summary = f"{len(rows) - len(failed)} of {len(rows)} succeeded"
    if failed:
        summary += "; failed: " + ", ".join(f"`{integration_id}`" for integration_id in failed)
    return f"Braze CDI syncs: **{summary}**"
