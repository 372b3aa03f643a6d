"""What the command prints: tables for people, JSON for scripts, one line per error.

Standard output carries the answer only (a table, or JSON with ``--json``); standard error
carries progress and errors, so ``braze-cdi ... --json | jq`` always reads clean JSON.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import traceback
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._errors import (
    BrazeAPIError,
    BrazeCDIError,
    BrazeConfigError,
    BrazeTransportError,
    SyncAlreadyRunning,
    SyncFailed,
    SyncTimeout,
)
from .._models import Integration, JobStatus, SyncHandle, SyncJob, SyncResult
from .exit_codes import exit_code_for

__all__ = [
    "Outcome",
    "Output",
    "dashboard_links",
    "handle_of",
    "handles_table",
    "integrations_table",
    "jobs_table",
    "one_line",
    "outcome_json",
    "results_table",
    "resumable",
    "resume_command",
    "rows_of",
    "status_of",
    "stderr_console",
    "stdout_console",
]

#: What one integration's sync (or trigger) came to.
Outcome = SyncResult | SyncHandle | Exception

# Wide enough that a table of ids is not folded when output goes to a file or a CI log.
_WIDTH_WHEN_NOT_A_TERMINAL = 160
_STYLES = {
    JobStatus.SUCCESS.value: "green",
    JobStatus.PARTIAL.value: "yellow",
    JobStatus.RUNNING.value: "cyan",
    "triggered": "green",
    "attached": "cyan",
    "timed out": "yellow",
}
_FAILED_STYLE = "bold red"


@cache
def stdout_console() -> Console:
    """The console of standard output."""
    return _console(stderr=False)


@cache
def stderr_console() -> Console:
    """The console of standard error: progress, logs and errors."""
    return _console(stderr=True)


def _console(*, stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = _WIDTH_WHEN_NOT_A_TERMINAL
    return console


class Output:
    """Prints one command's answer and errors, as tables or as JSON.

    It changes nothing it prints: the core keeps the key out of every message by construction.

    Args:
        as_json: Print JSON for scripts instead of tables.
        debug: Print the traceback of an error after its line.

    Examples:
        >>> Output(as_json=True).data([{"integration_id": "abc", "job_status": "success"}])
        [
          {
            "integration_id": "abc",
            "job_status": "success"
          }
        ]
    """

    def __init__(self, *, as_json: bool, debug: bool = False) -> None:
        self.as_json = as_json
        self.debug = debug

    def data(self, value: Any, *, indent: int | None = 2) -> None:
        """Print JSON to standard output (on one line with ``indent=None``)."""
        sys.stdout.write(json.dumps(value, indent=indent, default=str) + "\n")
        sys.stdout.flush()

    def show(self, table: Table, footer: Text | None = None) -> None:
        """Print a table to standard output, and the ``footer`` under it (never folded, so that
        a link in it stays whole)."""
        stdout_console().print(table)
        if footer is not None:
            stdout_console().print(footer, soft_wrap=True)

    def error(self, error: BaseException, *, integration_id: str | None = None) -> None:
        """One line on standard error (and its traceback with ``debug``)."""
        said = error.describe("cli") if isinstance(error, BrazeCDIError) else str(error)
        line = one_line(said or type(error).__name__)
        if integration_id is not None and integration_id not in line:
            line = f"{integration_id}: {line}"
        if not isinstance(error, BrazeCDIError):
            line = f"unexpected {type(error).__name__}: {line} (--debug shows the traceback)"
        if self.debug:
            sys.stderr.write("".join(traceback.format_exception(error)))
            sys.stderr.flush()
        stderr_console().print(Text.assemble(("Error: ", "bold red"), line), soft_wrap=True)
        handle = resumable(error)
        if handle is not None:
            # One line, never folded, so that it can be copied whole.
            stderr_console().print(
                Text.assemble("Wait for it again: ", (resume_command(handle), "bold")),
                soft_wrap=True,
            )

    def fail(self, error: BaseException) -> None:
        """Report an error that ended the whole command: its line, and with ``--json`` an
        ``{"error": ...}`` object on standard output."""
        if self.as_json:
            self.data({"error": self.error_json(error)})
        self.error(error)

    def error_json(self, error: BaseException) -> dict[str, Any]:
        """An error as JSON: its class, message, status code, retryability and exit code."""
        return {
            "type": type(error).__name__,
            "message": one_line(
                error.describe("cli") if isinstance(error, BrazeCDIError) else str(error)
            ),
            "status_code": getattr(error, "status_code", None),
            "retryable": getattr(error, "retryable", False),
            "exit_code": int(exit_code_for(error)),
        }


def one_line(text: str) -> str:
    """``text`` with every run of whitespace, newlines included, made one space."""
    return re.sub(r"\s+", " ", text).strip()


def outcome_json(
    integration_id: str,
    outcome: Outcome,
    output: Output,
    *,
    waited: float | None = None,
    dashboard_url: str | None = None,
) -> dict[str, Any]:
    """One integration's outcome as JSON: ``SyncResult.record()``, the ``SyncHandle``, or the
    error with the last job seen, whether this sync triggered it, the seconds spent on it
    (``waited``) and, when its sync may still run, what resumes the wait; each with the
    integration's ``dashboard_url`` (``None`` when it is not known)."""
    if isinstance(outcome, SyncResult):
        return {**outcome.record(), "dashboard_url": dashboard_url}
    if isinstance(outcome, SyncHandle):
        return {**outcome.model_dump(mode="json"), "dashboard_url": dashboard_url}
    job = _job_of(outcome)
    handle = handle_of(outcome)
    resume = resumable(outcome)
    return {
        "integration_id": integration_id,
        "job_status": None if job is None else str(job.job_status),
        "error": output.error_json(outcome),
        "job": None if job is None else job.model_dump(mode="json"),
        "triggered": None if handle is None else handle.triggered,
        "waited_seconds": None if waited is None else round(waited, 3),
        "resume": None
        if resume is None
        else {"handle": resume.model_dump(mode="json"), "command": resume_command(resume)},
        "dashboard_url": dashboard_url,
    }


