"""The sample workspace that ``braze-cdi fake`` serves and ``braze-cdi demo`` syncs."""

from __future__ import annotations

from dataclasses import dataclass

from ..testing import FakeBraze
from ..testing._fake import Outcome as JobOutcome

__all__ = ["SAMPLES", "Sample", "sample_workspace"]


@dataclass(frozen=True)
class Sample:
    """One sample integration, its id, and what each of its syncs does."""

    integration_id: str
    name: str
    outcome: JobOutcome
    duration: float
    rows_synced: int
    rows_failed: int
    story: str  # what each sync does, in a few words


#: Short durations, so that a whole sync can be watched in seconds. The ids of ``users`` and
#: ``purchases`` are those the documentation's examples use, so that every example runs as
#: written against ``braze-cdi fake``.
SAMPLES = (
    Sample("5d1c0c1e-59a5-4f8b-9a53-02cc0a2b7d11", "users", "success", 3.0, 12_480, 0, "succeeds"),
    Sample(
        "8c4e2a91-7f3b-4d6e-a0c5-19b8d7e6f254",
        "purchases",
        "partial",
        5.0,
        8_211,
        37,
        "ends partial (37 rows rejected)",
    ),
    Sample("eb1167b3-67a9-c378-7c65-c1e582e2e662", "events", "error", 2.0, 0, 0, "fails"),
    Sample("f7c1bd87-4da5-e709-d471-3d60c8a70639", "catalog", "success", 2.0, 2_150, 0, "succeeds"),
)


def sample_workspace(api_key: str | None = None) -> FakeBraze:
    """A ``FakeBraze`` holding the sample integrations, each with a few past syncs.

    The ids are the same in every run; the API key is ``api_key``, or a new one each time.

    Examples:
        >>> fake = sample_workspace()
        >>> [integration.name for integration in fake.integrations.values()]
        ['users', 'purchases', 'events', 'catalog']
        >>> fake.integrations["5d1c0c1e-59a5-4f8b-9a53-02cc0a2b7d11"].name
        'users'
    """
    fake = FakeBraze(api_key=api_key)
    for sample in SAMPLES:
        fake.add_integration(
            sample.integration_id,
            name=sample.name,
            history=3,
            duration=sample.duration,
            outcome=sample.outcome,
            rows_synced=sample.rows_synced,
            rows_failed=sample.rows_failed,
        )
    return fake
