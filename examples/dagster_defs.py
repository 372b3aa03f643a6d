"""Braze CDI syncs in a Dagster asset graph: two syncs, a downstream asset, health checks on
Braze's job history, and a sensor that records the syncs Braze's own schedule runs.

Against your workspace::

    export BRAZE_API_KEY=...                # a REST API key with the cdi.* permissions
    export BRAZE_REST_ENDPOINT=US-01        # your instance, or its REST URL
    export BRAZE_USERS_INTEGRATION_ID=...   # the ids at the end of the integrations' URLs
    export BRAZE_PURCHASES_INTEGRATION_ID=...
    dagster dev -f examples/dagster_defs.py

Without an account, against the simulated workspace of ``braze-cdi fake`` (whose ``users`` and
``purchases`` integrations are this module's defaults)::

    braze-cdi fake                          # in one shell; it prints the two exports
    export BRAZE_REST_ENDPOINT=http://127.0.0.1:...  BRAZE_API_KEY=fake-...
    dagster dev -f examples/dagster_defs.py

Then materialize the ``braze`` group, run the ``braze_cdi_health`` checks job, and turn on the
sensor. ``dagster instance concurrency set braze_cdi 2`` caps how many syncs run at once.
"""

import os
from datetime import timedelta

import dagster as dg

from dagster_braze_cdi import (
    BrazeCDIResource,
    build_braze_cdi_job_checks,
    build_braze_cdi_sync_asset,
    build_braze_cdi_sync_sensor,
)

# The defaults are the ids of the users and purchases integrations `braze-cdi fake` serves.
USERS_ID = os.environ.get("BRAZE_USERS_INTEGRATION_ID", "5d1c0c1e-59a5-4f8b-9a53-02cc0a2b7d11")
PURCHASES_ID = os.environ.get(
    "BRAZE_PURCHASES_INTEGRATION_ID", "8c4e2a91-7f3b-4d6e-a0c5-19b8d7e6f254"
)

# The warehouse tables the integrations read (built elsewhere, so only declared here).
warehouse_users = dg.AssetSpec(["warehouse", "users"], kinds={"snowflake"})
warehouse_purchases = dg.AssetSpec(["warehouse", "purchases"], kinds={"snowflake"})

braze_users = build_braze_cdi_sync_asset(
    integration_id=USERS_ID,
    key=["braze", "users"],
    deps=[warehouse_users],
    group_name="braze",
    # Audiences must not be built on a sync that dropped users.
    blocking_checks=True,
)
braze_purchases = build_braze_cdi_sync_asset(
    integration_id=PURCHASES_ID,
    key=["braze", "purchases"],
    deps=[warehouse_purchases],
    group_name="braze",
    # A few rejected purchase rows are tolerated; more fail braze_cdi_failed_rows.
    max_failed_rows=50,
)


@dg.asset(deps=[braze_users, braze_purchases], group_name="marketing", kinds={"python"})
def campaign_audiences(context: dg.AssetExecutionContext) -> None:
    """Stands for what uses the synced data, such as audiences built from it."""
    context.log.info("Both syncs are done: the audiences can be refreshed.")


health_checks = [
    build_braze_cdi_job_checks(
        integration_id=USERS_ID, asset_key=braze_users.key, max_age=timedelta(hours=24)
    ),
    build_braze_cdi_job_checks(
        integration_id=PURCHASES_ID,
        asset_key=braze_purchases.key,
        max_age=timedelta(hours=24),
        max_failed_rows=50,
    ),
]

defs = dg.Definitions(
    assets=[warehouse_users, warehouse_purchases, braze_users, braze_purchases, campaign_audiences],
    asset_checks=health_checks,
    schedules=[
        dg.ScheduleDefinition(
            name="braze_cdi_health",
            cron_schedule="*/30 * * * *",
            target=dg.AssetSelection.checks(*health_checks),
        )
    ],
    sensors=[
        build_braze_cdi_sync_sensor(
            integration_id=USERS_ID, asset_key=braze_users.key, minimum_interval_seconds=60
        )
    ],
    resources={
        "braze_cdi": BrazeCDIResource(
            # Read when a run starts, so that the definitions load without them.
            api_key=dg.EnvVar("BRAZE_API_KEY"),
            rest_endpoint=dg.EnvVar("BRAZE_REST_ENDPOINT"),
            poll_interval=5.0,
        )
    },
)
