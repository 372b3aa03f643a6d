"""What ``sync`` and ``wait`` share: running each integration's work on the board, keeping the
handle of each sync as soon as it is known, learning the integrations' names, and reporting
(with each integration's page in the Braze dashboard, where it is known).

A handle is kept the moment ``start_sync`` returns it, so that a timeout, a failure and Ctrl-C
can each say what resumes the wait (``braze-cdi wait ID --handle ...``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, cast

from pydantic import ValidationError
from rich.text import Text

from .._client import AsyncBrazeCDIClient
from .._errors import BrazeCDIError, BrazeConfigError
from .._models import IfRunning, Integration, SyncHandle, SyncJob, SyncResult
from ..events import OnEvent
from .exit_codes import ExitCode, worst_exit_code
from .output import (
    Outcome,
    Output,
    dashboard_links,
    handles_table,
    one_line,
    outcome_json,
    results_table,
    resume_command,
    stderr_console,
)
from .progress import SyncBoard
from .run_records import RunRecords

__all__ = [
    "NAME_LOOKUP_LIMIT",
    "Syncs",
    "after_time",
    "check_ids",
    "handle_to_resume",
    "read_handle",
]

#: The most integrations read to find the names of the ids given: at Braze's 10 a page, at most
#: 5 calls of the 50 a minute the integration list allows.
NAME_LOOKUP_LIMIT = 50
# How long the command waits for the names after its syncs have ended.
_NAMES_GRACE = 1.0
# A wait given what is left of --max-wait after the trigger is given at least this.
_LEAST_WAIT = 0.001
_BOOLEAN_WORDS = {"true", "false", "yes", "no", "on", "off"}

Work = Callable[[str, OnEvent], Awaitable[Outcome]]


def check_ids(integration_ids: Sequence[str]) -> None:
    """Refuse, before any request, an id that is a flag's value by mistake (``--wait true``)
    and an id given twice."""
    for integration_id in integration_ids:
        if integration_id.lower() in _BOOLEAN_WORDS:
            raise BrazeConfigError(
                f"{integration_id!r} is not an integration id: --wait, --fail-on-partial, "
                "--json and --debug are flags and take no value."
            )
    if len(set(integration_ids)) != len(integration_ids):
        raise BrazeConfigError("The same integration id is given twice.")


@dataclass
class Syncs:
    """One command's syncs (or waits), one per id: the handles known so far and, once they
    have run, their outcomes, the seconds each took and the names Braze gave the ids."""

    ids: Sequence[str]
    handles: dict[str, SyncHandle] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    waited: dict[str, float] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    dashboard_urls: dict[str, str | None] = field(default_factory=dict)
    board: SyncBoard | None = None
    records: RunRecords | None = None  # with --run-key

    async def run(self, client: AsyncBrazeCDIClient, work: Work, *, busy: str) -> None:
        """``work(id, on_event)`` for every id at once on the board, while the ids' names are
        looked up beside them (never holding a sync back, never failing one)."""
        self.dashboard_urls = {i: client.dashboard_url(i) for i in self.ids}
        self.board = board = SyncBoard(stderr_console(), busy=busy)
        names = asyncio.create_task(self._look_up_names(client, board))
        try:
            self.outcomes = await board.run(self.ids, work)
            await asyncio.wait({names}, timeout=_NAMES_GRACE)
        finally:
            names.cancel()
            await asyncio.gather(names, return_exceptions=True)
            self.waited = board.elapsed()

    async def _look_up_names(self, client: AsyncBrazeCDIClient, board: SyncBoard) -> None:
        """Braze's names of the ids, from the integration list: until every id is found, or
        ``NAME_LOOKUP_LIMIT`` integrations were read. A key without ``cdi.integration_list``,
        or any failure, leaves the ids as they are."""
        wanted = set(self.ids)
        listed = cast(AsyncGenerator[Integration, None], client.list_integrations())
        try:
            async with aclosing(listed) as integrations:
                read = 0
                async for integration in integrations:
                    read += 1
                    if integration.integration_id in wanted:
                        wanted.discard(integration.integration_id)
                        if integration.integration_name:
                            found = {integration.integration_id: integration.integration_name}
                            self.names.update(found)
                            board.relabel(found)
                    if not wanted or read >= NAME_LOOKUP_LIMIT:
                        return
        except BrazeCDIError as error:
            logging.getLogger("braze_cdi").debug("The integrations' names are unknown: %s", error)

    async def start(
        self,
        client: AsyncBrazeCDIClient,
        integration_id: str,
        on_event: OnEvent,
        *,
        max_wait: float,
        poll_interval: float,
        if_running: IfRunning,
    ) -> SyncHandle:
        """``start_sync``, keeping the handle; with a run key, resuming the run's earlier
        attempt and keeping the record of a new trigger before it is sent."""
        records = self.records
        handle = await client.start_sync(
            integration_id,
            if_running=if_running,
            max_wait=max_wait,
            poll_interval=poll_interval,
            on_event=on_event,
            resume=None if records is None else records.read(integration_id),
            before_trigger=None if records is None else records.write,
        )
        self.handles[integration_id] = handle
        return handle

    async def sync_and_wait(
        self,
        client: AsyncBrazeCDIClient,
        integration_id: str,
        on_event: OnEvent,
        *,
        max_wait: float,
        poll_interval: float,
        if_running: IfRunning,
        fail_on_partial: bool,
    ) -> SyncResult:
        """``sync_and_wait`` in its two steps, keeping the handle in between: ``max_wait`` bounds
        both, and the result's ``waited_seconds`` counts both."""
        began = time.monotonic()
        handle = await self.start(
            client,
            integration_id,
            on_event,
            if_running=if_running,
            max_wait=max_wait,
            poll_interval=poll_interval,
        )
        result = await client.wait_for_sync(
            handle,
            max_wait=max(max_wait - (time.monotonic() - began), _LEAST_WAIT),
            poll_interval=poll_interval,
            fail_on_partial=fail_on_partial,
            on_event=on_event,
        )
        return result.model_copy(update={"waited_seconds": time.monotonic() - began})

    async def wait(
        self,
        client: AsyncBrazeCDIClient,
        integration_id: str,
        on_event: OnEvent,
        *,
        handle: SyncHandle | None,
        after: datetime | None,
        max_wait: float,
        poll_interval: float,
        fail_on_partial: bool,
    ) -> SyncResult:
        """Wait for the job ``handle`` points at, the first job started at or after ``after``,
        or else the running job (the newest, when none runs)."""
        began = time.monotonic()
        if handle is None:
            handle = await handle_to_resume(client, integration_id, after)
        self.handles[integration_id] = handle
        result = await client.wait_for_sync(
            handle,
            max_wait=max(max_wait - (time.monotonic() - began), _LEAST_WAIT),
            poll_interval=poll_interval,
            fail_on_partial=fail_on_partial,
            on_event=on_event,
        )
        return result.model_copy(update={"waited_seconds": time.monotonic() - began})

    def report(self, output: Output, *, table: Literal["results", "handles"]) -> ExitCode:
        """Print the outcomes (a table, or JSON), then one line per error (with what resumes a
        wait that ended early); the exit code they earn."""
        pairs = list(zip(self.ids, self.outcomes, strict=True))
        links = self.dashboard_urls
        if output.as_json:
            output.data(
                [
                    outcome_json(
                        i, o, output, waited=self.waited.get(i), dashboard_url=links.get(i)
                    )
                    for i, o in pairs
                ]
            )
        elif table == "results":
            output.show(
                results_table(self.ids, self.outcomes, self.names, self.waited),
                dashboard_links(links, self.names),
            )
        else:
            output.show(
                handles_table(self.ids, self.outcomes, self.names),
                dashboard_links(links, self.names),
            )
        for integration_id, outcome in pairs:
            if isinstance(outcome, Exception):
                output.error(outcome, integration_id=integration_id)
        return worst_exit_code(self.outcomes)

    def interrupted(self, *, triggering: bool) -> None:
        """After Ctrl-C: what goes on at Braze, and for each sync still running here what waits
        for it again (only the handles the command had by then are known)."""
        console = stderr_console()
        console.print("Interrupted. Braze has no cancel call: a sync already triggered goes on.")
        ended = set()
        if self.board is not None:
            ended = {line.integration_id for line in self.board.lines if line.outcome is not None}
        for integration_id in self.ids:
            if integration_id in ended:
                continue
            handle = self.handles.get(integration_id)
            if handle is not None:
                console.print(
                    Text.assemble("Wait for it again: ", (resume_command(handle), "bold")),
                    soft_wrap=True,
                )
            elif triggering:
                console.print(
                    f"{integration_id}: interrupted before its trigger was confirmed; `braze-cdi "
                    f"jobs {integration_id}` shows whether a job started, and `braze-cdi wait "
                    f"{integration_id}` waits for the running one.",
                    soft_wrap=True,
                )
            else:
                console.print(f"Wait for it again: braze-cdi wait {integration_id}", soft_wrap=True)


