"""What happens during a sync, as typed events.

The operations decide what happens; each decision worth telling is a ``SyncEvent``, handed to
the subscribers of the call (``on_event=`` on ``start_sync``, ``wait_for_sync``,
``sync_and_wait`` and ``sync_many``). Logging through the ``braze_cdi`` logger is the default
subscriber: it logs each event's ``message()`` at its ``level``. Nothing needs to read a log line
to learn what happened: a surface that shows progress renders the events (``summary`` is the
event without the integration's name, for a line that already shows it), and ``log_to`` sends
them to any run log.

```
SyncEvent                  integration_id (None for a call about no one integration)
├── AlreadyRunning         a job was running before the trigger: job, choice (wait/attach/fail)
├── Triggered              the trigger took effect: confirmed_by (answer/job_list/resend)
├── Resumed                an earlier attempt's trigger is adopted: job (None: not listed yet)
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

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from ._errors import BrazeCDIError
from ._models import IfRunning, JobStatus, SyncJob, rows_text, start_text
from ._rate_limit import EndpointKind

__all__ = [
    "AlreadyRunning",
    "JobFinished",
    "JobNotListedYet",
    "JobPolled",
    "JobStatusChanged",
    "OnEvent",
    "PollFailed",
    "Resumed",
    "Retrying",
    "RunLog",
    "SyncEvent",
    "TriggerOutcomeUnknown",
    "Triggered",
    "WaitingForBudget",
    "log_to",
]


@dataclass(frozen=True)
class SyncEvent:
    """Base class of every event: which integration it is about, and how it reads.

    ``level`` is the ``logging`` level the event is logged at (``None``: not logged, as a status
    change to an end state, which ``JobFinished`` tells); ``summary`` says what happened without
    naming the integration; ``message()`` is the whole log line.
    """

    integration_id: str | None

    @property
    def level(self) -> int | None:
        return logging.INFO

    @property
    def summary(self) -> str:
        raise NotImplementedError

    def message(self, name: str | None = None) -> str:
        """The log line, naming the integration ``name`` (by default its id)."""
        who = name or self.integration_id
        return f"{'A call' if who is None else f'Integration {who}'}: {self.summary}."


@dataclass(frozen=True)
class AlreadyRunning(SyncEvent):
    """A job was running when the sync was to be triggered; ``choice`` is what ``if_running``
    makes of it. ``job`` is that job, or ``None`` when only the trigger's refusal ("Another job
    is in progress") told, before Braze listed it."""

    job: SyncJob | None
    choice: IfRunning

    @property
    def level(self) -> int | None:
        return None if self.choice == "fail" else logging.INFO  # the error tells

    @property
    def summary(self) -> str:
        started = "" if self.job is None else f" (job started {start_text(self.job)})"
        then = {
            "attach": "attaching to it",
            "wait": "waiting for it to end before triggering",
            "fail": "failing",
        }
        return f"already syncing{started}; {then[self.choice]}"

    def message(self, name: str | None = None) -> str:
        return f"Integration {name or self.integration_id} is {self.summary}."


_CONFIRMED = {
    "answer": "triggered",
    "job_list": "a new job appeared, so the trigger worked",
    "resend": "the resent trigger found a job in progress, so the first one started it",
}


@dataclass(frozen=True)
class Triggered(SyncEvent):
    """The trigger took effect. ``confirmed_by``: Braze's answer; a new job in the job list
    after an answer was lost; or a resent trigger that found the first one's job running."""

    confirmed_by: Literal["answer", "job_list", "resend"] = "answer"

    @property
    def summary(self) -> str:
        return _CONFIRMED[self.confirmed_by]

    def message(self, name: str | None = None) -> str:
        if self.confirmed_by == "answer":
            return f"Triggered a sync of integration {name or self.integration_id}."
        return super().message(name)


@dataclass(frozen=True)
class Resumed(SyncEvent):
    """The sync resumes an earlier attempt (``resume=``): the job that attempt's trigger
    started is adopted instead of triggering again. ``job`` is that job, or ``None`` when Braze
    refused a new trigger because a job is running that it does not list yet."""

    job: SyncJob | None

    @property
    def summary(self) -> str:
        started = "" if self.job is None else f" (job started {start_text(self.job)})"
        return f"resuming the sync an earlier attempt triggered{started}; not triggering again"


@dataclass(frozen=True)
class TriggerOutcomeUnknown(SyncEvent):
    """The trigger may have reached Braze without an answer; the job list is looked at before
    it is sent again."""

    error: BrazeCDIError

    @property
    def level(self) -> int | None:
        return logging.WARNING

    @property
    def summary(self) -> str:
        return (
            f"the trigger's outcome is unknown ({self.error.message}); checking the job list "
            "before sending it again"
        )


