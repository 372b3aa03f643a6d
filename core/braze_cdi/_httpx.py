"""httpx, imported without its own command line.

When click, rich and pygments are installed (braze-cdi's command line brings them), httpx's
``__init__`` imports ``httpx._main``, its command-line client, which imports rich: about 40% of
what ``import braze_cdi`` would cost, for a feature braze-cdi never uses. The first import of
httpx in the process goes through here and finds that module blocked, so httpx falls back to
its stub ``main``; the block is lifted at once, so ``import httpx._main`` still works later.
A process that imported httpx before braze-cdi (Prefect, Dagster) is left as it is.
"""

from __future__ import annotations

import sys

if "httpx" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]  # an import of it fails
    try:
        import httpx  # noqa: F401
    finally:
        del sys.modules["httpx._main"]
