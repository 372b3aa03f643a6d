"""A deadline for every socket operation of the sync client.

httpx's timeouts bound each read, not the exchange: a server sending a byte a second never trips
them. The async client bounds the whole exchange with a timeout scope; the sync client cannot
interrupt a blocking read, so every connect, read and write of its connections is given at most
the time left to the exchange in progress. The deadline is a context variable, so threads
sharing a client each keep their own. Imported when a sync client opens (httpx imports httpcore
then anyway).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import httpcore
import httpx

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
                host, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
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


H = TypeVar("H", bound=httpx.Client)


def bound_network(client: H) -> H:
    """Give every connection ``client`` opens itself (direct or through a proxy from the
    environment) the exchange's deadline. httpx has no public seam for a network backend, so
    this reaches into its transports; a test fails if an httpx release moves them."""
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, _BoundBackend):
            pool._network_backend = _BoundBackend(backend)  # type: ignore[union-attr]
    return client
