"""httpx, imported without its own command line.

When click, rich and pygments are installed (braze-cdi's command line brings them), httpx's
``__init__`` imports ``httpx._main``, its command-line client, which imports rich: about 40% of
what the client of braze-cdi costs to import, for a feature braze-cdi never uses. Importing this
module (``import braze_cdi`` does) puts a finder first on ``sys.meta_path`` that refuses the
first import of ``httpx._main``, the one httpx's own ``__init__`` makes whenever httpx is first
imported (by braze-cdi or anyone), so httpx falls back to its stub ``main``; the finder then
removes itself, so ``import httpx._main`` still works later. httpx itself is not imported here:
``braze-cdi --help`` never needs it. A process that imported httpx before braze-cdi (Prefect,
Dagster) is left as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType


class _WithoutCommandLine:
    """A meta path finder that refuses ``httpx._main`` once, then leaves ``sys.meta_path``."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "httpx._main":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


if "httpx" not in sys.modules and not any(
    isinstance(finder, _WithoutCommandLine) for finder in sys.meta_path
):
    sys.meta_path.insert(0, _WithoutCommandLine())
