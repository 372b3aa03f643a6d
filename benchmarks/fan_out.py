"""Fan-out: N integrations triggered and awaited through ``sync_many`` against a rate-limited
FakeBraze, as a ratio to the floor no client can beat under a limit of ``burst`` triggers per
``period``: ``(N - burst) / (burst / period) + one job's duration``.

Two settings:

- **Braze's real limits** (20 triggers, 50 lists, 100 status calls a minute), 5-minute jobs,
  N = 20, 60, 200, on virtual time (``_virtual_time``): the fake and the client share one clock
  that jumps whenever every task waits, so 15 minutes of fan-out take a second or so of real
  time (the naive loop's 100,000 refused requests at N = 200 take longer). The run starts
  17.3 s into one of Braze's fixed windows, not on a window boundary; exchanges take no time.
- **Wall clock**: N = 30 against a FakeBraze served from another process, with windows of one
  second (10 triggers a second) and 0.2 s jobs; the median of a few runs.

Braze counts calls in fixed windows, so a client that starts inside one and sends its next
burst as each window opens can end before the floor: "windows allow" is that best possible end
(for the wall clock, from where in its window the first trigger fell).

Each integration has a stable history: five past jobs as long as the next. The same fan-out is
measured for a naive loop, as the existing Airflow provider does it: plain httpx, every trigger
at once, a fixed 1 s pause and the same request again on a 429, a poll every 10 s (0.1 s on the
wall clock) of the first page of jobs, whose first job is taken for the newest. It is kept
correct: it waits for a job that started after its own trigger, not for a job of the history.

Every result is checked to be its call's own job (the start of a job the trigger started).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

import httpx

from braze_cdi import AsyncBrazeCDIClient, RateLimit, RateLimits, SyncResult
from braze_cdi.testing import FakeBraze

from ._remote import Remote, remote_fake
from ._report import Figure
from ._virtual_time import START_OFFSET, VirtualClock, run_virtual

HISTORY = 5  # past jobs per integration, each as long as the next one

# Braze's documented limits, on virtual time.
REAL_LIMITS = RateLimits()
REAL_DURATION = 300.0
REAL_SIZES = (20, 60, 200)
NAIVE_POLL = 10.0  # seconds between the naive loop's polls (the Airflow provider's default)
PAUSE = 1.0  # the naive loop's pause after a 429

# Windows of one second, on the wall clock.
WALL_LIMITS = RateLimits(
    trigger=RateLimit(10, 1.0), list=RateLimit(50, 1.0), status=RateLimit(2000, 1.0)
)
WALL_DURATION = 0.2
WALL_N = 30
WALL_POLL = 0.1
WALL_MAX_POLL = 0.2
WALL_ROUNDS = 3


def floor(n: int, limits: RateLimits, duration: float) -> float:
    """The floor: ``(N - burst) / rate + one job's duration``."""
    limit = limits.trigger
    assert limit is not None
    return max(0, n - limit.calls) / (limit.calls / limit.period) + duration


def window_optimum(n: int, limits: RateLimits, duration: float, offset: float) -> float:
    """The best any client can do against Braze's fixed windows when it starts ``offset``
    seconds into one: a burst now, then one at each window's start."""
    limit = limits.trigger
    assert limit is not None
    later = math.ceil(n / limit.calls) - 1  # bursts after the first
    if later == 0:
        return duration
    return (limit.period - offset % limit.period) + (later - 1) * limit.period + duration


@dataclass(frozen=True)
class Run:
    seconds: float  # from the start of the fan-out to the last result
    ok: int  # results that are their call's own job
    throttled: int  # 429s the fake served
    status_calls: int
    failed: str = ""  # what the other calls ended with
    allowed: float = math.nan  # when the last job could have ended at best, Braze's windows given


def _outcomes(
    results: list[SyncResult | Exception], ids: list[str], started: dict[str, list[float]]
) -> tuple[int, str]:
    """How many results are a job the call's own trigger started (its start, to the ms), and
    what the others were."""
    ok, others = 0, Counter[str]()
    for integration_id, result in zip(ids, results, strict=True):
        start = result.job.sync_start_time if isinstance(result, SyncResult) else None
        if start is not None and any(
            abs(start.timestamp() - s) < 2e-3 for s in started[integration_id]
        ):
            ok += 1
        else:
            others[type(result).__name__ if start is None else "not its own job"] += 1
    return ok, ", ".join(f"{n} {kind}" for kind, n in others.most_common())


def _ok(run: Run, n: int) -> str:
    return f"{run.ok}/{n} ok" + (f" ({run.failed})" if run.failed else "")