def handle_of(outcome: Outcome) -> SyncHandle | None:
    """Where the outcome's sync can be found: the handle itself, or the one an error that
    ended a wait carries (``None`` when no sync was started, or none is known)."""
    if isinstance(outcome, SyncHandle):
        return outcome
    if isinstance(outcome, BrazeCDIError):
        return outcome.handle
    return None


def resumable(outcome: Outcome | BaseException) -> SyncHandle | None:
    """The handle that resumes a wait an error ended while its sync may still run (not after
    ``SyncFailed``: that job has ended)."""
    if isinstance(outcome, BrazeCDIError) and not isinstance(outcome, SyncFailed):
        return outcome.handle
    return None


def resume_command(handle: SyncHandle) -> str:
    """The ``braze-cdi wait`` command line that waits for ``handle``'s job again, quoted for a
    POSIX shell.

    Examples:
        >>> from braze_cdi import SyncHandle
        >>> print(resume_command(SyncHandle(integration_id="abc", triggered=True)))
        braze-cdi wait abc --handle '{"integration_id":"abc","triggered":true}'
    """
    text = handle.model_dump_json(exclude_none=True)
    return shlex.join(["braze-cdi", "wait", handle.integration_id, "--handle", text])


def status_of(outcome: Outcome) -> Text:
    """A word or two for what an outcome came to, coloured."""
    if isinstance(outcome, SyncResult):
        word = str(outcome.job_status)
    elif isinstance(outcome, SyncHandle):
        word = "triggered" if outcome.triggered else "attached"
    elif isinstance(outcome, SyncFailed):
        return Text(str(outcome.job.job_status), style=_FAILED_STYLE)
    else:
        word = _error_word(outcome)
    return Text(word, style=_STYLES.get(word, _FAILED_STYLE))


def _error_word(error: Exception) -> str:
    if isinstance(error, SyncTimeout):
        return "timed out"
    if isinstance(error, SyncAlreadyRunning):
        return "already running"
    if isinstance(error, BrazeConfigError):
        return "bad input"
    if isinstance(error, BrazeAPIError):
        return "refused"
    if isinstance(error, BrazeTransportError):
        return "unreachable"
    return "error"


def rows_of(outcome: Outcome) -> str:
    """Rows synced (and failed) by the outcome's job, or an empty string."""
    job = outcome.job if isinstance(outcome, SyncResult) else _job_of(outcome)
    if job is None or job.rows_synced is None:
        return ""
    failed = job.rows_failed_with_errors
    return f"{job.rows_synced:,}" + (f" ({failed:,} failed)" if failed else "")


def _job_of(outcome: Outcome) -> SyncJob | None:
    return outcome.job if isinstance(outcome, SyncFailed | SyncTimeout) else None


