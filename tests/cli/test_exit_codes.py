"""Which exit code several outcomes earn together."""

from __future__ import annotations

import pytest

from braze_cdi import (
    BrazeConfigError,
    BrazeServerError,
    SyncFailed,
    SyncJob,
    SyncTimeout,
)
from braze_cdi.cli.exit_codes import ExitCode, worst_exit_code

FAILED = SyncFailed("ended error", integration_id="a", job=SyncJob(job_status="error"))
TIMED_OUT = SyncTimeout("ran out", integration_id="b", job=None)
REFUSED = BrazeServerError("Bad gateway", status_code=502)
INVALID = BrazeConfigError("Invalid integration id")


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        (["a result", "another"], ExitCode.OK),
        (["a result", TIMED_OUT], ExitCode.TIMEOUT),
        ([TIMED_OUT, FAILED], ExitCode.FAILED),
        ([TIMED_OUT, REFUSED], ExitCode.FAILED),
        ([FAILED, INVALID, TIMED_OUT], ExitCode.USAGE),
    ],
)
def test_the_most_serious_outcome_sets_the_exit_code(
    outcomes: list[object], expected: ExitCode
) -> None:
    assert worst_exit_code(outcomes) == expected