def _started(fake: FakeBraze) -> dict[str, list[float]]:
    return {
        i: [job.start for job in integration.jobs if job.triggered]
        for i, integration in fake.integrations.items()
    }


# --- the naive loop -----------------------------------------------------------------------------


async def _naive_fan_out(
    http: httpx.AsyncClient, ids: list[str], *, poll: float, now: Callable[[], float]
) -> int:
    """Every sync at once; returns how many saw their own job end ``success``. ``now`` is the
    wall-clock time in the fake's clock (the naive loop and Braze agree on the time here)."""

    async def call(method: str, path: str) -> httpx.Response:
        while True:
            response = await http.request(method, path)
            if response.status_code != 429:
                response.raise_for_status()
                return response
            await asyncio.sleep(PAUSE)  # a fixed pause, then the same request again

    async def one(integration_id: str) -> bool:
        sent = now()
        await call("POST", f"/cdi/integrations/{integration_id}/sync")
        while True:
            await asyncio.sleep(poll)
            page = (await call("GET", f"/cdi/integrations/{integration_id}/job_sync_status")).json()
            if not page["results"]:
                continue
            first = page["results"][0]
            started = datetime.fromisoformat(first["sync_start_time"].replace("Z", "+00:00"))
            # Its own job: one that started after the trigger was sent (Braze's times are to
            # the millisecond; the history's jobs ended minutes before).
            if started.timestamp() >= sent - 1.0 and first["job_status"] != "running":
                return bool(first["job_status"] == "success")

    return sum(await asyncio.gather(*(one(i) for i in ids)))


# --- Braze's real limits, on virtual time -------------------------------------------------------


def _scene(clock: VirtualClock, n: int) -> tuple[FakeBraze, list[str]]:
    fake = FakeBraze(clock=clock, rate_limits=REAL_LIMITS)
    ids = [
        fake.add_integration(
            history=HISTORY, history_duration=REAL_DURATION, duration=REAL_DURATION
        ).integration_id
        for _ in range(n)
    ]
    return fake, ids


def _ours_virtual(n: int) -> Run:
    async def main(clock: VirtualClock) -> Run:
        fake, ids = _scene(clock, n)
        async with AsyncBrazeCDIClient(
            fake.api_key, "US-01", transport=fake, clock=clock, rate_limits=REAL_LIMITS
        ) as client:
            began = clock.monotonic()
            results = await client.sync_many(ids, max_concurrency=n)
            seconds = clock.monotonic() - began
        ok, failed = _outcomes(results, ids, _started(fake))
        return Run(seconds, ok, fake.count(status=429), fake.count("status"), failed)

    return run_virtual(main)


def _naive_virtual(n: int) -> Run:
    async def main(clock: VirtualClock) -> Run:
        fake, ids = _scene(clock, n)
        headers = {"Authorization": f"Bearer {fake.api_key}"}
        async with httpx.AsyncClient(
            transport=fake, base_url="https://rest.iad-01.braze.com", headers=headers
        ) as http:
            began = clock.monotonic()
            ok = await _naive_fan_out(http, ids, poll=NAIVE_POLL, now=clock.time)
            seconds = clock.monotonic() - began
        return Run(seconds, ok, fake.count(status=429), fake.count("status"))

    return run_virtual(main)


def _real_limits() -> list[Figure]:
    figures = []
    for n in REAL_SIZES:
        bound = floor(n, REAL_LIMITS, REAL_DURATION)
        best = window_optimum(n, REAL_LIMITS, REAL_DURATION, START_OFFSET)
        ours, naive = _ours_virtual(n), _naive_virtual(n)
        ratio, to_naive = ours.seconds / bound, ours.seconds / naive.seconds
        figures.append(
            Figure(
                f"fan-out at Braze's limits, N={n}, 5-min jobs: braze-cdi",
                f"{ratio:.3f}x floor ({ours.seconds:.0f}s / {bound:.0f}s; windows allow "
                f"{best:.0f}s), {ours.throttled} x 429, {_ok(ours, n)}, "
                f"{ours.status_calls} status calls; {to_naive:.3f}x naive",
                "<= 1.02x floor, 0 x 429, <= 1.02x naive",
                ratio <= 1.02 and ours.throttled == 0 and ours.ok == n and to_naive <= 1.02,
            )
        )
        figures.append(
            Figure(
                f"fan-out at Braze's limits, N={n}, 5-min jobs: naive loop",
                f"{naive.seconds / bound:.3f}x floor ({naive.seconds:.0f}s), "
                f"{naive.throttled} x 429, {_ok(naive, n)}, {naive.status_calls} status calls",
                "(comparison)",
                True,
            )
        )
    return figures


