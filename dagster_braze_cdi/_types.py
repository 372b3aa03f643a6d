"""Type aliases of what the factories accept (Dagster keeps its own aliases private)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import dagster as dg

__all__ = ["AssetDepLike", "AssetKeyLike"]

AssetKeyLike: TypeAlias = dg.AssetKey | str | Sequence[str]
AssetDepLike: TypeAlias = (
    dg.AssetKey | str | Sequence[str] | dg.AssetSpec | dg.AssetsDefinition | dg.AssetDep
)
