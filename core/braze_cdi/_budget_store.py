"""Rate budgets that every process of one machine shares: a few rows of a SQLite file.

Each budget is up to ``calls`` rows, one per slot: when the slot frees (``free_at``), and
whether a request holds it (``leased``; ``free_at`` is then when the lease ends at the latest).
Times are the monotonic clock, which all processes of a machine share. A lease ends by itself,
so a process killed while it holds a slot costs that slot only until its lease runs out; a time
further ahead than any budget can reach (``horizon``) comes from before the machine restarted,
and counts as past.

Every change is one short ``BEGIN IMMEDIATE`` transaction: processes take turns, and none sees
a slot half taken. Nothing here is worth keeping through a power cut, so nothing is synced, and
a file of another layout is started afresh.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

__all__ = ["SlotStore", "StoreUnavailable", "state_directory"]

_LAYOUT = 1  # the file's user_version: another one is dropped and made again
# ``budgets``: how many slots each budget has made so far, and until when Braze said to hold
# them all.
_SCHEMA = """
DROP TABLE IF EXISTS slots;
DROP TABLE IF EXISTS budgets;
CREATE TABLE slots (
    budget TEXT NOT NULL, slot INTEGER NOT NULL, free_at REAL NOT NULL, leased INTEGER NOT NULL,
    PRIMARY KEY (budget, slot)
);
CREATE INDEX slots_by_time ON slots (budget, free_at);
CREATE TABLE budgets (budget TEXT PRIMARY KEY, slots INTEGER NOT NULL, hold REAL NOT NULL);
"""
_LONG_AGO = -1e300


def state_directory() -> Path:
    """Where braze-cdi keeps its state on this machine: ``BRAZE_CDI_STATE_DIR``, else
    ``$XDG_STATE_HOME/braze-cdi``, else ``~/.local/state/braze-cdi``."""
    if chosen := os.environ.get("BRAZE_CDI_STATE_DIR"):
        return Path(chosen)
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "braze-cdi"


class StoreUnavailable(Exception):
    """The store's file cannot be opened or written (the kind of error says why)."""


@contextmanager
def _failures_as_unavailable() -> Iterator[None]:
    import sqlite3  # noqa: PLC0415 (imported once the store is used)

    try:
        yield
    except (OSError, sqlite3.Error) as error:
        raise StoreUnavailable(f"{type(error).__name__}: {error}") from error


def _write_ahead(db: sqlite3.Connection) -> None:
    """Put the file in write-ahead mode. Processes that open a new file at the same moment race
    to switch it, and SQLite refuses the losers at once ("database is locked") rather than
    making them wait: they try again, and find it switched."""
    import sqlite3  # noqa: PLC0415

    for attempt in range(1, 41):
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == 40:
                raise
            time.sleep(0.005 * attempt)  # 4 s in all, at most


class SlotStore:
    """The slots of every budget, in one SQLite file; opened on first use. Every method
    raises ``StoreUnavailable`` when the file cannot be used."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self, now: float) -> sqlite3.Connection:
        if self._db is None:
            import sqlite3  # noqa: PLC0415 (only budgets shared between processes need it)

            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            db = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            try:
                _write_ahead(db)
            except BaseException:
                db.close()
                raise
            db.execute("PRAGMA synchronous=OFF")
            db.execute("BEGIN IMMEDIATE")
            try:
                if db.execute("PRAGMA user_version").fetchone()[0] != _LAYOUT:
                    for statement in _SCHEMA.split(";"):
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version = {_LAYOUT}")
                else:
                    # A budget whose every slot is free is as good as none: forget it.
                    db.execute(
                        "DELETE FROM slots WHERE budget IN (SELECT budget FROM slots GROUP BY "
                        "budget HAVING max(leased) = 0 AND max(free_at) < ?)",
                        (now,),
                    )
                    db.execute(
                        "DELETE FROM budgets WHERE hold < ? AND budget NOT IN "
                        "(SELECT budget FROM slots)",
                        (now,),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._db = db
        return self._db

    def take(
        self, budget: str, calls: int, now: float, lease: float, horizon: float
    ) -> tuple[int, float, float, float] | None:
        """Lease the slot of ``budget`` that frees first, for ``lease`` seconds from when the
        request may be sent.

        Returns the slot, when it frees, when the request may be sent (also after Braze said
        to hold every slot), and when the lease ends; or ``None`` while every slot is leased.
        A leased slot's ``free_at`` is its lease's end, so the slot of a process that died
        frees by itself. Slots are made as they are first needed, so a budget of many calls
        costs no more than one of few.
        """
        with self._lock, _failures_as_unavailable():
            db = self._connection(now)
            db.execute("BEGIN IMMEDIATE")
            try:
                best = db.execute(
                    "SELECT slot, free_at FROM slots WHERE budget = ? AND (leased = 0 OR "
                    "free_at <= ? OR free_at > ?) ORDER BY free_at LIMIT 1",
                    (budget, now, now + horizon),
                ).fetchone()
                made, held = db.execute(
                    "SELECT slots, hold FROM budgets WHERE budget = ?", (budget,)
                ).fetchone() or (0, _LONG_AGO)
                if held > now + horizon:
                    held = _LONG_AGO  # from before the machine restarted
                if best is not None and best[1] > now + horizon:
                    best = (best[0], _LONG_AGO)
                if made < calls and (best is None or best[1] > now):
                    best, start = (made, _LONG_AGO), max(now, held)
                    db.execute(
                        "INSERT INTO slots VALUES (?, ?, ?, 1)", (budget, made, start + lease)
                    )
                    db.execute(
                        "INSERT INTO budgets VALUES (?, 1, ?) ON CONFLICT (budget) "
                        "DO UPDATE SET slots = slots + 1",
                        (budget, _LONG_AGO),
                    )
                elif best is not None:
                    start = max(now, best[1], held)
                    db.execute(
                        "UPDATE slots SET free_at = ?, leased = 1 WHERE budget = ? AND slot = ?",
                        (start + lease, budget, best[0]),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        if best is None:
            return None
        return best[0], best[1], start, start + lease

    def give_back(self, budget: str, slot: int, lease_until: float, free_at: float) -> None:
        """End the lease that runs until ``lease_until``: the slot frees at ``free_at``."""
        with self._lock, _failures_as_unavailable():
            self._connection(free_at).execute(
                "UPDATE slots SET free_at = ?, leased = 0 "
                "WHERE budget = ? AND slot = ? AND leased = 1 AND free_at = ?",
                (free_at, budget, slot, lease_until),
            )

    def hold(self, budget: str, calls: int, until: float, now: float, horizon: float) -> None:
        """Hold every slot of ``budget`` until ``until``, if a slot is free at ``now``: Braze
        says the window is used up, and it is not this machine's doing."""
        with self._lock, _failures_as_unavailable():
            db = self._connection(now)
            db.execute("BEGIN IMMEDIATE")
            try:
                made, held = db.execute(
                    "SELECT slots, hold FROM budgets WHERE budget = ?", (budget,)
                ).fetchone() or (0, _LONG_AGO)
                free = db.execute(
                    "SELECT 1 FROM slots WHERE budget = ? AND leased = 0 AND free_at <= ? LIMIT 1",
                    (budget, now),
                ).fetchone()
                if free is not None or made < calls:
                    held = until if held > now + horizon else max(held, until)
                    db.execute(
                        "INSERT INTO budgets VALUES (?, 0, ?) ON CONFLICT (budget) "
                        "DO UPDATE SET hold = excluded.hold",
                        (budget, held),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
