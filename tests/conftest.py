"""Fixtures shared by every test folder: a FakeBraze served on real loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from braze_cdi.testing import FakeBraze


@pytest.fixture
def fake() -> FakeBraze:
    return FakeBraze()


@pytest.fixture
def url(fake: FakeBraze) -> Iterator[str]:
    with fake.serve() as served:
        yield served
