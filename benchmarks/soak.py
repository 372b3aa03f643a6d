"""Soak: 1,000 ``sync_and_wait`` calls through ``sync_many`` against a FakeBraze (in another
process) that misbehaves on 5% of requests, picked at random.

Every call must end with a result or a typed error (none lost), no integration may see two
jobs for its one call, every result must be the job its call started, and the client's memory
must not grow with the number of calls. Run alone with ``uv run python -m benchmarks.soak``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import httpx

from braze_cdi import (
    AsyncBrazeCDIClient,
    BrazeCDIError,
    RateLimit,
    RateLimits,
    RetryPolicy,
    SyncResult,
)
from braze_cdi.testing import FakeBraze, Reply

from ._remote import in_another_process
from ._report import Figure, table

CALLS = 1_000
WARM_UP = 50
FAULT_RATE = 0.05
CONCURRENCY = 100
DURATION = 0.5  # seconds each job runs
HTTP_TIMEOUT = 1.0
# Braze's limits sped up: 50 triggers a second instead of 20 a minute.
LIMITS = RateLimits(
    trigger=RateLimit(50, 1.0), list=RateLimit(50, 1.0), status=RateLimit(2000, 1.0)
)
RETRY = RetryPolicy(max_attempts=5, initial_delay=0.05, max_delay=0.5, max_duration=20.0)
WAIT = {"poll_interval": 0.05, "max_poll_interval": 0.2, "max_wait": 60.0}

#: What goes wrong with a faulty request, as ``FakeBraze.inject`` options. A 2xx that replaces
#: the answer takes effect (Braze did what it said); the others may or may not have.
FAULTS: list[dict[str, Any]] = [
    {"status": 503},
    {"status": 502, "body": "<html><title>502 Bad Gateway</title></html>"},
    {"status": 500},
    {"drop": True},
    {"delay": HTTP_TIMEOUT + 0.5},  # a read timeout, after Braze did the work
    {"delay": HTTP_TIMEOUT * 0.3},  # slow
    {
        "status": 429,
        "body": {"message": "API rate limit exceeded"},
        "headers": {"Retry-After": "1", "X-RateLimit-Remaining": "0"},
        "takes_effect": False,
    },
    {"status": 200, "body": '{"results": [', "takes_effect": True},
    {"status": 200, "body": "", "takes_effect": True},
    {"headers": {"Link": '</cdi/x?page=2>; rel="next"'}},  # no usable cursor: a typed error
]


class FlakyBraze(FakeBraze):
    """A FakeBraze that misbehaves on a random ``rate`` of requests (seeded: repeatable)."""

    def __init__(self, rate: float, seed: int = 7, **options: Any) -> None:
        super().__init__(**options)
        self.rate = rate
        self.dice = random.Random(seed)
        self.faulted: Counter[str] = Counter()

    def reply(self, request: httpx.Request) -> Reply:
        with self._lock:
            if self.dice.random() < self.rate:
                fault = dict(self.dice.choice(FAULTS))
                fault.setdefault("takes_effect", self.dice.random() < 0.5)
                # /cdi/integrations/{id}/sync or /cdi/integrations/{id}/job_sync_status
                integration = self.integrations[request.url.path.split("/")[3]]
                trigger = request.method == "POST"
                running = integration.running_job(self.clock.time())
                if not (trigger and fault.get("status") == 200 and running):
                    # Aimed at this request: the lock is held until it is answered.
                    self.inject(
                        "trigger" if trigger else "status",
                        integration_id=integration.integration_id,
                        **fault,
                    )
                    self.faulted[_name(fault)] += 1
            return super().reply(request)


def _name(fault: dict[str, Any]) -> str:
    if "status" in fault:
        return str(fault["status"])
    if fault.get("drop"):
        return "drop"
    if "delay" in fault:
        return "read timeout" if fault["delay"] > HTTP_TIMEOUT else "slow"
    return "bad link"


@dataclass
class Served:
    url: str
    api_key: str
    warm_up: list[str]
    ids: list[str]
    after: dict[str, Any]


def _serve(pipe: Connection) -> None:
    fake = FlakyBraze(FAULT_RATE, rate_limits=LIMITS)
    warm = [
        fake.add_integration(history=1, duration=DURATION).integration_id for _ in range(WARM_UP)
    ]
    ids = [fake.add_integration(history=1, duration=DURATION).integration_id for _ in range(CALLS)]
    with fake.serve() as url:
        pipe.send((url, fake.api_key, warm, ids))
        pipe.recv()  # until told to stop
        pipe.send(
            {
                "started": {
                    i: [job.start for job in fake.integrations[i].jobs if job.triggered]
                    for i in ids
                },
                "faulted": dict(fake.faulted),
                "requests": len(fake.requests),
            }
        )


@contextmanager
def served() -> Iterator[Served]:
    with in_another_process(_serve) as exchange:
        url, api_key, warm, ids = exchange.started
        yield Served(url, api_key, warm, ids, exchange.report)


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@dataclass(frozen=True)
class Soaked:
    results: int
    errors: Counter[str]
    lost: int
    duplicates: int
    wrong_job: int
    growth: Memory
    wall: float
    faulted: dict[str, int]
    requests: int


@dataclass(frozen=True)
class Memory:
    rss_mb: float
    objects: int  # live objects the garbage collector tracks (containers)


async def _soak(remote: Served) -> tuple[list[tuple[str, float | None]], Memory, float]:
    async with AsyncBrazeCDIClient(
        remote.api_key, remote.url, rate_limits=LIMITS, retry=RETRY, request_timeout=HTTP_TIMEOUT
    ) as client:
        await client.sync_many(remote.warm_up, max_concurrency=CONCURRENCY, **WAIT)
        before = await _settled()
        started = time.perf_counter()
        outcomes = await client.sync_many(remote.ids, max_concurrency=CONCURRENCY, **WAIT)
        wall = time.perf_counter() - started
        summary = [_summary(outcome) for outcome in outcomes]
        del outcomes
        after = await _settled()
    return summary, Memory(after.rss_mb - before.rss_mb, after.objects - before.objects), wall


async def _settled() -> Memory:
    # The loop's handle that resumed us still holds gather's future (and every result) until
    # this step ends: yield once, then collect.
    await asyncio.sleep(0)
    gc.collect()
    return Memory(_rss_mb(), len(gc.get_objects()))


def _summary(outcome: object) -> tuple[str, float | None]:
    """What one call ended with: ``("result", job start)`` or the error's class."""
    if isinstance(outcome, SyncResult):
        start = outcome.job.sync_start_time
        return "result", None if start is None else start.timestamp()
    if isinstance(outcome, BrazeCDIError):
        return type(outcome).__name__, None
    return f"lost: {outcome!r}", None


