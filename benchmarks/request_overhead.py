"""Per-request cost of `trigger_sync` against a bare `httpx.Client.post` to the same loopback
server (FakeBraze in another process, answering every trigger with Braze's 202): with the
budget kept in the process, and with the budget every process of the machine shares (a SQLite
transaction to take a slot and one to give it back)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import httpx

from braze_cdi import BrazeCDIClient, RateLimit, RateLimits

from ._remote import remote_fake
from ._report import Figure

# The budget's bookkeeping is measured, without its waiting.
IN_PROCESS = RateLimits(trigger=RateLimit(100_000, 1.0), across_processes=False)
MACHINE = RateLimits(trigger=RateLimit(100_000, 1.0))
ACCEPTED = {"endpoint": "trigger", "status": 202, "body": {"message": "success"}, "times": 10**9}
#: What the machine-wide budget may add to a request: half a percent of a 50 ms round trip to
#: Braze (a fast one), where Braze's own limits allow at most 170 requests a minute.
MACHINE_ALLOWANCE = 250e-6


def run(requests: int = 300, rounds: int = 11) -> list[Figure]:
    with remote_fake(1, fake_options={"rate_limits": None}, faults=[ACCEPTED]) as remote:
        [integration_id] = remote.integration_ids
        path = f"/cdi/integrations/{integration_id}/sync"
        headers = {"Authorization": f"Bearer {remote.api_key}", "Content-Type": "application/json"}
        with (
            httpx.Client(base_url=remote.url, headers=headers) as bare,
            BrazeCDIClient(remote.api_key, remote.url, rate_limits=IN_PROCESS) as ours,
            BrazeCDIClient(remote.api_key, remote.url, rate_limits=MACHINE) as shared,
        ):

            def batch(send: Callable[[], object]) -> Callable[[], float]:
                def timed() -> float:
                    started = time.perf_counter()
                    for _ in range(requests):
                        send()
                    return (time.perf_counter() - started) / requests

                return timed

            batches = [
                batch(lambda: bare.post(path).raise_for_status()),
                batch(lambda: ours.trigger_sync(integration_id)),
                batch(lambda: shared.trigger_sync(integration_id)),
            ]
            for timed in batches:
                timed()  # warm up connections and code paths
            times: list[list[float]] = [[], [], []]
            for _ in range(rounds):  # interleaved, so that a busy neighbour slows all alike
                for timed, kept in zip(batches, times, strict=True):
                    kept.append(timed())
    base, mine, machine = (statistics.median(kept) for kept in times)
    overhead, added = mine / base - 1, machine - mine
    return [
        Figure(
            "trigger_sync vs bare httpx post (loopback)",
            f"{overhead:+.1%} ({base * 1e6:.0f} -> {mine * 1e6:.0f} us per request)",
            "< +10%",
            overhead < 0.10,
        ),
        Figure(
            "budget shared by the machine's processes, per request",
            f"+{added * 1e6:.0f} us ({mine * 1e6:.0f} -> {machine * 1e6:.0f} us)",
            f"< {MACHINE_ALLOWANCE * 1e6:.0f} us (0.5% of a 50 ms round trip)",
            added < MACHINE_ALLOWANCE,
        ),
    ]
