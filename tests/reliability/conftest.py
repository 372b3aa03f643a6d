"""Prints the fault matrix at the end of the run, each cell marked with how its runs went."""

from __future__ import annotations

from collections import defaultdict

import pytest

from . import matrix

#: (fault, operation) -> {client: passed}, filled as the matrix's cells report.
_outcomes: dict[tuple[str, str], dict[str, bool]] = defaultdict(dict)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    cell = dict(report.user_properties).get("matrix_cell")
    if cell is None or (report.when != "call" and report.passed):
        return
    fault, operation, client = cell
    if report.when == "call" or report.failed:
        _outcomes[(fault, operation)][client] = report.passed


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _outcomes:
        return
    marks = {}
    for key, by_client in _outcomes.items():
        failed = [client for client, passed in by_client.items() if not passed]
        marks[key] = f" **FAILED ({', '.join(failed)})**" if failed else " ✓"
    cells = sum(len(by_client) for by_client in _outcomes.values())
    passed = sum(sum(by_client.values()) for by_client in _outcomes.values())
    terminalreporter.section("fault matrix")
    terminalreporter.write_line(
        f"{passed} of {cells} cells passed (✓: every client that ran the cell; "
        f"sync and async, sync_many async only)"
    )
    terminalreporter.write_line(matrix.table(marks))
