"""Dagster's multiprocess executor: 40 sync assets, each built on its own and so each a step in
a process of its own, materialized in one run against a FakeBraze (in another process) at
Braze's documented limits (20 triggers a minute, ``RateLimits()``), the resource at its default
limits too.

The steps' processes share the workspace's budgets (``across_processes``, on by default), so
Braze (the fake) answers no 429, and the second 20 triggers go when Braze's window turns: at
most the minute of the sliding floor ``(N - burst) / rate + one job's duration``, sooner when
the first 20 went late in a window. Reported: the whole run, and its steps (from the
first step's start to the last step's end, without the start of the processes). For
comparison, the same run with a budget per process, as before budgets were shared: each step
believes it has the workspace to itself.

All 40 steps may run at once (``max_concurrent``). They fork from a forkserver that imported
Dagster and this module once; spawned (Dagster's default), each of the 40 would import Dagster
again, a second or two of CPU each (far more where Python's bytecode is not cached), and their
start, not Braze's limits, would set the pace on a small machine.

Run alone with ``uv run python -m benchmarks.multiprocess_assets``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import dagster as dg

from braze_cdi import RateLimits
from dagster_braze_cdi import BrazeCDIRateLimits, BrazeCDIResource, build_braze_cdi_sync_asset

from ._remote import remote_fake
from ._report import Figure, table

ASSETS = 40
DURATION = 1.0  # seconds each job runs
POLL = 1.0
JOB = "braze_syncs"
# The module the step processes rebuild the job from (__name__ is __main__ when run alone).
MODULE = "benchmarks.multiprocess_assets"
ROOT = Path(__file__).resolve().parents[1]
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def sync_job(
    *, url: str, api_key: str, integration_ids: list[str], across_processes: bool, state_dir: str
) -> dg.JobDefinition:
    """A sync asset per integration in one job, run by the multiprocess executor; rebuilt by
    name in every step's process."""
    # A forkserver's children have the environment it started with: each process that
    # rebuilds the job says where the shared budgets are kept, before any client is made.
    os.environ["BRAZE_CDI_STATE_DIR"] = state_dir
    assets = [
        build_braze_cdi_sync_asset(integration_id=integration_id, key=["braze", f"table_{n:02d}"])
        for n, integration_id in enumerate(integration_ids)
    ]
    job = dg.define_asset_job(
        JOB,
        selection=assets,
        executor_def=dg.multiprocess_executor.configured(
            {"max_concurrent": len(assets), "start_method": {"forkserver": {}}}
        ),
    )
    resource = BrazeCDIResource(
        api_key=api_key,
        rest_endpoint=url,
        poll_interval=POLL,
        rate_limits=BrazeCDIRateLimits(across_processes=across_processes),
    )
    defs = dg.Definitions(assets=assets, jobs=[job], resources={"braze_cdi": resource})
    return defs.resolve_job_def(JOB)


def _floor() -> float:
    limit = RateLimits().trigger
    assert limit is not None
    return max(0, ASSETS - limit.calls) / (limit.calls / limit.period) + DURATION


def _measure(across_processes: bool) -> tuple[float, float, int, int]:
    """Wall seconds of the run, seconds from the first step's start to the last step's end
    (the run without its processes' start), 429s served, assets materialized from a successful
    job."""
    before = os.environ.get("BRAZE_CDI_STATE_DIR")
    try:
        with (
            tempfile.TemporaryDirectory() as state_dir,
            remote_fake(ASSETS, history=0, duration=DURATION) as remote,
            dg.instance_for_test() as instance,
        ):
            job = dg.build_reconstructable_job(
                MODULE,
                sync_job.__name__,
                reconstructable_kwargs={
                    "url": remote.url,
                    "api_key": remote.api_key,
                    "integration_ids": remote.integration_ids,
                    "across_processes": across_processes,
                    "state_dir": state_dir,
                },
                reconstructor_working_directory=str(ROOT),
            )
            started = time.perf_counter()
            with dg.execute_job(job, instance, run_config=QUIET, raise_on_error=False) as result:
                wall = time.perf_counter() - started
                ok = sum(
                    event.materialization.metadata["job_status"].value == "success"
                    for event in result.get_asset_materialization_events()
                )
                steps = _steps_span(instance, result.run_id)
    finally:
        if before is None:
            os.environ.pop("BRAZE_CDI_STATE_DIR", None)
        else:
            os.environ["BRAZE_CDI_STATE_DIR"] = before
    return wall, steps, remote.counts["429"], ok


def _steps_span(instance: dg.DagsterInstance, run_id: str) -> float:
    """Seconds from the first step's start to the last step's end, by the run's event log."""
    kinds = {
        dg.DagsterEventType.STEP_START,
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
    }
    times = [
        entry.timestamp
        for entry in instance.all_logs(run_id)
        if entry.dagster_event is not None and entry.dagster_event.event_type in kinds
    ]
    return max(times) - min(times)


def run() -> list[Figure]:
    floor = _floor()
    wall, steps, throttled, ok = _measure(across_processes=True)
    alone_wall, alone_steps, alone_throttled, alone_ok = _measure(across_processes=False)
    return [
        Figure(
            f"multiprocess executor, {ASSETS} assets: shared budgets",
            f"run {wall:.1f}s, steps {steps:.1f}s (sliding floor {floor:.1f}s), {throttled} 429s, "
            f"{ok}/{ASSETS} ok",
            f"0 429s, {ASSETS}/{ASSETS} ok",
            throttled == 0 and ok == ASSETS,
        ),
        Figure(
            f"multiprocess executor, {ASSETS} assets: a budget per process",
            f"run {alone_wall:.1f}s, steps {alone_steps:.1f}s, {alone_throttled} 429s, "
            f"{alone_ok}/{ASSETS} ok",
            "(comparison)",
            True,
        ),
    ]


if __name__ == "__main__":
    print(table(run()))
