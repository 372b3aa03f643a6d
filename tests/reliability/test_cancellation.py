"""Cancelling a wait: it ends at once and closes its connections; Braze has no cancel call, so
the sync goes on there, and a later ``if_running="attach"`` picks it up.

The fake runs on a virtual clock of its own that nothing advances while the cancelled call
runs: its job stays ``running`` however long the machine takes. The client that attaches
afterwards shares that clock, so waiting for the job to end takes no real time.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from braze_cdi import AsyncBrazeCDIClient, SyncResult
from braze_cdi.testing import FakeBraze, FakeClock, FakeIntegration

BRAZE_CDI = Path(sys.executable).with_name("braze-cdi")
PROMPTLY = 0.5  # seconds from the cancel to the end of the call
SIGINT_PROMPTLY = 3.0  # ... and from Ctrl-C to the end of a process (its shutdown included)


@pytest.fixture
def frozen() -> FakeClock:
    """The fake's clock: still, unless a client sharing it sleeps."""
    return FakeClock()


@pytest.fixture
def fake(frozen: FakeClock) -> FakeBraze:
    return FakeBraze(clock=frozen, rate_limits=None)


@pytest.fixture
def url(fake: FakeBraze) -> Iterator[str]:
    with fake.serve() as served:
        yield served


def _check_the_syncs_go_on_and_attach_picks_them_up(
    fake: FakeBraze, url: str, integrations: list[FakeIntegration]
) -> None:
    jobs = [next(job for job in i.jobs if job.triggered) for i in integrations]
    for integration, job in zip(integrations, jobs, strict=True):
        assert integration.running_job(fake.clock.time()) is job  # Braze's sync goes on

    async def attach() -> list[SyncResult]:
        async with AsyncBrazeCDIClient(fake.api_key, url, clock=fake.clock) as client:
            # Every job is adopted before any wait sleeps: a wait's sleep moves the shared
            # clock on, and a job that ended before its look would rightly be triggered again.
            handles = [
                await client.start_sync(i.integration_id, if_running="attach") for i in integrations
            ]
            return await asyncio.gather(*(client.wait_for_sync(handle) for handle in handles))

    for result, integration, job in zip(asyncio.run(attach()), integrations, jobs, strict=True):
        assert not result.triggered
        assert result.job.job_status == "success"
        assert result.job.sync_start_time is not None
        assert result.job.sync_start_time.timestamp() == pytest.approx(job.start, abs=1e-3)
        assert integration.triggered_jobs == 1


async def _settled(count: Callable[[], int], *, within: float = 10.0) -> int:
    """``count()`` once it has stayed the same for 0.1 s (polls every 0.05 s never do)."""
    deadline = time.monotonic() + within
    while True:
        before = count()
        await asyncio.sleep(0.1)
        if count() == before:
            return before
        assert time.monotonic() < deadline, "a wait went on polling after the cancel"


