"""FakeBraze served from another process, so that its work does not share our GIL: the
client is measured as it would run against a remote Braze."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from braze_cdi.testing import FakeBraze


@dataclass
class Remote:
    url: str
    api_key: str
    integration_ids: list[str]
    counts: dict[str, Any]


def _serve(
    pipe: Connection,
    fake_options: dict[str, Any],
    faults: list[dict[str, Any]],
    integrations: int,
    settings: dict[str, Any],
) -> None:
    fake = FakeBraze(**fake_options)
    for fault in faults:
        fake.inject(**fault)
    settings = {"history": 1, **settings}
    ids = [fake.add_integration(**settings).integration_id for _ in range(integrations)]
    with fake.serve() as url:
        pipe.send((url, fake.api_key, ids))
        pipe.recv()  # until told to stop
        pipe.send(
            {
                "429": fake.count(status=429),
                "status": fake.count("status"),
                "triggered": sum(i.triggered_jobs for i in fake.integrations.values()),
                "requests": len(fake.requests),
                "started": {
                    i: [job.start for job in fake.integrations[i].jobs if job.triggered]
                    for i in ids
                },
            }
        )


@dataclass
class Exchange:
    """What a served process said: ``started`` when it began serving, ``report`` at its end."""

    started: Any
    report: dict[str, Any]


@contextmanager
def in_another_process(serve: Callable[..., None], *args: Any) -> Iterator[Exchange]:
    """Run ``serve(pipe, *args)`` in a fresh process while the block runs.

    ``serve`` sends what the block needs (its URL, ...), waits for "stop", then sends a dict
    report, which fills ``report`` once the block has ended.
    """
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=serve, args=(theirs, *args), daemon=True)
    process.start()
    try:
        if not ours.poll(60):
            raise RuntimeError("the fake's process did not start")
        exchange = Exchange(ours.recv(), {})
        yield exchange
        ours.send("stop")
        exchange.report.update(ours.recv())
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()


@contextmanager
def remote_fake(
    integrations: int,
    *,
    fake_options: dict[str, Any] | None = None,
    faults: list[dict[str, Any]] | None = None,
    **settings: Any,
) -> Iterator[Remote]:
    """A FakeBraze with ``integrations`` integrations, served from another process.

    ``settings`` go to each ``add_integration`` (``history=1`` unless given). ``counts`` fills
    in once the block ends: the 429s served, status calls received, jobs triggered, requests,
    and the start of each integration's triggered jobs (``"started"``).
    """
    args = (fake_options or {}, faults or [], integrations, settings)
    with in_another_process(_serve, *args) as exchange:
        url, api_key, ids = exchange.started
        yield Remote(url, api_key, ids, exchange.report)
