"""The command's exit codes, and which one an outcome earns."""

from __future__ import annotations

import enum
from collections.abc import Iterable

__all__ = ["EXIT_CODES_HELP", "ExitCode", "exit_code_for", "worst_exit_code"]


class ExitCode(enum.IntEnum):
    """What ``braze-cdi`` exits with.

    Examples:
        >>> from braze_cdi import SyncTimeout
        >>> exit_code_for(SyncTimeout("ran out", integration_id="abc", job=None))
        <ExitCode.TIMEOUT: 3>
    """

    OK = 0
    FAILED = 1
    USAGE = 2
    TIMEOUT = 3
    INTERRUPTED = 130


EXIT_CODES_HELP = """\
**Exit codes**

* 0: success.
* 1: a sync failed, or Braze refused the call or could not be reached.
* 2: bad usage or configuration; nothing was sent to Braze.
* 3: a wait timed out; the sync may still be running (Braze has no cancel call).
* 130: interrupted.

With several integration ids the most serious outcome wins: 2 if an id is invalid, else 1 if a
sync failed, else 3 if a wait timed out, else 0."""

# A failure is definite news and a timeout is not, so a failure outranks a timeout.
_PRECEDENCE = (ExitCode.USAGE, ExitCode.FAILED, ExitCode.TIMEOUT)


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code one error earns."""
    from .. import BrazeConfigError, SyncTimeout  # noqa: PLC0415 (not for `--help`)

    if isinstance(error, BrazeConfigError):
        return ExitCode.USAGE
    if isinstance(error, SyncTimeout):
        return ExitCode.TIMEOUT
    return ExitCode.FAILED


def worst_exit_code(outcomes: Iterable[object]) -> ExitCode:
    """The exit code of several outcomes: the most serious one any error earns, else OK.

    Examples:
        >>> from braze_cdi import SyncFailed, SyncJob, SyncTimeout
        >>> failed = SyncFailed("ended error", integration_id="a", job=SyncJob(job_status="error"))
        >>> timed_out = SyncTimeout("ran out", integration_id="b", job=None)
        >>> worst_exit_code(["a result", timed_out, failed])
        <ExitCode.FAILED: 1>
    """
    codes = {exit_code_for(item) for item in outcomes if isinstance(item, BaseException)}
    return next((code for code in _PRECEDENCE if code in codes), ExitCode.OK)
