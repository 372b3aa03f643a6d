"""Reading Braze's paginated lists, and finding jobs in them without trusting their order."""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import pairwise
from typing import TypeVar

from pydantic import BaseModel

from ._errors import BrazeAPIError
from ._models import SyncJob
from ._protocol import Call, Emit, Op, Page, jobs_call, read_page
from ._retry import Context, send

M = TypeVar("M", bound=BaseModel)

#: Earlier than any job Braze can list.
BEGINNING = datetime.min.replace(tzinfo=timezone.utc)

# A job that took longer than this says nothing about how long the next will take.
_LONGEST_JOB = 7 * 24 * 3600.0


def page(ctx: Context, call: Call, model: type[M], *, deadline: float | None = None) -> Op[Page[M]]:
    return (
        yield from send(
            ctx,
            call,
            lambda response: read_page(call, response, model, ctx.redact),
            deadline=deadline,
        )
    )


MAX_PAGES = 10_000
"""The most pages one listing reads (100,000 items at Braze's 10 a page): a server handing out
a fresh cursor on every page would otherwise be read forever."""


def every_item(ctx: Context, call_for: Callable[[str | None], Call], model: type[M]) -> Op[None]:
    """Emit every item of every page, fetching each page only when the previous one is used."""
    pages = Pages()
    cursor: str | None = None
    while True:
        call = call_for(cursor)
        current = yield from page(ctx, call, model)
        for item in current.items:
            yield Emit(item)
        cursor = pages.next(call, current)
        if cursor is None:
            return


class Pages:
    """Follows a list's pages, refusing one that would never end: a next-page cursor or a page
    met before (the list loops), or more than ``MAX_PAGES`` pages."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, bytes]] = set()
        self._read = 0

    def next(self, call: Call, current: Page[M]) -> str | None:
        """The cursor of the page after ``current``, or ``None`` at the end."""
        self._read += 1
        cursor = current.next_cursor
        if cursor is None:
            return None
        if self._read >= MAX_PAGES:
            raise BrazeAPIError(
                f"{call}: the list goes on past {MAX_PAGES:,} pages; stopping.",
                hint="A list this long is not one Braze sends; please report this.",
            )
        marks = (("cursor", hashlib.blake2b(cursor.encode()).digest()), ("page", current.digest))
        for what, mark in marks:
            if (what, mark) in self._seen:
                raise BrazeAPIError(
                    f"{call}: Braze sent the same next {what} twice; stopping rather than looping.",
                    hint="Please report this.",
                )
            self._seen.add((what, mark))
        return cursor


@dataclass
class JobScan:
    """What one look at an integration's job list found."""

    newest: list[SyncJob] = field(default_factory=list)  # the two newest, newest first
    since: list[SyncJob] = field(default_factory=list)  # every job started at or after `since`
    date: datetime | None = None  # Braze's clock at its last answer
    # How long the jobs read that ended well took, in seconds, in the order read.
    durations: list[float] = field(default_factory=list)

    def expected_seconds(self) -> float | None:
        """How long the next job will likely take: the median of the last ten that ended
        well (newest first when the list is), or ``None`` with no such job."""
        recent = sorted(self.durations[:10])
        return statistics.median(recent) if recent else None


def scan_jobs(
    ctx: Context, integration_id: str, *, since: datetime | None, deadline: float | None = None
) -> Op[JobScan]:
    """Read the job list as far as needed to see the newest jobs and every job since ``since``.

    Braze does not document the list's order. A page sorted newest first is taken to mean the
    list is, so reading stops once a page reaches back past ``since`` (with ``since=None``: after
    the first page). Any other order is read to the end, or until the deadline: the scan then
    holds what was read, and the caller's own deadline check decides.
    """
    scan = JobScan()
    pages = Pages()
    cursor: str | None = None
    while True:
        call = jobs_call(integration_id, cursor)
        current = yield from page(ctx, call, SyncJob, deadline=deadline)
        dated = [job for job in current.items if job.sync_start_time is not None]
        scan.newest = sorted([*scan.newest, *dated], key=_start, reverse=True)[:2]
        scan.durations += [
            seconds
            for job in dated
            if job.succeeded
            and job.duration is not None
            and 0 < (seconds := job.duration.total_seconds()) <= _LONGEST_JOB
        ]
        if since is not None:
            scan.since += [job for job in dated if _start(job) >= since]
        scan.date = current.date or scan.date
        past_deadline = deadline is not None and ctx.clock.monotonic() >= deadline
        if _reached(dated, since) or past_deadline:
            return scan
        cursor = pages.next(call, current)
        if cursor is None:
            return scan


def jobs_since(ctx: Context, integration_id: str, since: datetime) -> Op[None]:
    """Emit the jobs that started at or after ``since``, in Braze's order."""
    scan = yield from scan_jobs(ctx, integration_id, since=since)
    for job in scan.since:
        yield Emit(job)


def _start(job: SyncJob) -> datetime:
    return job.sync_start_time or BEGINNING


def _reached(jobs: list[SyncJob], since: datetime | None) -> bool:
    """Whether a page proves that later pages hold only jobs older than ``since``."""
    newest_first = all(_start(a) >= _start(b) for a, b in pairwise(jobs))
    return bool(jobs) and newest_first and (since is None or _start(jobs[-1]) < since)
