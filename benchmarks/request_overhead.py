"""Per-request cost of `trigger_sync` against a bare `httpx.Client.post` to the same loopback
server (FakeBraze in another process, answering every trigger with Braze's 202)."""

from __future__ import annotations

import time

import httpx

from braze_cdi import BrazeCDIClient, RateLimit, RateLimits

from ._remote import remote_fake
from ._report import Figure, alternate

# The budget's bookkeeping is measured, without its waiting.
UNTHROTTLED = RateLimits(trigger=RateLimit(100_000, 1.0))
ACCEPTED = {"endpoint": "trigger", "status": 202, "body": {"message": "success"}, "times": 10**9}


def run(requests: int = 300, rounds: int = 11) -> list[Figure]:
    with remote_fake(1, fake_options={"rate_limits": None}, faults=[ACCEPTED]) as remote:
        [integration_id] = remote.integration_ids
        path = f"/cdi/integrations/{integration_id}/sync"
        headers = {"Authorization": f"Bearer {remote.api_key}", "Content-Type": "application/json"}
        with (
            httpx.Client(base_url=remote.url, headers=headers) as bare,
            BrazeCDIClient(remote.api_key, remote.url, rate_limits=UNTHROTTLED) as ours,
        ):

            def bare_batch() -> float:
                started = time.perf_counter()
                for _ in range(requests):
                    bare.post(path).raise_for_status()
                return (time.perf_counter() - started) / requests

            def our_batch() -> float:
                started = time.perf_counter()
                for _ in range(requests):
                    ours.trigger_sync(integration_id)
                return (time.perf_counter() - started) / requests

            bare_batch(), our_batch()  # warm up connections and code paths
            base, mine = alternate(bare_batch, our_batch, rounds)
    overhead = mine / base - 1
    return [
        Figure(
            "trigger_sync vs bare httpx post (loopback)",
            f"{overhead:+.1%} ({base * 1e6:.0f} -> {mine * 1e6:.0f} us per request)",
            "< +10%",
            overhead < 0.10,
        )
    ]
