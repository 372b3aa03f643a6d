"""One HTTP exchange, bounded: where bytes from the network become an answer.

Nothing a server sends is trusted. Each exchange, connect to last byte, ends within its own
number of seconds (a server that trickles a byte a second is cut off); a body is read up to
``MAX_BODY_BYTES`` after decoding (an endless stream or a compression bomb is refused, never
buffered); only the content codings a client asks for are decoded, by this module, so a
corrupt body is an outcome like any other. Whatever goes wrong comes back as an exception
*value*, never raised: the operations decide what it means.

The drivers of both clients run their exchanges through here; only their loops over the body
differ (``for`` and ``async for``).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import httpx

__all__ = [
    "ACCEPT_ENCODING",
    "MAX_BODY_BYTES",
    "BodyReader",
    "ClientClosed",
    "NoAnswer",
    "ResponseTooLarge",
]

MAX_BODY_BYTES = 1 << 20
"""The most bytes one answer may hold once decoded: 1 MiB, about a hundred times a full page of
Braze's ten items. A longer answer is refused as unreadable."""

ACCEPT_ENCODING = "gzip, deflate"
"""The content codings asked for, and the only ones decoded."""

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
# The headers that describe the body on the wire, not the decoded body handed on.
_WIRE_HEADERS = (b"content-encoding", b"content-length", b"transfer-encoding")


@dataclass(frozen=True)
class NoAnswer:
    """An exchange that ended without a usable answer, as a driver hands it on: the kind of
    failure and its text, redacted. The exception itself is not kept, so nothing of its frames
    or its raw text can reach a traceback."""

    kind: type[BaseException]
    detail: str
    # The kind of the exception at the root of ``kind`` (``socket.gaierror`` for a name that
    # does not resolve, ``ssl.SSLError`` for a failed handshake), when another one caused it.
    cause: type[BaseException] | None = None

    @classmethod
    def of(cls, error: BaseException, redact: Callable[[str], str]) -> NoAnswer:
        # Redacted whole, then cut: a cut through the key would leave part of it.
        return cls(type(error), redact(str(error))[:4096], _root_cause(error))


_MAX_CAUSES = 16


def _root_cause(error: BaseException) -> type[BaseException] | None:
    """The kind of the exception that started ``error``'s chain of causes (``raise ... from``,
    or raised while handling another), followed for at most ``_MAX_CAUSES`` links."""
    root: BaseException | None = None
    link = error.__cause__ or error.__context__
    for _ in range(_MAX_CAUSES):
        if link is None:
            break
        root, link = link, link.__cause__ or link.__context__
    return None if root is None else type(root)


class ResponseTooLarge(Exception):
    """The answer's body went past ``MAX_BODY_BYTES``."""


class ClientClosed(Exception):
    """The client was closed before this request could be sent."""


class BodyReader:
    """Decodes and collects a body chunk by chunk, within ``MAX_BODY_BYTES`` and the exchange's
    deadline.

    A longer success is refused; a longer error answer is cut there (only its start can say
    what went wrong). ``full`` tells the driver to stop reading.
    """

    def __init__(self, response: httpx.Response, deadline: float) -> None:
        self._deadline = deadline  # on time.monotonic
        self._parts: list[bytes] = []
        self._size = 0
        self._cut = not response.is_success
        self.full = False
        codings = [
            c.strip().lower()
            for c in response.headers.get("content-encoding", "").split(",")
            if c.strip().lower() not in ("", "identity")
        ]
        if len(codings) > 1 or (codings and codings[0] not in _WBITS):
            raise httpx.DecodingError(
                f"the answer uses a content coding that was not asked for ({len(codings)} "
                "coding(s) other than gzip and deflate)"
            )
        self._decoder = zlib.decompressobj(_WBITS[codings[0]]) if codings else None

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk as it came off the wire."""
        if time.monotonic() > self._deadline:
            raise httpx.ReadTimeout("the answer took longer than the exchange may take")
        if self._decoder is not None:
            try:
                chunk = self._decoder.decompress(chunk, MAX_BODY_BYTES - self._size + 1)
            except zlib.error as exc:
                raise httpx.DecodingError(f"the compressed body is corrupt: {exc}") from None
            if self._decoder.unused_data:  # zlib would keep, and copy, all that follows
                raise httpx.DecodingError("the answer goes on after its compressed body")
        self.decoded(chunk)

    def decoded(self, chunk: bytes) -> None:
        """Take a chunk already decoded (an in-memory transport's answer, read already)."""
        self._size += len(chunk)
        if self._size > MAX_BODY_BYTES or (self._decoder and self._decoder.unconsumed_tail):
            if not self._cut:
                raise ResponseTooLarge(f"the answer is longer than {MAX_BODY_BYTES:,} bytes")
            chunk = chunk[: max(0, len(chunk) - (self._size - MAX_BODY_BYTES))]
            self.full = True
        self._parts.append(chunk)

    def finish(self, response: httpx.Response) -> httpx.Response:
        """The answer with its decoded body, and none of the wire's own headers."""
        if self._decoder is not None and not self._decoder.eof and not self.full:
            raise httpx.DecodingError("the answer's compressed body is cut short")
        # The raw bytes: a value that is not ASCII is kept as it came, not re-encoded.
        headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _WIRE_HEADERS]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=b"".join(self._parts),
            request=response.request,
        )