# --- wall clock, against a FakeBraze in another process -----------------------------------------


async def _ours_wall(remote: Remote) -> tuple[float, float, list[SyncResult | Exception]]:
    async with AsyncBrazeCDIClient(remote.api_key, remote.url, rate_limits=WALL_LIMITS) as client:
        [integration async for integration in client.list_integrations()]  # warm up
        began, epoch = time.perf_counter(), time.time()
        results = await client.sync_many(
            remote.integration_ids,
            max_concurrency=len(remote.integration_ids),
            poll_interval=WALL_POLL,
            max_poll_interval=WALL_MAX_POLL,
        )
        return time.perf_counter() - began, epoch, results


async def _naive_wall(remote: Remote) -> tuple[float, float, int]:
    headers = {"Authorization": f"Bearer {remote.api_key}"}
    async with httpx.AsyncClient(base_url=remote.url, headers=headers) as http:
        await http.get("/cdi/integrations")  # warm up
        began, epoch = time.perf_counter(), time.time()
        ok = await _naive_fan_out(http, remote.integration_ids, poll=WALL_POLL, now=time.time)
        return time.perf_counter() - began, epoch, ok


def _allowed(remote: Remote, epoch: float) -> float:
    """Seconds from ``epoch`` (the fan-out's start) to the earliest the last job could have
    ended, given where in Braze's window the first trigger fell (the fake's clock is ours)."""
    started: dict[str, list[float]] = remote.counts["started"]
    first = min(s for starts in started.values() for s in starts)
    limit = WALL_LIMITS.trigger
    assert limit is not None
    offset = first % limit.period
    return first - epoch + window_optimum(WALL_N, WALL_LIMITS, WALL_DURATION, offset)


def _remote() -> AbstractContextManager[Remote]:
    return remote_fake(
        WALL_N,
        fake_options={"rate_limits": WALL_LIMITS},
        history=HISTORY,
        history_duration=WALL_DURATION,
        duration=WALL_DURATION,
    )


def _measure_ours() -> Run:
    with _remote() as remote:
        seconds, epoch, results = asyncio.run(_ours_wall(remote))
    ok, failed = _outcomes(results, remote.integration_ids, remote.counts["started"])
    counts = remote.counts
    return Run(seconds, ok, counts["429"], counts["status"], failed, _allowed(remote, epoch))


def _measure_naive() -> Run:
    with _remote() as remote:
        seconds, epoch, ok = asyncio.run(_naive_wall(remote))
    counts = remote.counts
    return Run(seconds, ok, counts["429"], counts["status"], "", _allowed(remote, epoch))


def _median(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


def _wall_clock() -> list[Figure]:
    bound = floor(WALL_N, WALL_LIMITS, WALL_DURATION)
    ours_runs, naive_runs = [], []
    for _ in range(WALL_ROUNDS):  # interleaved, so that a noisy neighbour hurts both alike
        ours_runs.append(_measure_ours())
        naive_runs.append(_measure_naive())
    ours, naive = _median(ours_runs), _median(naive_runs)
    ratio = ours.seconds / bound
    spread = ", ".join(f"{r.seconds:.2f}" for r in ours_runs)
    throttled = max(r.throttled for r in ours_runs)
    worst = min(ours_runs, key=lambda r: r.ok)
    return [
        Figure(
            f"fan-out, wall clock, N={WALL_N}, 10 triggers/s, 0.2 s jobs: braze-cdi",
            f"{ratio:.2f}x floor (median {ours.seconds:.2f}s of {spread}; floor "
            f"{bound:.1f}s; windows allowed {ours.allowed:.2f}s), {throttled} x 429 (most in a "
            f"run), {_ok(worst, WALL_N)} (fewest); {ours.seconds / naive.seconds:.2f}x naive",
            "<= 1.10x floor, 0 x 429",
            ratio <= 1.10 and throttled == 0 and worst.ok == WALL_N,
        ),
        Figure(
            f"fan-out, wall clock, N={WALL_N}, 10 triggers/s, 0.2 s jobs: naive loop",
            f"{naive.seconds / bound:.2f}x floor (median {naive.seconds:.2f}s; windows allowed "
            f"{naive.allowed:.2f}s), "
            f"{naive.throttled} x 429, {_ok(naive, WALL_N)}, "
            f"{naive.status_calls} status calls",
            "(comparison)",
            True,
        ),
    ]


def run() -> list[Figure]:
    return _real_limits() + _wall_clock()


if __name__ == "__main__":
    from ._report import table

    print(table(run()))
