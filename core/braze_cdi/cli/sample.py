"""The sample workspace that ``braze-cdi fake`` serves and ``braze-cdi demo`` syncs."""

from __future__ import annotations

from dataclasses import dataclass

from ..testing import FakeBraze
from ..testing._fake import Outcome as JobOutcome

__all__ = ["SAMPLES", "Sample", "sample_workspace"]


@dataclass(frozen=True)
class Sample:
    """One sample integration and what each of its syncs does."""

    name: str
    outcome: JobOutcome
    duration: float
    rows_synced: int
    rows_failed: int
    story: str  # what each sync does, in a few words


#: Short durations, so that a whole sync can be watched in seconds.
SAMPLES = (
    Sample("users", "success", 3.0, 12_480, 0, "succeeds"),
    Sample("purchases", "partial", 5.0, 8_211, 37, "ends partial (37 rows rejected)"),
    Sample("events", "error", 2.0, 0, 0, "fails"),
    Sample("catalog", "success", 2.0, 2_150, 0, "succeeds"),
)


def sample_workspace() -> FakeBraze:
    """A ``FakeBraze`` holding the sample integrations, each with a few past syncs.

    The ids are the same in every run (``FakeBraze`` draws them from a seeded generator); the
    API key is new each time.

    Examples:
        >>> fake = sample_workspace()
        >>> [integration.name for integration in fake.integrations.values()]
        ['users', 'purchases', 'events', 'catalog']
    """
    fake = FakeBraze()
    for sample in SAMPLES:
        fake.add_integration(
            name=sample.name,
            history=3,
            duration=sample.duration,
            outcome=sample.outcome,
            rows_synced=sample.rows_synced,
            rows_failed=sample.rows_failed,
        )
    return fake
