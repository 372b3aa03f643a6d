"""Status calls per sync, and how late the end of the job is noticed, for syncs from a minute to
four hours, against what the client did before it timed its polls from the job history (issue
16): 6, 15, 65 and 245 calls, the end seen 21 s, 12 s, 12 s and 12 s late.

Each integration has a stable history: five past jobs that took as long as this one will. The
client keeps its default polling (``poll_interval`` 10 s, slowing to ``max_poll_interval``
60 s). Counted, not timed: one sync against a FakeBraze on a virtual clock shared with the
client, in process, so an hour-long sync takes no real time. Calls are counted by the fake
(every ``job_sync_status`` request it received, the look before the trigger included);
lateness is from the job's end in the fake to the moment ``sync_and_wait`` returned.
"""

from __future__ import annotations

from braze_cdi import BrazeCDIClient
from braze_cdi.testing import FakeBraze, FakeClock

from ._report import Figure

POLL = 10.0
HISTORY = 5
#: duration (s) -> (status calls, seconds late), as measured on 6789738, before issue 16.
TODAY = {
    60.0: (6, 21.25),
    600.0: (15, 11.875),
    3600.0: (65, 11.875),
    4 * 3600.0: (245, 11.875),
}


def _sync(duration: float, history: int = HISTORY) -> tuple[int, float]:
    """One sync_and_wait: the status calls Braze received, and how long after the job's end
    the call returned."""
    clock = FakeClock()
    fake = FakeBraze(clock=clock)
    integration = fake.add_integration(
        history=history, history_duration=duration if history else None, duration=duration
    )
    with BrazeCDIClient(fake.api_key, "US-01", transport=fake, clock=clock) as client:
        client.sync_and_wait(
            integration.integration_id, poll_interval=POLL, max_wait=duration * 2 + 3600
        )
    returned = clock.time()
    [job] = [job for job in integration.jobs if job.triggered]
    return fake.count("status"), returned - (job.start + job.duration)


def _length(duration: float) -> str:
    return f"{duration / 3600:g} h" if duration >= 3600 else f"{duration / 60:g} min"


def run() -> list[Figure]:
    figures = []
    for duration, (calls_before, late_before) in TODAY.items():
        calls, late = _sync(duration)
        most = calls_before // 2
        figures.append(
            Figure(
                f"status calls per sync: {_length(duration)} job, stable history",
                f"{calls} calls (before: {calls_before}), end seen {late:.1f}s late "
                f"(before: {late_before:.1f}s)",
                f"<= {most} calls, <= {late_before:.1f}s late",
                calls <= most and late <= late_before,
            )
        )
    without = [_sync(duration, history=0) for duration in TODAY]
    figures.append(
        Figure(
            "status calls per sync: no history (1 min, 10 min, 1 h, 4 h)",
            ", ".join(f"{calls}" for calls, _ in without)
            + " calls; end seen "
            + ", ".join(f"{late:.0f}" for _, late in without)
            + "s late",
            "(comparison)",
            True,
        )
    )
    return figures


if __name__ == "__main__":
    from ._report import table

    print(table(run()))