def dashboard_links(
    links: Mapping[str, str | None], names: Mapping[str, str] | None = None
) -> Text | None:
    """The Braze dashboard page of each integration of a table (``links``: id to page), to print
    under it: one line for one page; for several, a line each, labelled with the integration's
    name from ``names`` (its id when the name is unknown). ``None`` when no page is known (a
    custom REST URL, an instance whose dashboard host is not known).

    Examples:
        >>> print(dashboard_links({"abc": "https://dashboard-01.braze.com/integrations/"
        ...                               "cloud_data_ingestion/abc"}))
        Braze dashboard: https://dashboard-01.braze.com/integrations/cloud_data_ingestion/abc
        >>> print(dashboard_links({"abc": None}))
        None
    """
    known = {integration_id: url for integration_id, url in links.items() if url is not None}
    if not known:
        return None
    heading = ("Braze dashboard:", "bold")
    if len(known) == 1:
        [url] = known.values()
        return Text.assemble(heading, " ", url)
    labels = {i: one_line((names or {}).get(i) or i) for i in known}
    width = max(len(label) for label in labels.values())
    lines = (f"\n  {labels[i]:<{width}}  {url}" for i, url in known.items())
    return Text.assemble(heading, *lines)


def integrations_table(integrations: Iterable[Integration]) -> Table:
    """The workspace's integrations."""
    table = _table("integration_id", "name", "type", "warehouse", "last job", "last job start")
    for item in integrations:
        _add_row(
            table,
            item.integration_id,
            item.integration_name,
            item.integration_type,
            item.warehouse_type,
            item.last_job_status,
            _time(item.last_job_start_time),
        )
    return table


def jobs_table(jobs: Iterable[SyncJob]) -> Table:
    """Sync jobs, one row each."""
    table = _table("status", "started", "finished", "duration", "rows synced", "rows failed")
    for job in jobs:
        status = str(job.job_status)
        _add_row(
            table,
            Text(status, style=_STYLES.get(status, _FAILED_STYLE)),
            _time(job.sync_start_time),
            _time(job.sync_finish_time),
            _seconds(None if job.duration is None else job.duration.total_seconds()),
            _count(job.rows_synced),
            _count(job.rows_failed_with_errors),
        )
    return table


def results_table(
    ids: Sequence[str],
    outcomes: Sequence[Outcome],
    names: Mapping[str, str] | None = None,
    waited: Mapping[str, float] | None = None,
) -> Table:
    """How each sync ended: the values of ``SyncResult.record()``, or the error's status, the
    last job seen, the seconds spent on it (``waited``) and whether it was triggered.

    A name column shows the ``names`` known (Braze's ``integration_name`` of an id).
    """
    columns = ["integration_id", "status", "rows synced", "rows failed", "duration", "waited"]
    table = _table(*(["name"] if names else []), *columns, "triggered")
    for integration_id, outcome in zip(ids, outcomes, strict=True):
        name = [names.get(integration_id)] if names else []
        if isinstance(outcome, SyncResult):
            row = outcome.record()
            _add_row(
                table,
                *name,
                integration_id,
                status_of(outcome),
                _count(row["rows_synced"]),
                _count(row["rows_failed_with_errors"]),
                _seconds(row["duration_seconds"]),
                _seconds(row["waited_seconds"]),
                _triggered(outcome.triggered),
            )
        else:
            job = _job_of(outcome)
            duration = None if job is None or job.duration is None else job.duration
            handle = handle_of(outcome)
            _add_row(
                table,
                *name,
                integration_id,
                status_of(outcome),
                _count(None if job is None else job.rows_synced),
                _count(None if job is None else job.rows_failed_with_errors),
                _seconds(None if duration is None else duration.total_seconds()),
                _seconds(None if waited is None else waited.get(integration_id)),
                _triggered(None if handle is None else handle.triggered),
            )
    return table


def _triggered(triggered: bool | None) -> str:
    return {True: "yes", False: "no (attached)", None: ""}[triggered]


def handles_table(
    ids: Sequence[str], outcomes: Sequence[Outcome], names: Mapping[str, str] | None = None
) -> Table:
    """What each trigger did, and the job it follows on from (with the ``names`` known)."""
    table = _table(*(["name"] if names else []), "integration_id", "status", "previous job started")
    for integration_id, outcome in zip(ids, outcomes, strict=True):
        previous = outcome.previous_job if isinstance(outcome, SyncHandle) else None
        _add_row(
            table,
            *([names.get(integration_id)] if names else []),
            integration_id,
            status_of(outcome),
            _time(None if previous is None else previous.sync_start_time),
        )
    return table


def _table(*headers: str) -> Table:
    table = Table(header_style="bold")
    for header in headers:
        table.add_column(header, no_wrap=header in ("integration_id", "status"))
    return table


def _add_row(table: Table, *cells: Text | str | None) -> None:
    # Plain text, never markup: names and ids come from Braze and from the command line.
    table.add_row(*(cell if isinstance(cell, Text) else Text(cell or "") for cell in cells))


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else ""


def _seconds(value: object) -> str:
    return f"{value:.1f}s" if isinstance(value, int | float) else ""


def _time(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
