"""The table artifact that records how a sync ended."""

from __future__ import annotations

import re

from prefect.types.names import raise_on_name_alphanumeric_dashes_only

from braze_cdi import SyncResult

__all__ = ["artifact_description", "artifact_key_for", "artifact_table", "check_artifact_key"]


def check_artifact_key(key: str | None) -> None:
    """Refuse a key Prefect would refuse, before a sync is started that could not be recorded."""
    if key is not None:
        raise_on_name_alphanumeric_dashes_only(key, field_name="artifact_key")


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
