"""Every cell of the fault matrix (``matrix.py``): a fault, an operation, a client, over real
loopback HTTP on a virtual clock; and the copy of the matrix in the docs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import matrix
from .fakes import Switchboard


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Switchboard, str]]:
    """One loopback server for every cell; each cell points it at its own fake."""
    switchboard = Switchboard()
    with switchboard.serve() as url:
        yield switchboard, url


@pytest.mark.parametrize(
    ("fault", "operation", "client"),
    [
        pytest.param(fault, operation, client, id=f"{fault.slug}-{operation}-{client}")
        for fault, operation, client in matrix.cells()
    ],
)
def test_cell(
    fault: matrix.Fault,
    operation: str,
    client: str,
    served: tuple[Switchboard, str],
    record_property: pytest.RecordProperty,
) -> None:
    record_property("matrix_cell", (fault.name, operation, client))
    scene = matrix.Scene()
    fault.arrange(scene, matrix.OPERATIONS[operation])
    switchboard, url = served
    switchboard.current = scene.fake
    ran = matrix.run(scene, url, fault, operation, client)
    matrix.check(scene, fault, operation, ran)


def test_the_docs_hold_the_current_matrix() -> None:
    assert matrix.documented_table() == matrix.table(), (
        f"docs/reliability.md is out of date; regenerate it: {matrix.REGENERATE}"
    )