def soak() -> Soaked:
    with served() as remote:
        summary, growth, wall = asyncio.run(_soak(remote))
    started: dict[str, list[float]] = remote.after["started"]
    kinds = Counter(kind for kind, _ in summary)
    wrong = sum(
        kind == "result" and not any(abs(start - s) < 1e-3 for s in started[i])  # type: ignore[operator]
        for i, (kind, start) in zip(remote.ids, summary, strict=True)
    )
    return Soaked(
        results=kinds.pop("result", 0),
        errors=Counter({k: n for k, n in kinds.items() if not k.startswith("lost")}),
        lost=sum(n for k, n in kinds.items() if k.startswith("lost")) + CALLS - len(summary),
        duplicates=sum(len(jobs) > 1 for jobs in started.values()),
        wrong_job=wrong,
        growth=growth,
        wall=wall,
        faulted=remote.after["faulted"],
        requests=remote.after["requests"],
    )


def run() -> list[Figure]:
    logging.getLogger("braze_cdi").addHandler(logging.NullHandler())  # faults are expected here
    s = soak()
    errors = ", ".join(f"{n} {name}" for name, n in s.errors.most_common()) or "none"
    faults = sum(s.faulted.values())
    return [
        Figure(
            f"soak: {CALLS} sync_and_wait via sync_many, {FAULT_RATE:.0%} faulty requests",
            f"{s.results} results, {sum(s.errors.values())} typed errors ({errors}); "
            f"{faults} of {s.requests} requests faulted",
            "every call ends",
            s.results + sum(s.errors.values()) == CALLS,
        ),
        Figure("soak: calls lost", str(s.lost), "0", s.lost == 0),
        Figure("soak: integrations with two jobs", str(s.duplicates), "0", s.duplicates == 0),
        Figure("soak: results not the call's own job", str(s.wrong_job), "0", s.wrong_job == 0),
        Figure(
            "soak: client RSS growth over the calls",
            f"{s.growth.rss_mb:+.1f} MB ({s.growth.objects:+,} live objects)",
            "< 10 MB",
            s.growth.rss_mb < 10,
        ),
        Figure("soak: wall time", f"{s.wall:.1f} s", "< 120 s", s.wall < 120),
    ]


if __name__ == "__main__":
    figures = run()
    print(table(figures))
    sys.exit(0 if all(f.met for f in figures) else 1)