@dataclass(frozen=True)
class JobNotListedYet(SyncEvent):
    """The job the sync waits for is not in Braze's job list yet (Braze may list it late)."""

    @property
    def level(self) -> int | None:
        return logging.DEBUG

    @property
    def summary(self) -> str:
        return "its new job is not listed yet"


@dataclass(frozen=True)
class JobStatusChanged(SyncEvent):
    """The job was seen with a status it did not have before (``previous_status`` is ``None``
    the first time it is seen). A status Braze does not document is a warning, and the job is
    not taken as finished."""

    job: SyncJob
    previous_status: JobStatus | str | None

    @property
    def level(self) -> int | None:
        if self.job.finished:
            return None  # JobFinished tells how it ended
        return logging.INFO if isinstance(self.job.job_status, JobStatus) else logging.WARNING

    @property
    def summary(self) -> str:
        status = self.job.job_status
        if isinstance(status, JobStatus):
            return f"job started {start_text(self.job)} is {status}"
        return (
            f"job started {start_text(self.job)} has a status Braze does not document "
            f"({status!r}); it is not taken as finished"
        )


@dataclass(frozen=True)
class JobPolled(SyncEvent):
    """The job was seen again, its status unchanged."""

    job: SyncJob

    @property
    def level(self) -> int | None:
        return logging.DEBUG

    @property
    def summary(self) -> str:
        return f"job started {start_text(self.job)} is {self.job.job_status}"


@dataclass(frozen=True)
class JobFinished(SyncEvent):
    """The job ended: ``success``, ``partial``, ``error`` or ``config_error``."""

    job: SyncJob

    @property
    def summary(self) -> str:
        job = self.job
        return f"job started {start_text(job)} ended {job.job_status}: {rows_text(job)}"


@dataclass(frozen=True)
class PollFailed(SyncEvent):
    """A look at the job list failed with a passing error; the wait goes on until its
    ``max_wait`` runs out."""

    error: BrazeCDIError

    @property
    def level(self) -> int | None:
        return logging.WARNING

    @property
    def summary(self) -> str:
        return f"could not read its jobs ({self.error.message}); trying again at the next poll"


@dataclass(frozen=True)
class Retrying(SyncEvent):
    """A request failed (``reason``) and is sent again after ``delay`` seconds, as attempt
    ``attempt`` + 1 of ``max_attempts``."""

    reason: str
    attempt: int
    max_attempts: int
    delay: float

    @property
    def summary(self) -> str:
        return (
            f"{self.reason.rstrip('.')}; attempt {self.attempt + 1} of {self.max_attempts} "
            f"in {self.delay:.1f}s"
        )

    def message(self, name: str | None = None) -> str:
        return f"{self.summary}."  # the reason names what failed


@dataclass(frozen=True)
class WaitingForBudget(SyncEvent):
    """The client-side rate budget of ``endpoint`` holds the next request back ``delay``
    seconds, so the workspace's limit is not passed."""

    endpoint: EndpointKind
    delay: float

    @property
    def level(self) -> int | None:
        return logging.DEBUG

    @property
    def summary(self) -> str:
        return f"waiting {self.delay:.1f}s for the client-side {self.endpoint} budget"


OnEvent = Callable[[SyncEvent], object]
"""A subscriber: called with each event of a call (the async client also awaits a coroutine
function's result)."""


class RunLog(Protocol):
    """Anything with ``log(level, message)``: a ``logging.Logger`` or ``LoggerAdapter``
    (Prefect's run logger), Dagster's ``context.log``."""

    def log(self, level: int, msg: str) -> object: ...


def log_to(run_log: RunLog, level: int = logging.INFO) -> Callable[[SyncEvent], None]:
    """A subscriber that writes each event at ``level`` or above to ``run_log``, worded as the
    ``braze_cdi`` logger words it.

    Examples:
        >>> import logging
        >>> from braze_cdi.events import JobNotListedYet, Triggered, log_to
        >>> class Lines:
        ...     def log(self, level, msg):
        ...         print(logging.getLevelName(level), msg)
        >>> subscriber = log_to(Lines())
        >>> subscriber(Triggered("abc"))
        INFO Triggered a sync of integration abc.
        >>> subscriber(JobNotListedYet("abc"))  # DEBUG: below the level
    """

    def subscriber(event: SyncEvent) -> None:
        event_level = event.level
        if event_level is not None and event_level >= level:
            run_log.log(event_level, event.message())

    return subscriber