async def _when(condition: object, *, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the call never got there"
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("during", ["a pause between polls", "a request"])
def test_cancelling_sync_and_wait_ends_it_at_once_and_closes_its_connections(
    fake: FakeBraze, url: str, during: str
) -> None:
    integration = fake.add_integration(duration=60.0)  # no history: polls 0.05 s apart

    async def cancel_while_it_waits() -> tuple[float, AsyncBrazeCDIClient]:
        client = AsyncBrazeCDIClient(fake.api_key, url)

        async def sync() -> SyncResult:
            async with client:
                return await client.sync_and_wait(integration.integration_id, poll_interval=0.05)

        task = asyncio.create_task(sync())
        await _when(lambda: fake.count("status") >= 2)  # triggered, and polling
        if during == "a request":
            fake.inject("status", delay=1.0)  # the next poll's answer is held back
            polls = fake.count("status")
            await _when(lambda: fake.count("status") > polls)
        began = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - began, client

    gc.collect()  # what earlier tests left (a temporary directory...) is not this call's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        took, client = asyncio.run(cancel_while_it_waits())
        gc.collect()

    assert took < PROMPTLY, f"the cancelled call took {took:.2f}s to end"
    assert client._http.is_closed
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    _check_the_syncs_go_on_and_attach_picks_them_up(fake, url, [integration])


def test_cancelling_sync_many_cancels_every_wait(fake: FakeBraze, url: str) -> None:
    integrations = [fake.add_integration(duration=60.0) for _ in range(3)]
    ids = [integration.integration_id for integration in integrations]

    async def cancel_while_they_wait() -> float:
        async with AsyncBrazeCDIClient(fake.api_key, url) as client:
            task = asyncio.create_task(client.sync_many(ids, poll_interval=0.05))
            await _when(lambda: all(i.triggered_jobs for i in integrations))
            began = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            took = time.monotonic() - began
            # A poll sent just before the cancel may reach the fake's thread after it: count
            # once the requests in flight are answered, then make sure no new one comes.
            polls = await _settled(lambda: fake.count("status"))
            await asyncio.sleep(0.3)
            assert fake.count("status") == polls, "a wait went on polling after the cancel"
            return took

    assert asyncio.run(cancel_while_they_wait()) < PROMPTLY
    _check_the_syncs_go_on_and_attach_picks_them_up(fake, url, integrations)


# --- Ctrl-C in a process ---------------------------------------------------------------------

SYNC_CLIENT_SCRIPT = """
import sys
from braze_cdi import BrazeCDIClient

api_key, url, integration_id = sys.argv[1:]
client = BrazeCDIClient(api_key, url)
try:
    with client:
        client.sync_and_wait(integration_id, poll_interval=0.05)
except KeyboardInterrupt:
    print("interrupted; connections closed:", client._http.is_closed, flush=True)
    sys.exit(130)
"""


def _environment(fake: FakeBraze, url: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BRAZE_")}
    environment.update(BRAZE_API_KEY=fake.api_key, BRAZE_REST_ENDPOINT=url, COLUMNS="200")
    return environment


def _interrupt_once_triggered(
    command: list[str], fake: FakeBraze, url: str
) -> tuple[int, str, str, float]:
    """Run ``command``, press Ctrl-C once it has triggered and polled, and wait for its end."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(fake, url),
    )
    try:
        deadline = time.monotonic() + 30
        while fake.count("status") < 3 and process.poll() is None:
            assert time.monotonic() < deadline, "the command never triggered"
            time.sleep(0.01)
        began = time.monotonic()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
        took = time.monotonic() - began
    finally:
        process.kill()
    return process.returncode, stdout, stderr, took


def test_ctrl_c_in_the_sync_client_raises_keyboard_interrupt_at_once(
    fake: FakeBraze, url: str
) -> None:
    integration = fake.add_integration(duration=60.0)  # no history: polls 0.05 s apart

    code, stdout, stderr, took = _interrupt_once_triggered(
        [sys.executable, "-c", SYNC_CLIENT_SCRIPT, fake.api_key, url, integration.integration_id],
        fake,
        url,
    )

    assert code == 130, stderr
    assert "interrupted; connections closed: True" in stdout
    assert took < SIGINT_PROMPTLY
    _check_the_syncs_go_on_and_attach_picks_them_up(fake, url, [integration])


def test_ctrl_c_in_braze_cdi_sync_wait_exits_130_with_its_message(
    fake: FakeBraze, url: str
) -> None:
    integration = fake.add_integration(duration=60.0)  # no history: polls 0.05 s apart

    code, stdout, stderr, took = _interrupt_once_triggered(
        [str(BRAZE_CDI), "sync", integration.integration_id, "--wait", "--poll-interval", "0.05"],
        fake,
        url,
    )

    assert code == 130, stderr
    assert "Interrupted. Braze has no cancel call: a sync already triggered goes on." in stderr
    assert "Traceback" not in stdout + stderr
    assert fake.api_key not in stdout + stderr
    assert took < SIGINT_PROMPTLY
    _check_the_syncs_go_on_and_attach_picks_them_up(fake, url, [integration])
