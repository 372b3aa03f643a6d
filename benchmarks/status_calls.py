"""Status calls per sync against the minimum a fixed-interval poller needs (duration / poll
interval), and how late the end of the job is noticed, for syncs from a minute to four hours.

Counted, not timed: a FakeBraze on a virtual clock shared with the client, in process, so an
hour-long sync takes no real time. The poll interval is the default (10 s), slowing to the
default ``max_poll_interval`` (60 s) while the job runs.
"""

from __future__ import annotations

from braze_cdi import BrazeCDIClient
from braze_cdi.testing import FakeBraze, FakeClock

from ._report import Figure

POLL = 10.0
MAX_POLL = 60.0
DURATIONS = (60.0, 600.0, 3600.0, 4 * 3600.0)


def _sync(duration: float) -> tuple[int, float]:
    """One sync_and_wait: its status calls and how long after the job's end it returned."""
    clock = FakeClock()
    fake = FakeBraze(clock=clock)
    integration = fake.add_integration(history=3, duration=duration)
    with BrazeCDIClient(fake.api_key, "US-01", transport=fake, clock=clock) as client:
        result = client.sync_and_wait(
            integration.integration_id, poll_interval=POLL, max_wait=duration * 2 + 3600
        )
    assert fake.count("status") == result.status_calls
    return result.status_calls, result.waited_seconds - duration


def run() -> list[Figure]:
    figures = []
    for duration in DURATIONS:
        calls, late = _sync(duration)
        minimum = duration / POLL
        figures.append(
            Figure(
                f"status calls per sync: {duration / 60:g} min job, poll {POLL:g}s",
                f"{calls} calls = {calls / minimum:.2f}x duration/poll ({minimum:g}); "
                f"end seen {late:.0f}s late",
                f"<= duration/poll + 2, end seen <= {MAX_POLL:g}s late",
                calls <= minimum + 2 and late <= MAX_POLL,
            )
        )
    return figures
