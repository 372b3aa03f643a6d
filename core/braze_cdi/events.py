"""What happens during a sync, as typed events.

The operations decide what happens; each decision worth telling is a ``SyncEvent``, handed to
the subscribers of the call (``on_event=`` on ``start_sync``, ``wait_for_sync``,
``sync_and_wait`` and ``sync_many``). Logging through the ``braze_cdi`` logger is the default
subscriber: it turns each event into the line it has always logged. Nothing needs to read a log
line to learn what happened.

```
SyncEvent                  integration_id (None for a call about no one integration)
├── AlreadyRunning         a job was running before the trigger: job, choice (wait/attach/fail)
├── Triggered              the trigger took effect: confirmed_by (answer/job_list/resend)
├── TriggerOutcomeUnknown  the trigger may have reached Braze: error
├── JobNotListedYet        the trigger's job is not in the job list yet
├── JobStatusChanged       the job was seen with a new status: job, previous_status
├── JobPolled              the job was seen again, unchanged: job
├── JobFinished            the job ended: job
├── PollFailed             a look at the job list failed; the wait goes on: error
├── Retrying               a request failed and is sent again: reason, attempt, delay
└── WaitingForBudget       the client-side rate budget holds a request back: endpoint, delay
```

Examples:
    >>> from braze_cdi import BrazeCDIClient
    >>> from braze_cdi.testing import FakeBraze
    >>> fake = FakeBraze()
    >>> users = fake.add_integration(name="users", duration=0.0)
    >>> seen = []
    >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
    ...     _ = client.sync_and_wait(users.integration_id, on_event=seen.append)
    >>> [type(event).__name__ for event in seen]
    ['Triggered', 'JobStatusChanged', 'JobFinished']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ._errors import BrazeCDIError
from ._models import IfRunning, JobStatus, SyncJob
from ._rate_limit import EndpointKind

__all__ = [
    "AlreadyRunning",
    "JobFinished",
    "JobNotListedYet",
    "JobPolled",
    "JobStatusChanged",
    "PollFailed",
    "Retrying",
    "SyncEvent",
    "TriggerOutcomeUnknown",
    "Triggered",
    "WaitingForBudget",
]


@dataclass(frozen=True)
class SyncEvent:
    """Base class of every event: which integration it is about."""

    integration_id: str | None


@dataclass(frozen=True)
class AlreadyRunning(SyncEvent):
    """A job was running when the sync was to be triggered; ``choice`` is what ``if_running``
    makes of it. ``job`` is that job, or ``None`` when only the trigger's refusal ("Another job
    is in progress") told, before Braze listed it."""

    job: SyncJob | None
    choice: IfRunning


@dataclass(frozen=True)
class Triggered(SyncEvent):
    """The trigger took effect. ``confirmed_by``: Braze's answer; a new job in the job list
    after an answer was lost; or a resent trigger that found the first one's job running."""

    confirmed_by: Literal["answer", "job_list", "resend"] = "answer"


@dataclass(frozen=True)
class TriggerOutcomeUnknown(SyncEvent):
    """The trigger may have reached Braze without an answer; the job list is looked at before
    it is sent again."""

    error: BrazeCDIError


@dataclass(frozen=True)
class JobNotListedYet(SyncEvent):
    """The job the sync waits for is not in Braze's job list yet (Braze may list it late)."""


@dataclass(frozen=True)
class JobStatusChanged(SyncEvent):
    """The job was seen with a status it did not have before (``previous_status`` is ``None``
    the first time it is seen)."""

    job: SyncJob
    previous_status: JobStatus | str | None


@dataclass(frozen=True)
class JobPolled(SyncEvent):
    """The job was seen again, its status unchanged."""

    job: SyncJob


@dataclass(frozen=True)
class JobFinished(SyncEvent):
    """The job ended: ``success``, ``partial``, ``error`` or ``config_error``."""

    job: SyncJob


@dataclass(frozen=True)
class PollFailed(SyncEvent):
    """A look at the job list failed with a passing error; the wait goes on until its
    timeout."""

    error: BrazeCDIError


@dataclass(frozen=True)
class Retrying(SyncEvent):
    """A request failed (``reason``) and is sent again after ``delay`` seconds, as attempt
    ``attempt`` + 1 of ``max_attempts``."""

    reason: str
    attempt: int
    max_attempts: int
    delay: float


@dataclass(frozen=True)
class WaitingForBudget(SyncEvent):
    """The client-side rate budget of ``endpoint`` holds the next request back ``delay``
    seconds, so the workspace's limit is not passed."""

    endpoint: EndpointKind
    delay: float
