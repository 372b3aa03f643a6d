"""A deadline for every socket operation of the sync client.

httpx's timeouts bound each read, not the exchange: a server sending a byte a second never trips
them. The async client bounds the whole exchange with a timeout scope; the sync client cannot
interrupt a blocking read, so every connect, read and write of its connections is given at most
the time left to the exchange in progress. The deadline is a context variable, so threads
sharing a client each keep their own. Imported when a sync client opens; httpcore is imported
only when one of the client's transports has a connection pool (httpx imported it then anyway),
so a client on an in-process transport such as ``FakeBraze`` never loads it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

if TYPE_CHECKING:
    import httpcore

__all__ = ["bound_network", "exchange_deadline"]

_deadline: ContextVar[float | None] = ContextVar("braze_cdi_exchange_deadline", default=None)


@contextmanager
def exchange_deadline(deadline: float) -> Iterator[None]:
    """While the block runs, this thread's connections end their work by ``deadline``
    (``time.monotonic``)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the exchange ran out of time")
    return left if timeout is None else min(timeout, left)


@functools.cache
def _binder() -> Callable[[object], httpcore.NetworkBackend | None]:
    """What gives a pool's network backend the deadline: the backend to put in its place, or
    ``None`` when there is nothing to do. Defined on first use: its classes are httpcore's, and
    httpcore is loaded by then (a connection pool is being bound)."""
    import httpcore  # noqa: PLC0415

    class _BoundStream(httpcore.NetworkStream):
        def __init__(self, stream: httpcore.NetworkStream) -> None:
            self._stream = stream

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

        def close(self) -> None:
            self._stream.close()

        def start_tls(
            self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
        ) -> httpcore.NetworkStream:
            return _BoundStream(
                self._stream.start_tls(
                    ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)
                )
            )

        def get_extra_info(self, info: str) -> Any:
            return self._stream.get_extra_info(info)

    class _BoundBackend(httpcore.NetworkBackend):
        def __init__(self, backend: httpcore.NetworkBackend) -> None:
            self._backend = backend

        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> httpcore.NetworkStream:
            return _BoundStream(
                self._backend.connect_tcp(
                    host,
                    port,
                    _left(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            )

        def connect_unix_socket(
            self, path: str, timeout: float | None = None, socket_options: Any = None
        ) -> httpcore.NetworkStream:
            return _BoundStream(
                self._backend.connect_unix_socket(
                    path, _left(timeout, httpcore.ConnectTimeout), socket_options
                )
            )

        def sleep(self, seconds: float) -> None:
            time.sleep(seconds)

    def bind(backend: object) -> httpcore.NetworkBackend | None:
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, _BoundBackend):
            return _BoundBackend(backend)
        return None

    return bind


H = TypeVar("H", bound=httpx.Client)


def bound_network(client: H) -> H:
    """Give every connection ``client`` opens itself (direct or through a proxy from the
    environment) the exchange's deadline. httpx has no public seam for a network backend, so
    this reaches into its transports; a test fails if an httpx release moves them."""
    transports = [client._transport, *client._mounts.values()]
    pools = [pool for t in transports if (pool := getattr(t, "_pool", None)) is not None]
    if not pools:
        return client  # in-process transports only (FakeBraze): no connection to bound
    bind = _binder()
    for pool in pools:
        bound = bind(getattr(pool, "_network_backend", None))
        if bound is not None:
            pool._network_backend = bound
    return client
