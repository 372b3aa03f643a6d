"""The whole workspace as assets: specs from ``GET /cdi/integrations``, and one multi-asset that
syncs the selected integrations."""

from collections.abc import Iterable

import dagster as dg

from braze_cdi import BrazeConfigError, Integration, is_active

from .assets import integration_id_of, sync_assets_from_specs
from .resource import BrazeCDIResource
from .selector import BrazeCDISelector, SelectorLike, as_selector
from .translator import INTEGRATION_ID, DagsterBrazeCDITranslator, integration_props

__all__ = [
    "build_braze_cdi_assets_definitions",
    "integration_id_of",
    "load_braze_cdi_asset_specs",
    "sync_assets_from_specs",
    "workspace_specs",
]


def load_braze_cdi_asset_specs(
    resource: BrazeCDIResource,
    *,
    selector: BrazeCDISelector | SelectorLike | None = None,
    translator: DagsterBrazeCDITranslator | None = None,
) -> list[dg.AssetSpec]:
    """The asset spec of every selected integration of the workspace.

    Reads ``GET /cdi/integrations``, every page (one request per 10 integrations), each time it
    is called: in a code location, that is each time the code loads. ``BrazeCDIWorkspaceComponent``
    reads Braze only when its state is refreshed.

    Args:
        resource: The workspace's resource.
        selector: Which integrations; by default every active one (paused integrations are
            left out, each with a log line).
        translator: How an integration becomes a spec (``DagsterBrazeCDITranslator``).

    Raises:
        BrazeConfigError: two integrations translate to the same asset key.
        BrazeCDIError: the list could not be read.

    Examples:
        >>> from braze_cdi.testing import FakeBraze
        >>> from dagster_braze_cdi import BrazeCDIResource, BrazeCDISelector
        >>> from dagster_braze_cdi import load_braze_cdi_asset_specs
        >>> fake = FakeBraze()
        >>> _ = fake.add_integration(name="users", warehouse_type="BIGQUERY")
        >>> _ = fake.add_integration(name="purchases")
        >>> _ = fake.add_integration(name="events", integration_status="paused")
        >>> with fake.serve() as url:
        ...     resource = BrazeCDIResource(api_key=fake.api_key, rest_endpoint=url)
        ...     specs = load_braze_cdi_asset_specs(resource)
        ...     only_users = load_braze_cdi_asset_specs(
        ...         resource, selector=BrazeCDISelector(warehouse_types=["bigquery"])
        ...     )
        >>> [spec.key.to_user_string() for spec in specs]
        ['braze/users', 'braze/purchases']
        >>> sorted(specs[0].kinds), [spec.key.path for spec in only_users]
        (['bigquery', 'braze'], [['braze', 'users']])
    """
    chosen, translator = as_selector(selector), _as_translator(translator)  # before any request
    # Outside a run, an EnvVar setting is still the variable's name: resolve it, as a run would.
    with resource.process_config_and_initialize().get_client() as client:
        integrations = list(client.list_integrations())
    return workspace_specs(integrations, selector=chosen, translator=translator)


def workspace_specs(
    integrations: Iterable[Integration],
    *,
    selector: BrazeCDISelector | SelectorLike | None = None,
    translator: DagsterBrazeCDITranslator | None = None,
) -> list[dg.AssetSpec]:
    """The specs of the selected integrations among ``integrations`` (the whole workspace, as
    listed), in list order; what ``load_braze_cdi_asset_specs`` does once it has the list.

    An integration listed twice (a page served twice) counts once. Each spec carries the
    integration's id as the metadata ``braze_cdi/integration_id``.

    Raises:
        BrazeConfigError: two integrations translate to the same asset key.
    """
    chosen, translator = as_selector(selector), _as_translator(translator)
    unique = list(
        {integration.integration_id: integration for integration in integrations}.values()
    )
    log = dg.get_dagster_logger("dagster_braze_cdi")
    specs: list[dg.AssetSpec] = []
    owners: dict[dg.AssetKey, str] = {}
    for props in integration_props(unique):
        integration = props.integration
        if not chosen(integration):
            if chosen.matches(integration) and not is_active(integration):
                log.info(
                    f"Braze CDI integration {integration.integration_name!r} "
                    f"({integration.integration_id}) is left out: its status is "
                    f"{integration.integration_status!r}, not active "
                    "(BrazeCDISelector(active_only=False) keeps it)."
                )
            continue
        spec = translator.get_asset_spec(props).merge_attributes(
            metadata={INTEGRATION_ID: integration.integration_id}
        )
        if spec.key in owners:
            raise BrazeConfigError(
                f"Braze CDI integrations {owners[spec.key]} and {integration.integration_id} "
                f"both translate to the asset key {spec.key.to_user_string()}: give the "
                "translator a key that tells them apart (props.identifier is unique)."
            )
        owners[spec.key] = integration.integration_id
        specs.append(spec)
    return specs


