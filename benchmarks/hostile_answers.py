"""What a hostile answer costs the client: CPU to read the message of a 1 MB error page built to
make a regex quadratic, and memory to refuse a body that never ends.

Both go through the real client and an in-memory transport, so the network is not measured.
The CPU figure is a ratio against an ordinary page of the same size read the same way.
"""

from __future__ import annotations

import contextlib
import time
import tracemalloc
from collections.abc import Iterator

import httpx

from braze_cdi import BrazeCDIClient, BrazeCDIError, RetryPolicy

from ._report import Figure, alternate

KEY = "benchmark-key-0123456789abcdef0123"
SIZE = 1_000_000
#: Unclosed tags: a lazy regex for <title>(.*?)</title> rescans the rest at each one.
ADVERSARIAL = b"<title>" * (SIZE // 7)
ORDINARY = b"<html><head><title>Bad gateway</title></head><body>" + b"x" * SIZE + b"</body>"


def _cpu_to_read(page: bytes) -> float:
    transport = httpx.MockTransport(lambda _: httpx.Response(502, content=page))
    with BrazeCDIClient(
        KEY, "US-01", transport=transport, rate_limits=None, retry=RetryPolicy(max_attempts=1)
    ) as client:
        began = time.process_time()
        with contextlib.suppress(BrazeCDIError):
            list(client.list_integrations())
        return time.process_time() - began


class _Endless(httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        while True:
            yield b"[" * 65536  # a new chunk each time, as off a socket


def _peak_reading_endless() -> tuple[int, str]:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, stream=_Endless()))
    with BrazeCDIClient(
        KEY, "US-01", transport=transport, rate_limits=None, retry=RetryPolicy(max_attempts=1)
    ) as client:
        tracemalloc.start()
        try:
            list(client.list_integrations())
            outcome = "read to the end (!)"
        except BrazeCDIError as error:
            outcome = type(error).__name__
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, outcome


def run() -> list[Figure]:
    adversarial, ordinary = alternate(
        lambda: _cpu_to_read(ADVERSARIAL), lambda: _cpu_to_read(ORDINARY), rounds=5
    )
    peak, outcome = _peak_reading_endless()
    return [
        Figure(
            "message of a 1 MB adversarial HTML page: CPU vs an ordinary 1 MB page",
            f"{adversarial * 1000:.1f} ms vs {ordinary * 1000:.1f} ms "
            f"({adversarial / ordinary:.2f}x)",
            "< 3x (linear)",
            adversarial < 3 * ordinary,
        ),
        Figure(
            "peak memory reading an endless body",
            f"{peak / 2**20:.1f} MiB, then {outcome}",
            "< 8 MiB",
            peak < 8 * 2**20,
        ),
    ]


if __name__ == "__main__":
    from ._report import table

    print(table(run()))
