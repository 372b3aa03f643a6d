"""Which integrations of the workspace become assets."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from fnmatch import fnmatchcase

from braze_cdi import BrazeConfigError, Integration, is_active

__all__ = ["BrazeCDISelector", "SelectorLike", "as_selector"]

#: What ``selector=`` accepts: a ``BrazeCDISelector``, or any callable over an ``Integration``
#: (paused integrations are still left out; ``BrazeCDISelector(where=..., active_only=False)``
#: keeps them).
SelectorLike = Callable[[Integration], bool]


@dataclass(frozen=True)
class BrazeCDISelector:
    """Picks integrations of the workspace; an integration must pass every filter given.

    Attributes:
        ids: Integration ids to keep.
        names: Glob patterns (``*``, ``?``, ``[abc]``) on ``integration_name``, case-sensitive:
            ``"prod_*"``.
        integration_types: ``integration_type`` values to keep (``"users"``, ``"catalogs"``,
            ...), in any case.
        warehouse_types: ``warehouse_type`` values to keep (``"snowflake"``, ``"bigquery"``,
            ...), in any case.
        active_only: Leave out integrations whose ``integration_status`` is set to anything
            but ``active`` (a paused integration; each left out is logged). Braze documents
            no list of statuses, so a missing status counts as active.
        where: Your own test, applied last.

    Examples:
        >>> from braze_cdi import Integration
        >>> from dagster_braze_cdi import BrazeCDISelector
        >>> users = Integration(
        ...     integration_id="1", integration_name="prod_users", warehouse_type="SNOWFLAKE",
        ...     integration_status="active",
        ... )
        >>> BrazeCDISelector(names=["prod_*"], warehouse_types=["snowflake"])(users)
        True
        >>> paused = users.model_copy(update={"integration_status": "paused"})
        >>> BrazeCDISelector()(paused), BrazeCDISelector(active_only=False)(paused)
        (False, True)
    """

    ids: Collection[str] = ()
    names: Collection[str] = ()
    integration_types: Collection[str] = ()
    warehouse_types: Collection[str] = ()
    active_only: bool = True
    where: SelectorLike | None = None

    def __post_init__(self) -> None:
        # Checked before any request: a bare string would be read as one pattern per letter.
        for field in ("ids", "names", "integration_types", "warehouse_types"):
            value = getattr(self, field)
            if isinstance(value, str) or not all(isinstance(item, str) for item in value):
                raise BrazeConfigError(
                    f"BrazeCDISelector's {field} is a list of strings, not {value!r}."
                )
        if self.where is not None and not callable(self.where):
            raise BrazeConfigError(f"BrazeCDISelector's where is a callable, not {self.where!r}.")

    def __call__(self, integration: Integration) -> bool:
        """Whether the integration is selected."""
        return self.matches(integration) and (not self.active_only or is_active(integration))

    def matches(self, integration: Integration) -> bool:
        """Whether the integration passes every filter but ``active_only``."""
        name = integration.integration_name or ""
        return (
            (not self.ids or integration.integration_id in self.ids)
            and (not self.names or any(fnmatchcase(name, pattern) for pattern in self.names))
            and _among(integration.integration_type, self.integration_types)
            and _among(integration.warehouse_type, self.warehouse_types)
            and (self.where is None or bool(self.where(integration)))
        )


def as_selector(selector: BrazeCDISelector | SelectorLike | None) -> BrazeCDISelector:
    """``selector=`` as a ``BrazeCDISelector``: a plain callable becomes its ``where``."""
    if selector is None:
        return BrazeCDISelector()
    if isinstance(selector, BrazeCDISelector):
        return selector
    if not callable(selector):
        raise BrazeConfigError(
            "selector is a BrazeCDISelector or a callable that takes an Integration, "
            f"not {selector!r}."
        )
    return BrazeCDISelector(where=selector)


def _among(value: str | None, wanted: Collection[str]) -> bool:
    return not wanted or (value is not None and value.lower() in {w.lower() for w in wanted})