def _as_translator(translator: DagsterBrazeCDITranslator | None) -> DagsterBrazeCDITranslator:
    if translator is None:
        return DagsterBrazeCDITranslator()
    if not isinstance(translator, DagsterBrazeCDITranslator):
        raise BrazeConfigError(
            f"translator is a DagsterBrazeCDITranslator (or a subclass of it), not {translator!r}."
        )
    return translator


def build_braze_cdi_assets_definitions(
    resource: BrazeCDIResource,
    *,
    selector: BrazeCDISelector | SelectorLike | None = None,
    translator: DagsterBrazeCDITranslator | None = None,
    name: str = "braze_cdi_workspace",
    max_concurrency: int = 10,
    fail_on_partial: bool = False,
    max_failed_rows: int = 0,
    blocking_checks: bool = False,
    resource_key: str = "braze_cdi",
    pool: str | None = "braze_cdi",
) -> list[dg.AssetsDefinition]:
    """The selected integrations of the workspace as one subsettable multi-asset.

    Reads the integration list (as ``load_braze_cdi_asset_specs`` does) and returns a list
    that holds one ``dg.AssetsDefinition``: materializing any subset of its assets syncs those
    integrations concurrently, in one step, through one async client (one rate budget: the
    client paces the requests under Braze's limits). Each asset gets its own materialization
    (the metadata of ``build_braze_cdi_sync_asset``) and its own two checks,
    ``braze_cdi_sync_succeeded`` and ``braze_cdi_failed_rows``, as each sync ends.

    A sync that fails fails its own asset and checks only: the others are reported as they end,
    and then the step fails, naming every integration that failed. It is retried (under a retry
    policy) only when every failure is retryable; a retry of the run adopts the jobs its first
    attempt started (each trigger's record is kept on its asset).

    Args:
        resource: The workspace's resource, used here to read the list; bind the same under
            ``resource_key`` in your ``dg.Definitions``.
        selector: Which integrations; by default every active one.
        translator: How an integration becomes a spec.
        name: The multi-asset's (and its step's) name.
        max_concurrency: How many syncs run at once.
        fail_on_partial: A job that ends ``partial`` fails its asset (the resource's
            ``fail_on_partial`` turns this on too).
        max_failed_rows: How many failed rows ``braze_cdi_failed_rows`` allows.
        blocking_checks: Whether a failed check stops the assets downstream.
        resource_key: The key of the ``BrazeCDIResource``.
        pool: The Dagster concurrency pool of the step.

    Examples:
        >>> import dagster as dg
        >>> from braze_cdi.testing import FakeBraze
        >>> from dagster_braze_cdi import BrazeCDIResource, build_braze_cdi_assets_definitions
        >>> fake = FakeBraze()
        >>> for name in ("users", "purchases", "catalog"):
        ...     _ = fake.add_integration(name=name, duration=0.0)
        >>> with fake.serve() as url:
        ...     resource = BrazeCDIResource(api_key=fake.api_key, rest_endpoint=url)
        ...     braze_assets = build_braze_cdi_assets_definitions(resource)
        ...     result = dg.materialize(
        ...         braze_assets,
        ...         selection=["braze/users", "braze/catalog"],
        ...         resources={"braze_cdi": resource},
        ...     )
        >>> events = result.get_asset_materialization_events()
        >>> sorted(event.asset_key.to_user_string() for event in events)
        ['braze/catalog', 'braze/users']
        >>> [integration.triggered_jobs for integration in fake.integrations.values()]
        [1, 0, 1]
    """
    specs = load_braze_cdi_asset_specs(resource, selector=selector, translator=translator)
    return [
        sync_assets_from_specs(
            specs,
            name=name,
            max_concurrency=max_concurrency,
            fail_on_partial=fail_on_partial,
            max_failed_rows=max_failed_rows,
            blocking_checks=blocking_checks,
            resource_key=resource_key,
            pool=pool,
        )
    ]
