"""What `import braze_cdi` adds to `import httpx, pydantic` (fresh interpreters)."""

from __future__ import annotations

import subprocess
import sys
import time

from ._report import Figure, alternate


def _import_seconds(modules: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {modules}"], check=True)
    return time.perf_counter() - started


# `import pydantic` alone is lazy: its model machinery (pydantic.main, .fields, .types) loads when
# the first model class is defined, and costs more than all of braze_cdi. So the import is measured
# against both baselines: the one the target names, and a program defining one model of its own.
PYDANTIC_IN_USE = (
    "httpx, pydantic; type('M', (pydantic.BaseModel,), {'__annotations__': {'x': int}})"
)


def run(rounds: int = 25) -> list[Figure]:
    base, ours = alternate(
        lambda: _import_seconds("httpx, pydantic"),
        lambda: _import_seconds("httpx, pydantic, braze_cdi"),
        rounds,
    )
    base_in_use, ours_again = alternate(
        lambda: _import_seconds(PYDANTIC_IN_USE),
        lambda: _import_seconds("httpx, pydantic, braze_cdi"),
        rounds,
    )
    added, added_in_use = (ours - base) * 1000, (ours_again - base_in_use) * 1000
    return [
        Figure(
            "import braze_cdi vs httpx + pydantic (lazy)",
            f"+{added:.1f} ms ({base * 1000:.0f} -> {ours * 1000:.0f} ms, median of {rounds})",
            "< 60 ms",
            added < 60,
        ),
        Figure(
            "import braze_cdi vs httpx + one pydantic model",
            f"+{added_in_use:.1f} ms ({base_in_use * 1000:.0f} -> {ours_again * 1000:.0f} ms)",
            "< 60 ms",
            added_in_use < 60,
        ),
    ]
