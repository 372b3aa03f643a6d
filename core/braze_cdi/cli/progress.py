"""A live view of syncs in flight, one line per integration, fed by the sync's events.

Each integration's sync runs in its own asyncio task with its line as the ``on_event``
subscriber, so what the client tells of that sync (triggered, running, ended ...) lands on that
integration's line. On a terminal the lines update in place; elsewhere (a pipe, a CI log) each
event the log would show at INFO or above becomes a line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TypeVar

from rich.console import Console, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from ..events import OnEvent, SyncEvent
from .output import Outcome, one_line, rows_of, status_of

__all__ = ["SyncBoard"]

T = TypeVar("T", bound=Outcome)


class _Line:
    """One integration's line; its sync's ``on_event`` subscriber."""

    def __init__(self, board: SyncBoard, integration_id: str, label: str) -> None:
        self.board = board
        self.integration_id = integration_id
        self.label = label
        self.started = time.monotonic()
        self.ended: float | None = None
        self.message = Text()  # the last event, as the log words it
        self.event = Text()  # ... and without the name the line already shows
        self.outcome: Outcome | None = None
        self.spinner = Spinner("dots", style="cyan")

    def on_event(self, event: SyncEvent) -> None:
        level = event.level
        if level is None or level < logging.INFO:
            return
        style = "yellow" if level >= logging.WARNING else ""
        self.message = Text(self._named(event.message(self.label)), style=style)
        self.event = Text(self._named(event.summary), style=style)
        self.board.changed(self)

    def _named(self, text: str) -> str:
        # An error Braze or the client worded may name the integration by its id too.
        return one_line(text).replace(self.integration_id, self.label)

    @property
    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started


class SyncBoard:
    """Runs one coroutine per integration concurrently and shows how each is doing.

    Args:
        console: Where to show the lines (updated in place on a terminal).
        labels: What to call each integration id on its line (the id itself by default).
        busy: The status shown while a coroutine runs.

    Examples:
        >>> import asyncio
        >>> from braze_cdi import SyncHandle
        >>> from rich.console import Console
        >>> async def trigger(integration_id, on_event):
        ...     return SyncHandle(integration_id=integration_id, triggered=True)
        >>> board = SyncBoard(Console(force_terminal=False), {"abc": "users"}, busy="triggering")
        >>> handles = asyncio.run(board.run(["abc"], trigger))
          0.0s  users: triggered
        >>> handles[0].triggered
        True
    """

    def __init__(
        self, console: Console, labels: dict[str, str] | None = None, *, busy: str = "syncing"
    ) -> None:
        self.console = console
        self.labels = dict(labels or {})
        self.busy = busy
        self.lines: list[_Line] = []
        self._live: Live | None = None

    async def run(
        self, integration_ids: Sequence[str], work: Callable[[str, OnEvent], Awaitable[T]]
    ) -> list[T | Exception]:
        """``work(id, on_event)`` for every id at once, ``on_event`` feeding the id's line;
        every outcome (result or error) in input order."""
        self.lines = [_Line(self, i, self.labels.get(i, i)) for i in integration_ids]
        with self._showing():
            return list(await asyncio.gather(*(self._one(line, work) for line in self.lines)))

    async def _one(
        self, line: _Line, work: Callable[[str, OnEvent], Awaitable[T]]
    ) -> T | Exception:
        outcome: T | Exception
        try:
            outcome = await work(line.integration_id, line.on_event)
        except Exception as error:  # every outcome is shown, none cancels the others
            outcome = error
        line.outcome, line.ended = outcome, time.monotonic()
        # The board only shows: a console that cannot be written to (standard error on a full
        # disk, a closed pipe) changes no outcome. Inside a sync, the core's subscriber rule
        # holds the same for the line's on_event.
        with suppress(OSError):
            self.changed(line)
        return outcome

    def relabel(self, labels: dict[str, str]) -> None:
        """Call integrations by new names from now on (names learnt while the syncs run)."""
        self.labels.update(labels)
        for line in self.lines:
            line.label = self.labels.get(line.integration_id, line.label)
        if self._live is not None:
            self._live.refresh()

    def elapsed(self) -> dict[str, float]:
        """The seconds each integration's coroutine has taken (so far, for one that runs)."""
        return {line.integration_id: line.elapsed for line in self.lines}

    def changed(self, line: _Line) -> None:
        """Show news of one line: in place on a terminal, as a printed line elsewhere."""
        if self._live is not None:
            self._live.refresh()
        elif line.outcome is None:
            self.console.print(Text.assemble(_clock(line), line.message), soft_wrap=True)
        else:
            rows = rows_of(line.outcome)
            self.console.print(
                Text.assemble(
                    _clock(line),
                    (line.label, "bold"),
                    ": ",
                    status_of(line.outcome),
                    f", rows: {rows}" if rows else "",
                ),
                soft_wrap=True,
            )

    @contextmanager
    def _showing(self) -> Iterator[None]:
        if not self.console.is_terminal:
            yield
            return
        with Live(get_renderable=self.render, console=self.console, refresh_per_second=8) as live:
            self._live = live
            try:
                yield
            finally:
                self._live = None

    def render(self) -> RenderableType:
        """The lines as a table."""
        table = Table.grid(padding=(0, 2))
        for justify in ("left", "left", "left", "right", "right", "left"):
            table.add_column(justify=justify)
        for line in self.lines:
            icon: RenderableType
            if line.outcome is None:
                icon, status = line.spinner, Text(self.busy, style="cyan")
            else:
                status = status_of(line.outcome)
                mark = "✖" if isinstance(line.outcome, Exception) else "✔"
                icon = Text(mark, style=status.style)
            table.add_row(
                icon,
                Text(line.label, style="bold"),
                status,
                f"{line.elapsed:5.1f}s",
                Text(rows_of(line.outcome) if line.outcome is not None else ""),
                Text.assemble(line.event, style="dim", overflow="ellipsis", no_wrap=True),
            )
        return table


def _clock(line: _Line) -> str:
    return f"{line.elapsed:5.1f}s  "
