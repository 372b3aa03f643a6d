"""The job of ``test_dagster_multiprocess``: Dagster's multiprocess executor rebuilds it, by
module and function name, in every step's process, so it lives in a module of its own that
imports only what the steps need."""

import os
from typing import Any

import dagster as dg

from dagster_braze_cdi import BrazeCDIRateLimits, BrazeCDIResource, build_braze_cdi_sync_asset

JOB = "braze_syncs"


def key_of(position: int) -> dg.AssetKey:
    return dg.AssetKey(["braze", f"table_{position:02d}"])


def sync_job(
    *,
    url: str,
    api_key: str,
    integration_ids: list[str],
    rate_limits: dict[str, Any],
    max_concurrent: int,
    settings: dict[str, Any],
    state_dir: str,
) -> dg.JobDefinition:
    """A sync asset per integration, each built on its own (so each is a step, in a process
    of its own), in one job run by the multiprocess executor; the budgets shared by the steps'
    processes are kept in ``state_dir``."""
    # A forkserver's children have the environment it started with, which may be older than
    # the test's: each process that rebuilds the job says where the budgets are kept, before
    # any client is made.
    os.environ["BRAZE_CDI_STATE_DIR"] = state_dir
    assets = [
        build_braze_cdi_sync_asset(integration_id=integration_id, key=key_of(position))
        for position, integration_id in enumerate(integration_ids)
    ]
    job = dg.define_asset_job(
        JOB,
        selection=assets,
        executor_def=dg.multiprocess_executor.configured(
            # forkserver: the step processes fork from one that imported this module (and so
            # Dagster) once, rather than each importing it again (spawn, Dagster's default).
            {"max_concurrent": max_concurrent, "start_method": {"forkserver": {}}}
        ),
    )
    resource = BrazeCDIResource(
        api_key=api_key,
        rest_endpoint=url,
        rate_limits=BrazeCDIRateLimits(**rate_limits),
        **settings,
    )
    defs = dg.Definitions(assets=assets, jobs=[job], resources={"braze_cdi": resource})
    return defs.resolve_job_def(JOB)
