"""Sending the core's log records to an orchestrator's run log (used by both adapters)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

__all__ = ["RunLog", "forward_logs"]

logger = logging.getLogger("braze_cdi")


class RunLog(Protocol):
    """Anything with ``log(level, message)``: a ``logging.Logger`` or adapter (Prefect's run
    logger), Dagster's ``context.log``."""

    def log(self, level: int, msg: str) -> object: ...


_target: ContextVar[tuple[RunLog, int] | None] = ContextVar("braze_cdi_run_log", default=None)


class _Installed:
    """How many blocks forward now, and the level to restore when the last one ends."""

    lock = threading.Lock()
    count = 0
    level_before = logging.NOTSET
    effective_before = logging.WARNING


class _Forward(logging.Filter):
    # A filter on the logger sees every record first: it forwards what the block asked for,
    # and lets on to the usual handlers only what they would have had anyway.
    def filter(self, record: logging.LogRecord) -> bool:
        target = _target.get()
        if target is not None and record.levelno >= target[1]:
            target[0].log(record.levelno, record.getMessage())
        return record.levelno >= _Installed.effective_before


_forward = _Forward()


@contextmanager
def forward_logs(run_log: RunLog, level: int = logging.INFO) -> Iterator[None]:
    """While the block runs, records of logger ``braze_cdi`` at ``level`` or above made in this
    thread or task also go to ``run_log``. Concurrent blocks each get only their own records;
    other handlers see no more of ``braze_cdi`` than before."""
    token = _target.set((run_log, level))
    with _Installed.lock:
        if _Installed.count == 0:
            _Installed.level_before = logger.level
            _Installed.effective_before = logger.getEffectiveLevel()
            logger.addFilter(_forward)
        _Installed.count += 1
        if logger.getEffectiveLevel() > level:
            logger.setLevel(level)
    try:
        yield
    finally:
        _target.reset(token)
        with _Installed.lock:
            _Installed.count -= 1
            if _Installed.count == 0:
                logger.removeFilter(_forward)
                logger.setLevel(_Installed.level_before)
