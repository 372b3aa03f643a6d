"""Listing 10,000 integrations (1,000 pages of Braze's 10): time, and peak memory in the client
process, which must not grow with the number of pages read (pages are read lazily).

FakeBraze serves from another process. The client runs without rate budgets: at Braze's
50 calls a minute the 1,000 pages would take 20 minutes; what is measured is the client's own
cost, against a bare httpx loop that reads the same pages and parses their JSON.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from braze_cdi import BrazeCDIClient
from braze_cdi.testing import FakeBraze, FakeIntegration

from ._remote import in_another_process
from ._report import Figure, alternate

ITEMS = 10_000
FEW = 1_000


@dataclass
class _Listed(FakeIntegration):
    """An integration whose JSON is built once: the fake rebuilds every integration for every
    page it serves, which at 10,000 integrations would make the fake, not the client, the
    thing measured."""

    cached: dict[str, Any] | None = None

    def to_json(self, now: float, skew: float) -> dict[str, Any]:
        if self.cached is None:
            self.cached = super().to_json(now, skew)
        return self.cached


def _serve(pipe: Connection, items: int) -> None:
    fake = FakeBraze(rate_limits=None)
    for n in range(items):
        integration_id = f"integration-{n:05d}"
        fake.integrations[integration_id] = _Listed(integration_id, f"table {n}")
    with fake.serve() as url:
        pipe.send((url, fake.api_key))
        pipe.recv()  # until told to stop
        pipe.send({})


@contextmanager
def _remote(items: int) -> Iterator[tuple[str, str]]:
    with in_another_process(_serve, items) as exchange:
        yield exchange.started


def _ours(client: BrazeCDIClient, items: int) -> int:
    return sum(1 for _ in islice(client.list_integrations(), items))


def _bare(http: httpx.Client, items: int) -> int:
    """The same pages through httpx alone: JSON parsed, the next cursor followed, no models."""
    count, params = 0, {}
    while count < items:
        response = http.get("/cdi/integrations", params=params)
        response.raise_for_status()
        count += len(response.json()["results"])
        following = response.links.get("next")
        if following is None:
            break
        params = {"cursor": parse_qs(urlsplit(following["url"]).query)["cursor"][0]}
    return count


def _peak_kib(client: BrazeCDIClient, items: int) -> float:
    tracemalloc.start()
    try:
        assert _ours(client, items) == items
        return tracemalloc.get_traced_memory()[1] / 1024
    finally:
        tracemalloc.stop()


def run(rounds: int = 3) -> list[Figure]:
    with _remote(ITEMS) as (url, api_key):
        headers = {"Authorization": f"Bearer {api_key}"}
        with (
            BrazeCDIClient(api_key, url, rate_limits=None) as client,
            httpx.Client(base_url=url, headers=headers) as http,
        ):
            assert _ours(client, ITEMS) == _bare(http, ITEMS) == ITEMS  # warm up, and agree

            def timed(lister: Any, source: Any) -> float:
                started = time.perf_counter()
                lister(source, ITEMS)
                return time.perf_counter() - started

            bare, ours = alternate(lambda: timed(_bare, http), lambda: timed(_ours, client), rounds)
            few_kib, all_kib = _peak_kib(client, FEW), _peak_kib(client, ITEMS)
    pages, few_pages = ITEMS // 10, FEW // 10
    per_page = (all_kib - few_kib) / (pages - few_pages)
    return [
        Figure(
            f"list_integrations: {ITEMS:,} integrations ({pages:,} pages)",
            f"{ours:.2f}s ({ours / pages * 1000:.2f} ms/page); bare httpx loop {bare:.2f}s "
            f"({ours / bare - 1:+.0%})",
            "< +25% over bare httpx",
            ours / bare - 1 < 0.25,
        ),
        Figure(
            f"list_integrations: peak memory, {FEW:,} vs {ITEMS:,} items",
            f"{few_kib:,.0f} KiB vs {all_kib:,.0f} KiB: {per_page * 1024:.0f} B per extra page "
            "(the cursor kept to detect a loop)",
            "< 512 B per page (a page of items: ~5 KiB)",
            per_page < 0.5,
        ),
    ]
