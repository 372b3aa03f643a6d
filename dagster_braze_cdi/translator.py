"""From a Braze CDI integration to a Dagster asset spec: the translator and what it is given."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

from braze_cdi import Integration

__all__ = [
    "INTEGRATION_ID",
    "BrazeCDIIntegrationProps",
    "DagsterBrazeCDITranslator",
    "integration_props",
]

#: The metadata key every workspace spec carries: which integration the asset syncs.
INTEGRATION_ID = "braze_cdi/integration_id"

# Integration names come from the network: an identifier keeps letters, digits and "_", lower
# case, at most this long (a Dagster step name is built from it).
_MAX_IDENTIFIER = 64
_NOT_WORD = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class BrazeCDIIntegrationProps:
    """What a translator is given for one integration.

    Attributes:
        integration: The integration as ``GET /cdi/integrations`` lists it.
        identifier: Its name as an identifier (lower case, letters, digits and ``_``), unique
            in the workspace: integrations that share a name get the start of their id appended
            (``users_5d1c0c1e``), and one without a name is ``integration_<id>``.
    """

    integration: Integration
    identifier: str


def integration_props(integrations: Iterable[Integration]) -> list[BrazeCDIIntegrationProps]:
    """Each integration with its identifier, unique among ``integrations`` (the whole workspace,
    so that a selector does not change any key).

    Examples:
        >>> from braze_cdi import Integration
        >>> workspace = [
        ...     Integration(integration_id="5d1c0c1e-59a5", integration_name="Users"),
        ...     Integration(integration_id="8c4e2a91-77b0", integration_name="users"),
        ...     Integration(integration_id="0f00", integration_name="Purchases (daily)"),
        ... ]
        >>> [props.identifier for props in integration_props(workspace)]
        ['users_5d1c0c1e', 'users_8c4e2a91', 'purchases_daily']
    """
    listed = list(integrations)
    names = [_identifier(integration.integration_name) for integration in listed]
    counts = Counter(names)
    first = [
        name if name and counts[name] == 1 else _qualified(name, integration, 8)
        for name, integration in zip(names, listed, strict=True)
    ]
    counts = Counter(first)  # a qualified name may meet a plain one ("users_5d1c0c1e")
    return [
        BrazeCDIIntegrationProps(
            integration, name if counts[name] == 1 else _qualified(stem, integration, None)
        )
        for name, stem, integration in zip(first, names, listed, strict=True)
    ]


def _qualified(name: str | None, integration: Integration, length: int | None) -> str:
    suffix = (_identifier(integration.integration_id) or "id")[:length]
    return f"{name or 'integration'}_{suffix}"[:_MAX_IDENTIFIER]


class DagsterBrazeCDITranslator:
    """Turns each Braze CDI integration into the ``dg.AssetSpec`` of its sync asset.

    By default: the key ``braze/<identifier>``, the kinds ``braze`` and the warehouse type
    (``snowflake``, ``bigquery``, ...), a description, and metadata with the integration's
    fields (``braze_cdi/integration_id``, ``braze_cdi/integration_name``,
    ``braze_cdi/integration_type``, ``braze_cdi/warehouse_type``, ``braze_cdi/app_group_id``,
    ``braze_cdi/contact_emails``). Fields that change with every job (the last job, the next
    scheduled run) are left out: the definitions would change whenever Braze ran a sync.

    Subclass it and override ``get_asset_spec`` to change keys, groups, deps, tags or owners;
    start from ``super().get_asset_spec(props)`` and ``replace_attributes`` or
    ``merge_attributes``. The ``braze_cdi/integration_id`` metadata is added back if a
    translator drops it: it says which integration the asset syncs.

    Examples:
        >>> import dagster as dg
        >>> from braze_cdi import Integration
        >>> from dagster_braze_cdi import BrazeCDIIntegrationProps, DagsterBrazeCDITranslator
        >>> class MyTranslator(DagsterBrazeCDITranslator):
        ...     def get_asset_spec(self, props: BrazeCDIIntegrationProps) -> dg.AssetSpec:
        ...         spec = super().get_asset_spec(props)
        ...         table = props.integration.integration_name
        ...         return spec.replace_attributes(
        ...             key=spec.key.with_prefix("crm"), group_name="braze", deps=[f"{table}"]
        ...         )
        >>> props = BrazeCDIIntegrationProps(
        ...     Integration(
        ...         integration_id="5d1c0c1e-59a5-4f8b-9a53-02cc0a2b7d11",
        ...         integration_name="users",
        ...         warehouse_type="SNOWFLAKE",
        ...     ),
        ...     identifier="users",
        ... )
        >>> spec = MyTranslator().get_asset_spec(props)
        >>> spec.key.to_user_string(), sorted(spec.kinds), [dep.asset_key.path for dep in spec.deps]
        ('crm/braze/users', ['braze', 'snowflake'], [['users']])
    """

    def get_asset_spec(self, props: BrazeCDIIntegrationProps) -> dg.AssetSpec:
        """The spec of the asset that syncs ``props.integration``."""
        integration = props.integration
        kinds = {"braze"}
        warehouse = _identifier(integration.warehouse_type)
        if warehouse:
            kinds.add(warehouse)
        name = integration.integration_name or integration.integration_id
        source = " from ".join(
            part for part in (integration.integration_type, integration.warehouse_type) if part
        )
        return dg.AssetSpec(
            key=["braze", props.identifier],
            kinds=kinds,
            description=f"Braze Cloud Data Ingestion integration {name!r}"
            + (f" ({source})" if source else "")
            + ": materializing it triggers a sync and waits for it to finish.",
            metadata=integration_metadata(integration),
        )


def integration_metadata(integration: Integration) -> dict[str, str]:
    """The integration's lasting fields as metadata, keys prefixed ``braze_cdi/``."""
    emails = integration.contact_emails
    fields = {
        "integration_id": integration.integration_id,
        "integration_name": integration.integration_name,
        "integration_type": integration.integration_type,
        "warehouse_type": integration.warehouse_type,
        "app_group_id": integration.app_group_id,
        "contact_emails": ", ".join(emails) if isinstance(emails, list) else emails,
    }
    return {f"braze_cdi/{key}": value for key, value in fields.items() if value}


def _identifier(text: str | None) -> str | None:
    if not text:
        return None
    return _NOT_WORD.sub("_", text.lower()).strip("_")[:_MAX_IDENTIFIER].strip("_") or None