async def handle_to_resume(
    client: AsyncBrazeCDIClient, integration_id: str, after: datetime | None
) -> SyncHandle:
    """Where the job to wait for is: the first job that started at or after ``after``; without
    it, the newest job of the first page Braze lists (the running one, if one runs), found by
    noting the job before it."""
    if after is not None:
        return SyncHandle(integration_id=integration_id, not_before=after, triggered=False)
    listed = cast(AsyncGenerator[SyncJob, None], client.list_sync_jobs(integration_id))
    async with aclosing(listed) as jobs:
        first_page = [job async for job in _first(jobs, 10)]
    dated = sorted(
        (job for job in first_page if job.sync_start_time is not None),
        key=lambda job: cast(datetime, job.sync_start_time),
        reverse=True,
    )
    previous = dated[1] if len(dated) > 1 else None
    return SyncHandle(integration_id=integration_id, previous_job=previous, triggered=False)


async def _first(jobs: AsyncGenerator[SyncJob, None], count: int) -> AsyncGenerator[SyncJob, None]:
    taken = 0
    async for job in jobs:
        yield job
        taken += 1
        if taken >= count:
            return


def read_handle(text: str, integration_id: str) -> SyncHandle:
    """A ``SyncHandle`` from its JSON: given as is, from a file (``@path``), or from standard
    input (``-``)."""
    source = "--handle"
    if text == "-":
        text, source = sys.stdin.read(), "standard input"
    elif text.startswith("@"):
        path = Path(text[1:])
        try:
            text, source = path.read_text(encoding="utf-8"), str(path)
        except OSError as error:
            raise BrazeConfigError(
                f"Cannot read the handle from {path}: {error.strerror or error}."
            ) from None
    try:
        handle = SyncHandle.model_validate_json(text)
    except ValidationError as error:
        problem = one_line(str(error.errors(include_input=False, include_url=False)[0]["msg"]))
        raise BrazeConfigError(
            f"The handle of {source} is not a SyncHandle in JSON: {problem}.",
            hint="Give the handle a timed-out `braze-cdi sync --wait` printed, as printed.",
        ) from None
    if handle.integration_id != integration_id:
        raise BrazeConfigError(
            f"The handle is for integration {handle.integration_id}, not {integration_id}."
        )
    return handle


def after_time(text: str) -> datetime:
    """An ISO 8601 time; one without an offset is taken as UTC, as Braze's times are."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BrazeConfigError(
            f"--after takes an ISO 8601 time such as 2026-05-04T09:15:00Z, not {text!r}."
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
