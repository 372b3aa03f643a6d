"""FakeBraze served from another process, so that its work does not share our GIL: the
client is measured as it would run against a remote Braze."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
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
    counts: dict[str, int]


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
    ids = [fake.add_integration(history=1, **settings).integration_id for _ in range(integrations)]
    with fake.serve() as url:
        pipe.send((url, fake.api_key, ids))
        pipe.recv()  # until told to stop
        pipe.send(
            {
                "429": fake.count(status=429),
                "triggered": sum(i.triggered_jobs for i in fake.integrations.values()),
                "requests": len(fake.requests),
            }
        )


@contextmanager
def remote_fake(
    integrations: int,
    *,
    fake_options: dict[str, Any] | None = None,
    faults: list[dict[str, Any]] | None = None,
    **settings: Any,
) -> Iterator[Remote]:
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve,
        args=(theirs, fake_options or {}, faults or [], integrations, settings),
        daemon=True,
    )
    process.start()
    try:
        if not ours.poll(60):
            raise RuntimeError("the fake's process did not start")
        url, api_key, ids = ours.recv()
        remote = Remote(url, api_key, ids, {})
        yield remote
        ours.send("stop")
        remote.counts.update(ours.recv())
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
