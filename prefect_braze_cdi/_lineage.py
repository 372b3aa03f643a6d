"""Syncs as Prefect assets: each integration is an asset that a sync materializes, downstream of
the warehouse table it reads, so that Prefect's asset graph reads warehouse -> Braze.

An integration's asset key is ``braze://<REST host>/cdi/integrations/<integration id>``: stable
across runs, and distinct per workspace instance. Prefect refuses some characters in a key
(space, ``#``, ``?``, ``%``, ``&``, quotes, brackets...); such a character, and ``~`` itself, is
written ``~`` and two hex digits, so that two ids never share a key.

Prefect emits asset events only for a task declared with ``@materialize(...)`` before it runs;
an integration is known only once the task is called, and one ``sync_integrations`` task ends
many syncs, each at its own time. So the task that ends a sync emits the events a materializing
task would, through Prefect's own ``AssetContext``: ``prefect.asset.referenced`` for the
upstream table and ``prefect.asset.materialization.succeeded`` (or ``.failed``) for the
integration, the job's fields as the metadata, and the integration handed on as the upstream of
the flow's later tasks that take the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from prefect.assets import Asset, AssetProperties
from prefect.client.schemas.objects import State
from prefect.context import AssetContext, TaskRunContext
from prefect.states import Completed, Failed
from prefect.types.names import RESTRICTED_ASSET_CHARACTERS
from pydantic import ValidationError

from braze_cdi import (
    BrazeCDIError,
    BrazeConfigError,
    SyncFailed,
    SyncResult,
    SyncTimeout,
    check_integration_id,
    dashboard_url,
    resolve_rest_endpoint,
)

__all__ = [
    "MATERIALIZED_BY",
    "SyncLineage",
    "check_upstream_asset",
    "hand_on",
    "sync_asset_key",
    "sync_lineage",
]

#: The tool Prefect names as having materialized an integration's asset.
MATERIALIZED_BY = "braze-cdi"

_ESCAPED = frozenset(RESTRICTED_ASSET_CHARACTERS) | {"~"}


def sync_asset_key(rest_endpoint: str, integration_id: str) -> str:
    """The asset key of an integration: ``braze://<REST host>/cdi/integrations/<id>``.

    Raises:
        BrazeConfigError: the endpoint or the id is invalid, as the clients would refuse it.
    """
    host = urlsplit(resolve_rest_endpoint(rest_endpoint)).netloc.lower()
    integration_id = check_integration_id(integration_id)
    return f"braze://{_escape(host)}/cdi/integrations/{_escape(integration_id)}"


def check_upstream_asset(key: str | None) -> Asset | None:
    """The upstream asset a user named, refused before any request if Prefect would refuse it.

    Raises:
        BrazeConfigError: ``key`` is not a key Prefect accepts (a URI such as
            ``snowflake://account/db/schema/table``, without spaces, ``#``, ``?``, ``%``...).
    """
    if key is None:
        return None
    try:
        return Asset(key=key)
    except ValidationError as error:
        reason = "; ".join(str(e.get("msg", "")) for e in error.errors())
        raise BrazeConfigError(
            f"Invalid upstream asset key {key!r}: {reason}.",
            hint="Name the warehouse table as a URI with a lowercase scheme, such as "
            "snowflake://account/database/schema/table.",
        ) from None


@dataclass(frozen=True)
class SyncLineage:
    """The asset one sync materializes, and the asset it reads from, if named."""

    integration_id: str
    asset: Asset
    upstream: Asset | None = None

    def succeeded(self, result: SyncResult) -> None:
        """Record the materialization; its metadata is the result's record (the job's fields)."""
        self._emit(Completed(), dict(result.record()))

    def failed(self, error: BaseException) -> None:
        """Record a failed materialization, with the job's fields where the error has them."""
        metadata: dict[str, object] = {"integration_id": self.integration_id}
        if isinstance(error, SyncFailed | SyncTimeout) and error.job is not None:
            metadata |= error.job.record()
        metadata["error"] = type(error).__name__
        if isinstance(error, BrazeCDIError):  # its text is redacted by construction
            metadata["message"] = error.message
        self._emit(Failed(), metadata)

    def _emit(self, state: State, metadata: dict[str, object]) -> None:
        context = AssetContext(
            downstream_assets={self.asset},
            direct_asset_dependencies=set() if self.upstream is None else {self.upstream},
            materialized_by=MATERIALIZED_BY,
            materialization_metadata={self.asset.key: metadata},
        )
        context.emit_events(state)


def sync_lineage(
    rest_endpoint: str,
    integration_id: str,
    upstream_asset: str | Asset | None = None,
    *,
    integration_name: str | None = None,
) -> SyncLineage:
    """The lineage of one sync; the asset names the integration and links to its dashboard page
    where those are known.

    Raises:
        BrazeConfigError: the endpoint, the id or the upstream key is invalid.
    """
    key = sync_asset_key(rest_endpoint, integration_id)
    # Only what is known: properties given replace those Prefect knows of the asset.
    known = {"name": integration_name, "url": dashboard_url(rest_endpoint, integration_id)}
    properties = {name: value for name, value in known.items() if value is not None}
    asset = Asset(key=key, properties=AssetProperties(**properties) if properties else None)
    upstream = (
        upstream_asset
        if isinstance(upstream_asset, Asset)
        else check_upstream_asset(upstream_asset)
    )
    return SyncLineage(integration_id, asset, upstream)


def hand_on(lineages: Iterable[SyncLineage]) -> None:
    """Make the integrations the upstream assets of the flow's later tasks that take the current
    task's result, as Prefect does for a materializing task."""
    task_run = TaskRunContext.get()
    assets = {lineage.asset for lineage in lineages}
    if task_run is None or task_run.task_run is None or not assets:
        return
    AssetContext(downstream_assets=assets, task_run_id=task_run.task_run.id).update_tracked_assets()


def _escape(text: str) -> str:
    return "".join(f"~{ord(c):02x}" if c in _ESCAPED else c for c in text)
