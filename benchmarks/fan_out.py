"""Fan-out: N integrations triggered and awaited against a rate-limited FakeBraze.

Reported as a ratio to the floor no client can beat, ``(N - burst) / rate + one job's
duration``, with the count of 429s Braze (the fake) served; and the same for a naive loop as the
existing Airflow and Dagster integrations do it (no client-side limit, a fixed pause on 429,
the first page of jobs trusted as newest-first).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from braze_cdi import AsyncBrazeCDIClient, RateLimit, RateLimits, SyncResult

from ._remote import Remote, remote_fake
from ._report import Figure

# Braze's limits, sped up 60x: 20 triggers a second instead of a minute.
LIMITS = RateLimits(
    trigger=RateLimit(20, 1.0), list=RateLimit(50, 1.0), status=RateLimit(2000, 1.0)
)
DURATION = 2.0
POLL = 0.05


def _floor(n: int) -> float:
    limit = LIMITS.trigger
    assert limit is not None
    return max(0, n - limit.calls) / (limit.calls / limit.period) + DURATION


async def _ours(remote: Remote) -> tuple[float, int]:
    async with AsyncBrazeCDIClient(remote.api_key, remote.url, rate_limits=LIMITS) as client:
        [integration async for integration in client.list_integrations()]  # warm up
        started = time.perf_counter()
        results = await client.sync_many(
            remote.integration_ids,
            max_concurrency=len(remote.integration_ids),
            poll_interval=POLL,
            max_poll_interval=2 * POLL,
        )
        wall = time.perf_counter() - started
    return wall, sum(isinstance(r, SyncResult) for r in results)


async def _naive(remote: Remote) -> tuple[float, int]:
    headers = {"Authorization": f"Bearer {remote.api_key}"}
    async with httpx.AsyncClient(base_url=remote.url, headers=headers) as http:
        await http.get("/cdi/integrations")  # warm up

        async def call(method: str, path: str) -> httpx.Response:
            while True:
                response = await http.request(method, path)
                if response.status_code != 429:
                    return response
                await asyncio.sleep(1.0)  # a fixed pause, then the same request again

        async def one(integration_id: str) -> bool:
            await call("POST", f"/cdi/integrations/{integration_id}/sync")
            while True:
                await asyncio.sleep(POLL)
                page = (
                    await call("GET", f"/cdi/integrations/{integration_id}/job_sync_status")
                ).json()
                if page["results"] and page["results"][0]["job_status"] != "running":
                    return page["results"][0]["job_status"] == "success"

        started = time.perf_counter()
        succeeded = sum(await asyncio.gather(*(one(i) for i in remote.integration_ids)))
        return time.perf_counter() - started, succeeded


def _measure(
    runner: Callable[[Remote], Awaitable[tuple[float, int]]], n: int
) -> tuple[float, int, int]:
    with remote_fake(n, fake_options={"rate_limits": LIMITS}, duration=DURATION) as remote:
        wall, succeeded = asyncio.run(runner(remote))
    return wall, remote.counts["429"], succeeded


def run(sizes: tuple[int, ...] = (20, 60, 120)) -> list[Figure]:
    figures = []
    for n in sizes:
        floor = _floor(n)
        wall, throttled, ok = _measure(_ours, n)
        naive_wall, naive_throttled, naive_ok = _measure(_naive, n)
        figures.append(
            Figure(
                f"fan-out N={n}: braze-cdi",
                f"{wall / floor:.2f}x floor ({wall:.1f}s / {floor:.1f}s), {throttled} 429s, "
                f"{ok}/{n} ok",
                "<= 1.15x, 0 429s",
                wall / floor <= 1.15 and throttled == 0 and ok == n,
            )
        )
        figures.append(
            Figure(
                f"fan-out N={n}: naive loop",
                f"{naive_wall / floor:.2f}x floor ({naive_wall:.1f}s), {naive_throttled} 429s, "
                f"{naive_ok}/{n} ok",
                "(comparison)",
                True,
            )
        )
    return figures
