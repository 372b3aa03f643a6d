"""One rate budget for every process of the machine: several processes that call the same
workspace stay inside Braze's limits together (a SQLite file in the state directory)."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from braze_cdi import BrazeCDIClient, RateLimit, RateLimits
from braze_cdi._budget_store import SlotStore
from braze_cdi.testing import FakeBraze

LIMIT = RateLimit(3, 2.0)  # Braze's 20 a minute, shrunk: 3 triggers per 2 s window
LIMIT_FOR_THE_FAKE = RateLimits(trigger=LIMIT)
PROCESSES, EACH = 3, 3

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from braze_cdi import BrazeCDIClient, RateLimit, RateLimits

    url, key, across, ready, go, *ids = sys.argv[1:]
    limits = RateLimits(trigger=RateLimit(3, 2.0), across_processes=across == "yes")
    with BrazeCDIClient(key, url, rate_limits=limits) as client:
        Path(ready).touch()
        while not Path(go).exists():  # every process starts triggering at once
            time.sleep(0.01)
        for integration_id in ids:
            client.trigger_sync(integration_id)
    """
)


def _fan_out_from_processes(fake: FakeBraze, url: str, tmp_path: Path, across: bool) -> None:
    ids = [fake.add_integration(duration=0.0).integration_id for _ in range(PROCESSES * EACH)]
    go = tmp_path / "go"
    children = []
    for n in range(PROCESSES):
        ready = tmp_path / f"ready-{n}"
        mine = ids[n * EACH : (n + 1) * EACH]
        args = [url, fake.api_key, "yes" if across else "no", str(ready), str(go), *mine]
        children.append((ready, subprocess.Popen([sys.executable, "-c", CHILD, *args])))
    deadline = time.monotonic() + 60
    while not all(ready.exists() for ready, _ in children):
        assert time.monotonic() < deadline, "the processes did not start"
        time.sleep(0.01)
    go.touch()
    for _, child in children:
        assert child.wait(timeout=60) == 0
    assert [i.triggered_jobs for i in fake.integrations.values()] == [1] * len(ids)


def test_processes_of_one_machine_share_the_workspaces_budget(tmp_path: Path) -> None:
    fake = FakeBraze(rate_limits=LIMIT_FOR_THE_FAKE)
    with fake.serve() as url:
        _fan_out_from_processes(fake, url, tmp_path, across=True)

    assert fake.count(status=429) == 0


def test_budgets_kept_per_process_meet_429s(tmp_path: Path) -> None:
    fake = FakeBraze(rate_limits=LIMIT_FOR_THE_FAKE)
    with fake.serve() as url:
        _fan_out_from_processes(fake, url, tmp_path, across=False)

    # Each process believed it had the window to itself: Braze refused the excess (which the
    # clients then sent again, once the window had reset).
    assert fake.count(status=429) > 0


def test_a_slot_held_by_a_process_that_died_frees_when_its_lease_ends(tmp_path: Path) -> None:
    store = SlotStore(tmp_path / "budgets.sqlite3")
    taken = store.take("w", 1, now=100.0, lease=40.0, horizon=500.0)
    assert taken == (0, -1e300, 100.0, 140.0)  # then the process is killed: never given back

    assert store.take("w", 1, now=139.0, lease=40.0, horizon=500.0) is None  # still leased
    assert store.take("w", 1, now=141.0, lease=40.0, horizon=500.0) == (0, 140.0, 141.0, 181.0)


def test_times_from_before_a_restart_do_not_hold_a_slot(tmp_path: Path) -> None:
    store = SlotStore(tmp_path / "budgets.sqlite3")
    slot, _, _, lease_until = store.take("w", 1, now=90_000.0, lease=40.0, horizon=500.0)  # type: ignore[misc]
    store.give_back("w", slot, lease_until, free_at=90_060.0)
    # The machine restarted: its monotonic clock began again near zero.
    assert store.take("w", 1, now=12.0, lease=40.0, horizon=500.0) == (0, -1e300, 12.0, 52.0)


def test_a_store_of_another_layout_is_started_afresh(tmp_path: Path) -> None:
    path = tmp_path / "budgets.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE slots (budget TEXT, slot INTEGER, free_at REAL)")
    assert SlotStore(path).take("w", 2, now=1.0, lease=4.0, horizon=50.0) == (0, -1e300, 1.0, 5.0)


def test_a_state_directory_that_cannot_be_used_leaves_each_process_its_own_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a-file").touch()
    monkeypatch.setenv("BRAZE_CDI_STATE_DIR", str(tmp_path / "a-file" / "state"))
    fake = FakeBraze(rate_limits=LIMIT_FOR_THE_FAKE)
    ids = [fake.add_integration(duration=0.0).integration_id for _ in range(5)]
    with (
        caplog.at_level(logging.WARNING, "braze_cdi"),
        BrazeCDIClient(
            fake.api_key, "US-01", transport=fake, rate_limits=LIMIT_FOR_THE_FAKE
        ) as client,
    ):
        for integration_id in ids:
            client.trigger_sync(integration_id)

    assert fake.count(status=429) == 0
    [warning] = [r.getMessage() for r in caplog.records if "rate budgets" in r.getMessage()]
    assert "this process keeps its own budgets" in warning
    assert fake.api_key not in warning
