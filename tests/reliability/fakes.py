"""FakeBraze with a script: changes of Braze's state that a ``Fault`` cannot express."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from braze_cdi.testing import FakeBraze
from braze_cdi.testing._fake import Reply

Step = Callable[[httpx.Request], None]


class ScriptedBraze(FakeBraze):
    """A FakeBraze that runs every step of ``script`` before it answers a request.

    A step sees the request and may change the fake: hide a job from the list, start a job as
    Braze's own schedule would, inject a fault for just this request.

    Examples:
        >>> fake = ScriptedBraze()
        >>> fake.script.append(lambda request: print(request.method, request.url.path))
    """

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.script: list[Step] = []

    without_date = False  # answer without a Date header (Braze documents none)

    def reply(self, request: httpx.Request) -> Reply:
        for step in self.script:
            step(request)
        reply = super().reply(request)
        if self.without_date and reply.response is not None:
            del reply.response.headers["Date"]
        return reply


def vanish_once_listed(fake: FakeBraze, integration_id: str) -> Step:
    """A step: the job the trigger started leaves the job list for good, once it was listed."""
    integration = fake.integrations[integration_id]
    path = f"/cdi/integrations/{integration_id}/job_sync_status"
    listed = False

    def step(request: httpx.Request) -> None:
        nonlocal listed
        job = next((job for job in integration.jobs if job.triggered), None)
        if job is None:
            return
        if listed:
            job.hidden = True
        elif request.url.path == path and fake.clock.time() >= job.listed_from:
            listed = True  # this answer lists it; the next ones will not

    return step


class Switchboard(FakeBraze):
    """Serve it once, then point it at each test's FakeBraze: one loopback server for many
    tests, each with a fake (and a virtual clock) of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.current: FakeBraze = FakeBraze()

    def reply(self, request: httpx.Request) -> Reply:
        return self.current.reply(request)
