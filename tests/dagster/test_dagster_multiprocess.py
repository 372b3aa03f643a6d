"""Dagster's multiprocess executor runs each step in a process of its own: the sync assets of
one run, each in its own process, share the workspace's request budgets, and Braze (the fake)
never answers 429.

Real Dagster execution on a real ``DagsterInstance`` (sqlite, in a temporary directory), against
a FakeBraze over loopback whose trigger limit the run over-subscribes: 10 steps, all at once,
against 4 triggers per 2 seconds, the resource configured with the same limits. The budgets are
kept in ``BRAZE_CDI_STATE_DIR``, a temporary directory. The steps' processes fork from a
forkserver that imported Dagster once (``multiprocess_defs``), so the test does not pay for
importing it in each.

No outcome depends on timing: the fake holds the first requests of the steps until as many
steps as the trigger budget allows at once have sent theirs (a step looks at its job list once
it has its trigger's turn), so however unevenly the step processes start, their triggers come
in bursts; no assertion reads a duration, and the wait for the steps has a generous deadline.
"""

import threading
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from braze_cdi import RateLimit, RateLimits
from braze_cdi.testing import FakeBraze

from . import multiprocess_defs

STEPS = 10
# Triggers are the budget the run over-subscribes; the list and the job-status reads have room.
LIMITS = RateLimits(
    trigger=RateLimit(4, 2.0), list=RateLimit(1000, 2.0), status=RateLimit(1000, 2.0)
)
RESOURCE_LIMITS = {
    f"{kind}_{field}": getattr(getattr(LIMITS, kind), field)
    for kind in ("trigger", "list", "status")
    for field in ("calls", "period")
}
SETTINGS: dict[str, Any] = {"poll_interval": 0.05, "max_wait": 120.0}
DEADLINE = 120.0  # seconds the steps may take to start, before the fake lets them all go


class AllAtOnce(FakeBraze):
    """A FakeBraze that holds the first request of each integration's step (its look at the
    job list, sent once the step has its trigger's turn) until the steps of ``steps``
    integrations have sent theirs, then answers them together: the triggers that follow reach
    it in one burst, as if those step processes had started at the same instant."""

    def __init__(self, steps: int, **options: Any) -> None:
        super().__init__(**options)
        self.steps = steps
        self.waiting: set[str] = set()
        self.released = threading.Event()
        self.gave_up = False
        self._arrivals = threading.Lock()

    def reply(self, request: httpx.Request) -> Any:
        parts = request.url.path.split("/")  # /cdi/integrations/<id>/...
        if not self.released.is_set() and len(parts) > 3:
            with self._arrivals:
                self.waiting.add(parts[3])
                if len(self.waiting) >= self.steps:
                    self.released.set()
            if not self.released.wait(DEADLINE):
                self.gave_up = True
                self.released.set()
        return super().reply(request)


def test_the_steps_of_a_run_share_the_workspace_budgets_across_processes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state_dir = str(tmp_path / "state")
    monkeypatch.setenv("BRAZE_CDI_STATE_DIR", state_dir)  # the job sets it again in each process
    # As many steps as the budget lets trigger at once look at their job lists together.
    assert LIMITS.trigger is not None
    fake = AllAtOnce(LIMITS.trigger.calls, rate_limits=LIMITS)
    integrations = [
        fake.add_integration(name=f"table {position:02d}", duration=0.2)
        for position in range(STEPS)
    ]
    with fake.serve() as url, dg.instance_for_test() as instance:
        job = dg.build_reconstructable_job(
            multiprocess_defs.__name__,
            multiprocess_defs.sync_job.__name__,
            reconstructable_kwargs={
                "url": url,
                "api_key": fake.api_key,
                "integration_ids": [i.integration_id for i in integrations],
                "rate_limits": RESOURCE_LIMITS,
                "max_concurrent": STEPS,
                "settings": SETTINGS,
                "state_dir": state_dir,
            },
            reconstructor_working_directory=str(Path(__file__).parent),
        )
        with dg.execute_job(job, instance, raise_on_error=False) as result:
            success = result.success
            materialized = {
                event.asset_key: event.materialization.metadata
                for event in result.get_asset_materialization_events()
                if event.asset_key is not None
            }

    assert not fake.gave_up, f"only {len(fake.waiting)} steps reached the fake together"
    assert success
    assert set(materialized) == {multiprocess_defs.key_of(n) for n in range(STEPS)}
    assert {
        (metadata["job_status"].value, metadata["triggered"].value)
        for metadata in materialized.values()
    } == {("success", True)}
    throttled = {kind: fake.count(kind, status=429) for kind in ("trigger", "list", "status")}
    assert throttled == {"trigger": 0, "list": 0, "status": 0}
    assert [integration.triggered_jobs for integration in integrations] == [1] * STEPS
