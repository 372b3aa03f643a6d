"""The Braze workspace the documentation's examples talk to: a FakeBraze on loopback.

A page's examples are written as a reader runs them against their own workspace: they read
``BRAZE_API_KEY`` and ``BRAZE_REST_ENDPOINT`` and sync the integration ids the pages use. For the
time a page runs, those two variables point at this fake, which holds those integrations.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Any

from braze_cdi.cli.sample import SAMPLES
from braze_cdi.testing import FakeBraze

__all__ = ["INTEGRATIONS", "Workspace", "close_workspace", "open_workspace"]

#: The integration ids the pages use, and what each one is called in the fake: those of the
#: workspace `braze-cdi fake` serves, so that a reader can run every example against it as
#: written (tests/cli/test_fake_and_demo.py checks that the pages use no other id).
INTEGRATIONS = {
    sample.integration_id: sample.name
    for sample in SAMPLES
    if sample.name in ("users", "purchases")
}


class Workspace:
    """Serves a fresh fake for one page and sets the environment to it; ``close`` undoes both
    (whatever the page itself set in the environment meanwhile)."""

    def __init__(self) -> None:
        self._saved = dict(os.environ)
        self._stack = ExitStack()
        self.fake = FakeBraze()
        for integration_id, name in INTEGRATIONS.items():
            # Syncs end at once, so the default poll interval of 10 s never comes into play.
            self.fake.add_integration(integration_id, name=name, history=3, duration=0.0)
        url = self._stack.enter_context(self.fake.serve())
        os.environ["BRAZE_API_KEY"] = self.fake.api_key
        os.environ["BRAZE_REST_ENDPOINT"] = url

    def close(self) -> None:
        self._stack.close()
        # Put back only what changed: other threads (Prefect's) may read the environment.
        for name in set(os.environ) - set(self._saved):
            del os.environ[name]
        for name, value in self._saved.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


def open_workspace(namespace: dict[str, Any]) -> None:
    """Sybil's setup of a document."""
    namespace["__workspace__"] = Workspace()
    # The module name of what a page defines (Prefect flows and Dagster assets record it).
    namespace["__name__"] = "__docs__"


def close_workspace(namespace: dict[str, Any]) -> None:
    """Sybil's teardown of a document."""
    namespace.pop("__workspace__").close()
