"""A measured figure, and the table they are printed in."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    measured: str
    target: str
    met: bool


def alternate(
    first: Callable[[], float], second: Callable[[], float], rounds: int
) -> tuple[float, float]:
    """Median of ``rounds`` runs of each, interleaved (first, second, first, ...)."""
    a, b = [], []
    for _ in range(rounds):
        a.append(first())
        b.append(second())
    return statistics.median(a), statistics.median(b)


def table(figures: list[Figure]) -> str:
    rows = [
        ("benchmark", "measured", "target", "met"),
        *((f.name, f.measured, f.target, "yes" if f.met else "NO") for f in figures),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
