"""forward_logs: the core's records reach a run log, and only the block's own."""

from __future__ import annotations

import asyncio
import logging

import pytest

from braze_cdi._logging import forward_logs

core = logging.getLogger("braze_cdi")


class RunLog:
    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []

    def log(self, level: int, msg: str) -> None:
        self.lines.append((level, msg))


def test_records_reach_the_run_log_at_its_level() -> None:
    run_log = RunLog()
    with forward_logs(run_log):
        core.debug("a poll")
        core.info("job is running")
        core.warning("odd status")
    core.info("after the block")
    assert run_log.lines == [(logging.INFO, "job is running"), (logging.WARNING, "odd status")]


def test_other_handlers_see_no_more_than_before(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "braze_cdi")
    with forward_logs(RunLog()):
        core.info("for the run log only")
        core.warning("for everyone")
    assert [r.getMessage() for r in caplog.records] == ["for everyone"]
    assert core.level == logging.WARNING  # restored


def test_concurrent_blocks_get_only_their_own_records() -> None:
    first, second = RunLog(), RunLog()

    async def sync(run_log: RunLog, name: str) -> None:
        with forward_logs(run_log):
            for step in range(3):
                core.info("%s step %d", name, step)
                await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(sync(first, "first"), sync(second, "second"))

    asyncio.run(main())
    assert [msg for _, msg in first.lines] == ["first step 0", "first step 1", "first step 2"]
    assert [msg for _, msg in second.lines] == ["second step 0", "second step 1", "second step 2"]
