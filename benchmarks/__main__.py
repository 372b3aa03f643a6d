"""Run the performance suite and print its table: ``uv run python -m benchmarks``."""

from __future__ import annotations

import sys

from . import (
    fan_out,
    hostile_answers,
    import_cost,
    listing,
    multiprocess_assets,
    request_overhead,
    soak,
    status_calls,
)
from ._report import table


def main() -> int:
    figures = []
    for module in (
        import_cost,
        request_overhead,
        fan_out,
        status_calls,
        listing,
        hostile_answers,
        soak,
        multiprocess_assets,
    ):
        print(f"running {module.__name__} ...", file=sys.stderr, flush=True)
        figures += module.run()
    print(table(figures))
    return 0 if all(f.met for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
