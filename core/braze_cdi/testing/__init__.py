"""Test without a Braze account: an in-memory CDI server and a virtual clock.

``FakeBraze`` serves the three CDI endpoints as Braze documents them, in-process (as an httpx
transport) or over loopback HTTP; ``FakeClock`` makes waits instant when shared by the fake and
the client.
"""

from ._clock import FakeClock
from ._fake import FakeBraze, FakeIntegration, FakeJob, Fault, RecordedRequest, Reply

__all__ = [
    "FakeBraze",
    "FakeClock",
    "FakeIntegration",
    "FakeJob",
    "Fault",
    "RecordedRequest",
    "Reply",
]
