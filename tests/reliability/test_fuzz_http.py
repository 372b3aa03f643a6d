"""Fuzzing the HTTP layer: whole hostile answers, through the real clients (Hypothesis).

Hypothesis draws everything a server (or whatever sits between it and us) could answer: any
status, headers that lie or echo the API key (``X-RateLimit-*``, ``Retry-After``, ``Date``,
``Link``, a reason phrase), bodies (Braze's pages, pages with the key in every string, broken,
deep, wide or huge JSON, endless bodies, compression bombs), content codings that do or do not
match the body, and the pace of each answer (at once, late, trickled, broken off). An in-memory
transport serves them as a stream, so the client reads the body as it would off the wire,
undecoded. Behind the answers a small Braze keeps one promise only: every page it lists that
can be read is true (it lists every job the call started, and its ``Date`` is its own clock,
or unreadable). A fifth of the worlds hold only Braze's own answers (with harmless oddities).

Both clients run ``trigger_sync``, ``list_integrations``, ``list_sync_jobs`` and
``sync_and_wait`` against it, with a short ``request_timeout=``, three attempts and real time.
For every call:

* it ends with its result or a ``BrazeCDIError``, never another exception;
* it ends within its deadline (the retry policy's per page or trigger, the wait's ``max_wait``
  for ``sync_and_wait``) plus ``SLACK`` seconds: a bound for loaded machines, not a benchmark;
* no trigger is sent after an answer to a trigger that was accepted or unknown (anything but a
  429 or a connection never made), so Braze starts at most one job; once a job may have
  started, an error is not ``retryable``; a finished job handed back is the one it started;
* when every answer is Braze's own, it succeeds (or ends a wait or an exchange out of time,
  which a loaded machine may cause), and a listing has every item;
* memory traced during the call, once the client is open, peaks under ``PEAK`` bytes, whatever
  the body inflates to;
* neither the key nor a piece of it (16 characters from either end, in any case) is in any of
  it: the result or error (``str``, ``repr``, attributes), the chain of causes, the traceback
  formatted with every frame's locals, every log record of every logger at DEBUG, and every
  warning.

``FUZZ_HTTP_EXAMPLES=5000 uv run pytest tests/reliability/test_fuzz_http.py -s`` searches
harder; ``-s`` shows the number of examples, the run time and how the calls ended.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import logging
import os
import random
import string
import time
import traceback
import tracemalloc
import warnings
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import formatdate
from functools import cache
from typing import Any, Literal

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from braze_cdi import (
    AsyncBrazeCDIClient,
    BrazeCDIClient,
    BrazeCDIError,
    BrazeTransportError,
    RetryPolicy,
    SyncFailed,
    SyncResult,
    SyncTimeout,
)
from braze_cdi._clock import SystemClock
from braze_cdi._exchange import MAX_BODY_BYTES

# --- the options every call gets, and the bounds they imply ---------------------------------

TIMEOUT = 0.2  # the client's request_timeout=: real seconds one exchange may take
RETRY = RetryPolicy(max_attempts=3, initial_delay=0.0, max_duration=0.5)
WAIT = 0.6  # sync_and_wait's max_wait=, polling every 0.02 s at first, at most every 0.1 s
POLL, MAX_POLL = 0.02, 0.1
SLACK = 3.0  # seconds past a deadline a call may take on a loaded machine
PEAK = 32 * 2**20  # bytes a call may have allocated at once (tracemalloc)
MAX_PAUSE = 0.03  # the longest pause between two chunks of a trickled body
MAX_DELAY = 0.3  # the longest an answer is held back (past TIMEOUT: a read timeout)

#: About 30-60 s in the normal run.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_HTTP_EXAMPLES", "450")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

Kind = Literal["trigger", "list", "status"]
#: Each operation, and the endpoints it calls.
KINDS: dict[str, tuple[Kind, ...]] = {
    "trigger_sync": ("trigger",),
    "list_integrations": ("list",),
    "list_sync_jobs": ("status",),
    "sync_and_wait": ("status", "trigger"),
}
OPERATIONS = tuple(KINDS)
INTEGRATION = "e3e70682-c209-4cac-629f-6fbed82c07cd"
KEY_PREFIX = "Kf7-"  # and 32 drawn characters: Braze's keys are 36
KEY_ALPHABET = string.ascii_letters + string.digits + "-_.~+*()[]{}?$^|\\"


# --- the small Braze behind the answers ------------------------------------------------------


@dataclass
class Job:
    start: float  # Braze's clock
    duration: float  # real seconds
    outcome: str

    def render(self, now: float) -> dict[str, Any]:
        finished = now >= self.start + self.duration
        return {
            "job_status": self.outcome if finished else "running",
            "sync_start_time": _iso(self.start),
            "sync_finish_time": _iso(self.start + self.duration) if finished else None,
            "last_timestamp_synced": _iso(self.start - 60) if finished else None,
            "rows_synced": 1000 if finished else 0,
            "rows_failed_with_errors": 0,
        }


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Markers for what is known only when an answer is served.
CONSISTENT_DATE = "<Braze's own clock>"
PAGE_KINDS = ("page", "page, key in extra fields", "page, key in every string", "page, cut")
LINKS = (
    "none",
    "fresh cursor",
    "same cursor",
    "no cursor",
    "empty cursor",
    "key as cursor",
    "long",
    "garbage",
    "prev only",
    "two next",
)


@dataclass(frozen=True)
class Answer:
    """One answer, drawn whole. ``body`` is bytes (already in ``coding``), or one of
    ``PAGE_KINDS``: Braze's current page, rendered and encoded when served."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes | str = "page"
    coding: str = "identity"
    date: str | None = CONSISTENT_DATE
    link: str = "none"
    cut_at: float = 1.0  # of a cut page: the share of it sent
    delay: float = 0.0
    pause: float = 0.0  # between chunks: a trickle
    chunk: int = 65536
    fail_after: int | None = None  # chunks, before the stream breaks
    endless: bool = False  # after the body, filler forever
    raises: tuple[type[Exception], str] | None = None  # instead of any answer
    reason: bytes | None = None
    http_version: bytes | None = None

    def refusing(self) -> bool:
        """Whether Braze refused the request: a 429, or a connection never made. Any other
        answer to a trigger started its job (whether or not the answer gets through)."""
        never_connected = self.raises is not None and issubclass(
            self.raises[0], httpx.ConnectError | httpx.ConnectTimeout
        )
        return never_connected or (self.raises is None and self.status == 429)

    def clean(self) -> bool:
        """Whether this is Braze's own answer, read at once: a 2xx holding a whole true page in
        a coding asked for, with no header that could hold the call back or end a list."""
        holding = (b"retry-after", b"x-ratelimit-remaining", b"x-ratelimit-reset")
        return (
            self.raises is None
            and 200 <= self.status < 300
            and self.body in PAGE_KINDS[:3]
            and self.coding in ("identity", "identity, said", "gzip", "x-gzip", "deflate")
            and self.link in ("none", "prev only")
            and not (self.delay or self.pause or self.fail_after is not None or self.endless)
            and all(name.lower() not in holding for name, _ in self.headers)
        )

    def describe(self) -> str:
        body = self.body if isinstance(self.body, str) else f"{len(self.body)} bytes"
        parts = [f"{self.status}", body, self.coding, f"date={self.date!r}", f"link={self.link}"]
        parts += [f"{k.decode('latin-1')}: {v[:60]!r}" for k, v in self.headers]
        if self.delay:
            parts.append(f"delay {self.delay:.3f}")
        if self.pause:
            parts.append(f"trickle {self.chunk} B / {self.pause:.3f} s")
        if self.fail_after is not None:
            parts.append(f"breaks after {self.fail_after} chunks")
        if self.endless:
            parts.append("endless")
        if self.raises:
            parts = [f"raises {self.raises[0].__name__}"]
        return "Answer(" + ", ".join(parts) + ")"


@dataclass(repr=False)
class World:
    """The answers each endpoint gives, in turn (round and round), and the Braze behind them."""

    key: str
    operation: str
    client: str
    answers: dict[Kind, list[Answer]]
    skew: float  # seconds Braze's clock is ahead of ours
    history: int  # finished jobs in the integration's past
    newest_first: bool
    integrations: int
    duration: float  # of the job a trigger starts, real seconds
    outcome: str

    def clean(self) -> bool:
        """Whether every answer is Braze's own (``Answer.clean``)."""
        return all(answer.clean() for answers in self.answers.values() for answer in answers)

    def __repr__(self) -> str:
        answers = {kind: [a.describe() for a in self.answers[kind]] for kind in self.answers}
        return (
            f"World({self.operation} via {self.client}; skew={self.skew}, "
            f"history={self.history}, newest_first={self.newest_first}, "
            f"integrations={self.integrations}, job {self.duration:.2f} s {self.outcome}; "
            f"answers={answers})"
        )


@dataclass(frozen=True)
class Seen:
    """A request as the transport saw it, with what it was answered."""

    kind: Kind
    cursor: str | None
    refusing: bool


class HostileBraze(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Serves a world's answers, for both clients. Its repr never shows them (a traceback's
    locals would show the key the bodies echo)."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._began = time.time() + world.skew
        self._served: Counter[str] = Counter()
        self._links = itertools.count(1)
        self.seen: list[Seen] = []
        self.started: list[Job] = []
        self.bytes_out = 0  # of bodies, as they went on the wire

    def __repr__(self) -> str:
        return "<HostileBraze>"

    @property
    def key(self) -> str:
        return self._world.key

    def braze_now(self) -> float:
        return time.time() + self._world.skew

    # --- serving ------------------------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer, response = self._answer(request)
        held = _held(answer, request)
        time.sleep(held)
        if held < answer.delay:
            raise httpx.ReadTimeout("timed out", request=request)
        return response()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer, response = self._answer(request)
        held = _held(answer, request)
        await asyncio.sleep(held)
        if held < answer.delay:
            raise httpx.ReadTimeout("timed out", request=request)
        return response()

    def _answer(self, request: httpx.Request) -> tuple[Answer, Callable[[], httpx.Response]]:
        kind = _route(request)
        answers = self._world.answers[kind]
        answer = answers[self._served[kind] % len(answers)]
        self._served[kind] += 1
        self.seen.append(Seen(kind, request.url.params.get("cursor"), answer.refusing()))
        if kind == "trigger" and not answer.refusing():
            self.started.append(Job(self.braze_now(), self._world.duration, self._world.outcome))
        if answer.raises is not None:
            error, message = answer.raises
            raise error(message.replace("{key}", self._world.key))

        def response() -> httpx.Response:
            return self._response(kind, request, answer)

        return answer, response

    def _response(self, kind: Kind, request: httpx.Request, answer: Answer) -> httpx.Response:
        headers = list(answer.headers)
        body = answer.body
        if isinstance(body, str):  # a page, rendered now
            body = _encode(self._page(kind, body, answer.cut_at), answer.coding)
        if answer.date == CONSISTENT_DATE:
            headers.append((b"Date", formatdate(self.braze_now(), usegmt=True).encode()))
        elif answer.date is not None:
            headers.append((b"Date", answer.date.replace("{key}", self._world.key).encode()))
        link = self._link(request.url.path, answer.link)
        if link is not None:
            headers.append((b"Link", link.encode()))
        extensions: dict[str, Any] = {}
        if answer.reason is not None:
            extensions["reason_phrase"] = answer.reason.replace(b"{key}", self._world.key.encode())
        if answer.http_version is not None:
            extensions["http_version"] = answer.http_version.replace(
                b"{key}", self._world.key.encode()
            )
        return httpx.Response(
            answer.status,
            headers=[(k, v.replace(b"{key}", self._world.key.encode())) for k, v in headers],
            stream=Trickle(body, answer, self),
            extensions=extensions,
        )

    # --- what Braze lists ---------------------------------------------------------------------

    def _page(self, kind: Kind, variant: str, cut_at: float) -> bytes:
        key, now = self._world.key, self.braze_now()
        if kind == "trigger":
            page: dict[str, Any] = {"message": "success"}
        elif kind == "list":
            page = {"results": [self._integration(n) for n in range(self._world.integrations)]}
        else:
            jobs = [Job(self._began - 3600.0 * age, 60.0, "success") for age in range(1, 6)]
            jobs = jobs[: self._world.history] + self.started
            jobs.sort(key=lambda job: job.start, reverse=self._world.newest_first)
            page = {"results": [job.render(now) for job in jobs]}
        page.setdefault("message", "success")
        if variant == "page, key in extra fields":
            page["message"] = f"success {key}"
            for item in page.get("results", []):
                item.update({"echo": key, key: key.upper(), "nested": {"deeper": [key]}})
        elif variant == "page, key in every string":
            page = _echo(page, key)
        text = json.dumps(page).encode()
        return text[: int(len(text) * cut_at)] if variant == "page, cut" else text

    def _integration(self, n: int) -> dict[str, Any]:
        return {
            "integration_id": f"integration-{n}",
            "app_group_id": "workspace",
            "integration_name": f"name-{n}",
            "integration_type": "users",
            "integration_status": "active",
            "contact_emails": "data@example.com",
            "last_updated_at": _iso(self._began),
            "warehouse_type": "SNOWFLAKE",
            "last_job_start_time": None,
            "last_job_status": None,
            "next_scheduled_run": None,
        }

    def _link(self, path: str, link: str) -> str | None:
        n = next(self._links)
        return {
            "none": None,
            "fresh cursor": f'<{path}?cursor=c{n}>; rel="next"',
            "same cursor": f'<{path}?cursor=same>; rel="next"',
            "no cursor": f'<{path}?page=2>; rel="next"',
            "empty cursor": f'<{path}?cursor=>; rel="next"',
            "key as cursor": f'<{path}?cursor={self._world.key}>; rel="next"',
            "long": f'<{path}?cursor={"c" * 9000}>; rel="next"',
            "garbage": "<<<;;;>>>,,rel=next;<",
            "prev only": f'<{path}?cursor=p{n}>; rel="prev"',
            "two next": f'<{path}?cursor=a{n}>; rel="next", <{path}?cursor=b{n}>; rel="next"',
        }[link]


TIMES = {
    "sync_start_time",
    "sync_finish_time",
    "last_timestamp_synced",
    "last_updated_at",
    "last_job_start_time",
    "next_scheduled_run",
}


def _echo(value: Any, key: str) -> Any:
    """The key in every string of ``value`` but the times (whose format the client checks)."""
    if isinstance(value, dict):
        return {name: item if name in TIMES else _echo(item, key) for name, item in value.items()}
    if isinstance(value, list):
        return [_echo(item, key) for item in value]
    return f"{value}{key}" if isinstance(value, str) else value


def _route(request: httpx.Request) -> Kind:
    path = request.url.path
    if path.endswith("/sync"):
        return "trigger"
    return "status" if path.endswith("/job_sync_status") else "list"


def _held(answer: Answer, request: httpx.Request) -> float:
    """How long the answer is held back: its delay, or the request's read timeout if that is
    shorter (then the read times out, as on the network)."""
    read_timeout = request.extensions.get("timeout", {}).get("read")
    return answer.delay if read_timeout is None else min(answer.delay, read_timeout)


class Trickle(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body as it comes off the wire: in chunks, maybe paused between them, maybe broken."""

    def __init__(self, body: bytes, answer: Answer, served_by: HostileBraze) -> None:
        self._body, self._answer, self._served_by = body, answer, served_by

    def _chunks(self) -> Iterator[bytes]:
        size, body = self._answer.chunk, self._body
        pieces: Iterator[bytes] = (body[i : i + size] for i in range(0, len(body), size))
        if self._answer.endless:  # never held whole: 64 KiB at a time, for ever
            pieces = itertools.chain(pieces, itertools.repeat(b"x" * min(size, 65536)))
        for n, piece in enumerate(pieces):
            if self._answer.fail_after is not None and n >= self._answer.fail_after:
                key = self._served_by.key
                raise httpx.ReadError(f"peer closed the connection: {key}")
            self._served_by.bytes_out += len(piece)
            yield piece

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks():
            yield chunk
            time.sleep(self._answer.pause)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks():
            yield chunk
            await asyncio.sleep(self._answer.pause)


# --- bodies ----------------------------------------------------------------------------------

CODINGS = (
    "identity",
    "identity, said",
    "gzip",
    "x-gzip",
    "deflate",
    "deflate, raw",
    "gzip, but plain",
    "gzip, cut",
    "gzip, then garbage",
    "gzip, two members",
    "gzip, gzip",
    "br",
    "garbage",
)


def _encode(body: bytes, coding: str) -> bytes:
    if coding in ("gzip", "x-gzip"):
        return gzip.compress(body, mtime=0)
    if coding == "deflate":
        return zlib.compress(body)
    if coding == "deflate, raw":  # no zlib header: not what deflate means
        squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return squeeze.compress(body) + squeeze.flush()
    if coding == "gzip, cut":
        whole = gzip.compress(body, mtime=0)
        return whole[: len(whole) // 2]
    if coding == "gzip, then garbage":
        return gzip.compress(body, mtime=0) + b"\x00garbage"
    if coding == "gzip, two members":
        return gzip.compress(body, mtime=0) + gzip.compress(body, mtime=0)
    if coding == "gzip, gzip":
        return gzip.compress(gzip.compress(body, mtime=0), mtime=0)
    return body


def _coding_header(coding: str) -> bytes | None:
    return {
        "identity": None,
        "identity, said": b"identity",
        "x-gzip": b"x-gzip",
        "deflate": b"deflate",
        "deflate, raw": b"deflate",
        "gzip, gzip": b"gzip, gzip",
        "br": b"br",
        "garbage": b"zstd;q=1, {key}",
    }.get(coding, b"gzip")


WIDE_ITEMS = [b"{}", b"[]", b'{"job_status": "x"}', b'{"integration_id": "x"}']
WIDE_BYTES = 256 * 2**10  # a quarter of the cap: see test_a_page_of_tiny_items_at_the_cap


def _wide(item: bytes, size: int) -> bytes:
    """A page of ``size`` bytes holding as many copies of ``item`` as fit."""
    count = (size - 15) // (len(item) + 1)
    return b'{"results": [' + b",".join([item] * count) + b"]}"


@cache
def _bomb() -> bytes:
    """JSON inflating to 200 MiB, gzipped to about 200 KiB; built once."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    spaces = b" " * 2**20
    parts = [squeeze.compress(b'{"results": [')]
    parts += [squeeze.compress(spaces) for _ in range(200)]
    return b"".join([*parts, squeeze.compress(b"]}"), squeeze.flush()])


@cache
def _noise() -> bytes:
    """4 MiB that gzip cannot shrink, gzipped: 4 MiB on the wire; built once."""
    return gzip.compress(random.Random(0).randbytes(4 * 2**20), compresslevel=1, mtime=0)


def _bodies(key: str) -> st.SearchStrategy[tuple[bytes, str | None]]:
    """A body that is not a page, and the coding it is already in (None: any)."""
    k = key.encode()
    nested = b"[" * 40 + b"]" * 40
    messages = [
        "success",
        "Another job is in progress",
        "API rate limit exceeded",
        "Invalid integration ID",
        key,
        f"Invalid API key: {key}",
        f"{'x' * 1190}{key}",
        key.upper(),
    ]
    fixed = [
        b"",
        b"null",
        b'"just a string"',
        b"[1, 2, 3]",
        b'{"results": "not a list"}',
        b'{"results": [42]}',
        b'{"results": [], "x": NaN, "y": -Infinity}',
        b'{"results": [{"integration_id": "a", "rows_synced": 1' + b"1" * 5000 + b"}]}",
        b'{"results": [{"integration_id": "a", "x": ' + nested + b"}]}",
        b'{"message": "\\ud800' + k + b'"}',
        b"[" * 100_000,
        b"\xff\xfe not utf-8 " + k,
        b"<html><head><title>502 Bad Gateway " + k + b"</title></head></html>",
        b"<title>" * 20_000 + k + b"</title>",
        b"<h1>" + k + b"</h1>",
        json.dumps({"errors": [{"message": key}, key, 7], "detail": key}).encode(),
        json.dumps({"message": key}).encode("utf-16"),
    ]
    depth = st.sampled_from([31, 32, 33, 100, 5000])
    return st.one_of(
        st.sampled_from([(body, None) for body in fixed]),
        st.sampled_from(messages).map(lambda m: (json.dumps({"message": m}).encode(), None)),
        st.binary(max_size=300).map(lambda b: (b, None)),
        st.tuples(st.binary(max_size=100), st.binary(max_size=100)).map(
            lambda parts: (parts[0] + k + parts[1], None)
        ),
        depth.map(lambda d: ((b"[" * d + b"]" * d), None)),
        depth.map(lambda d: (b'{"results": [], "x": ' + b"[" * d + b"]" * d + b"}", None)),
        st.sampled_from([2**20 + 1, 2 * 2**20, 4 * 2**20]).map(
            lambda n: (b'{"results": [' + b" " * (n - 15) + b"]}", None)
        ),
        st.sampled_from([2**20 + 1, 4 * 2**20]).map(lambda n: (b"x" * n, None)),
        st.sampled_from(WIDE_ITEMS).map(lambda item: (_wide(item, WIDE_BYTES), None)),
        st.just(("bomb", "gzip")).map(lambda _: (_bomb(), "gzip")),
        st.just(("noise", "gzip")).map(lambda _: (_noise(), "gzip")),
    )


# --- headers ---------------------------------------------------------------------------------

NUMBERS = [
    "0",
    "1",
    "3",
    "50",
    "0.05",
    "-1",
    "-0",
    " 7 ",
    "1e999",
    "nan",
    "inf",
    "0x10",
    "",
    "9" * 40,
    "1" * 5000,
    "{key}",
]
#: Digits int() and float() read, but no HTTP header means: Arabic-Indic 3, 1, 0, 1700000000,
#: a superscript 2, a mathematical 1.
FOREIGN_NUMBERS = [
    "\u0663",
    "\u0661",
    "\u0660",
    "\u0661\u0667" + "\u0660" * 8,
    "\u00b2",
    "\U0001d7d9",
]
SAFE_DATES: list[str | None] = [
    CONSISTENT_DATE,
    None,
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Mon, 01 Jan 10000 00:00:00 GMT",
    "Thu, 01 Jan 1970 00:00:00 GMT",
    "Wed, 31 Dec 1969 23:59:59 GMT",
    "Mon, 01 Jan 1990 00:00:00 GMT",
    "Tue, 99 Foo 2024 99:99:99 GMT",
    "Mon, 01 Jan 2024 00:00:00 +9999999999999999999999",
    "Mon, 01 Jan 2024 00:00:00 -0000",
    "Mon, 01 Jan 2024 00:00:00",
    "x" * 10_000,
    "{key}",
]
#: Only where the body is no page can Braze's clock be a lie: a readable page is true.
LYING_DATES: list[str | None] = ["Sat, 01 Jan 2100 00:00:00 GMT", "Tue, 01 Jan 2030 00:00:00 GMT"]
ECHOED_IN = [
    "X-Echo",
    "Server",
    "Set-Cookie",
    "WWW-Authenticate",
    "Location",
    "Retry-After",
    "X-RateLimit-Reset",
    "X-RateLimit-Remaining",
    "Content-Type",
    "Content-Length",
    "Via",
]
ECHOES = ["{key}", "Bearer {key}", "{KEY}", f"{'x' * 5000}{{key}}", "a={key}; b={key}"]


def _value(text: str, key: str) -> bytes:
    return text.replace("{KEY}", key.upper()).encode()  # "{key}" is filled in when served


@st.composite
def _headers(
    draw: st.DrawFn, key: str, body: bytes | str, calm: bool
) -> tuple[tuple[bytes, bytes], ...]:
    """Hostile headers; ``calm``: only those that cannot hold a call back or make it fail."""
    headers: list[tuple[bytes, bytes]] = []
    numbers = st.one_of(
        st.sampled_from(NUMBERS).map(lambda n: _value(n, key)),
        st.sampled_from(NUMBERS).map(lambda n: _value(n, key)),
        st.integers(0, 2**64).map(lambda n: str(n).encode()),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda f: repr(f).encode()),
        st.sampled_from(FOREIGN_NUMBERS).map(str.encode),  # UTF-8 on the wire
    )
    names = ["X-RateLimit-Limit"]
    if not calm:
        names += ["X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"]
    for name in names:
        if draw(st.integers(0, 3)) == 0:
            headers.append((name.encode(), draw(numbers)))
    if not calm and draw(st.integers(0, 5)) == 0:
        dates = [d for d in [*SAFE_DATES, *LYING_DATES] if d and d != CONSISTENT_DATE]
        headers.append((b"Retry-After", _value(draw(st.sampled_from(dates)), key)))
    if draw(st.integers(0, 3)) == 0:
        name = draw(st.sampled_from(ECHOED_IN[:5] if calm else ECHOED_IN))
        headers.append((name.encode(), _value(draw(st.sampled_from(ECHOES)), key)))
    if draw(st.integers(0, 7)) == 0:
        headers.append((b"X-Note", "café ✓".encode()))  # any header, UTF-8
    if draw(st.integers(0, 3)) == 0:
        content_type = draw(
            st.sampled_from([b"application/json", b"text/html", b"application/json; x={key}"])
        )
        headers.append((b"Content-Type", content_type))
    if draw(st.integers(0, 5)) == 0:
        length = len(body) if isinstance(body, bytes) else 10
        lie = draw(st.sampled_from([str(length), "5", "99999999999", "-1", "abc"]))
        headers.append((b"Content-Length", lie.encode()))
    return tuple(headers)


# --- answers and worlds ----------------------------------------------------------------------

DOCUMENTED = [200, 201, 202, 204, 301, 400, 401, 403, 404, 408, 429, 500, 502, 503, 504]
RAISED: list[tuple[type[Exception], str]] = [
    (httpx.ConnectError, "connection refused"),
    (httpx.ConnectTimeout, "connect timed out"),
    (httpx.RemoteProtocolError, "Server disconnected: illegal header {key}"),
    (httpx.ReadError, "x" * 4080 + "{key}"),
    (httpx.ReadTimeout, "timed out"),
    (httpx.WriteError, "broken pipe"),
    (OSError, "[Errno 104] Connection reset by peer {key}"),
    (RuntimeError, "a transport's own bug: {key}"),
]


@st.composite
def _timing(draw: st.DrawFn) -> dict[str, Any]:
    pace = draw(st.sampled_from(["at once"] * 6 + ["late", "trickle", "breaks"]))
    if pace == "late":
        return {"delay": draw(st.floats(0.001, MAX_DELAY))}
    if pace == "trickle":
        return {"chunk": draw(st.integers(1, 512)), "pause": draw(st.floats(0.0005, MAX_PAUSE))}
    chunk = draw(st.sampled_from([1024, 4096, 65536]))
    if pace == "breaks":
        return {"chunk": chunk, "fail_after": draw(st.integers(0, 3))}
    return {"chunk": chunk}


@st.composite
def _answer(draw: st.DrawFn, kind: Kind, key: str, calm: bool) -> Answer:
    """Any answer; ``calm``: Braze's own (see ``Answer.clean``), with headers that echo the key
    or lie harmlessly."""
    if not calm and draw(st.integers(0, 9)) == 0:
        return Answer(status=0, raises=draw(st.sampled_from(RAISED)))
    if calm or draw(st.booleans()):  # Braze's own answer, maybe zipped, maybe odd headers
        status = 202 if kind == "trigger" else 200
        body: bytes | str = draw(st.sampled_from(["page", "page", *PAGE_KINDS[1:3]]))
        coding = draw(st.sampled_from(["identity", "identity", "gzip", "deflate"]))
    else:
        status = draw(
            st.one_of(
                st.sampled_from(DOCUMENTED), st.sampled_from(DOCUMENTED), st.integers(100, 599)
            )
        )
        coding = draw(st.sampled_from(["identity"] * 4 + ["gzip"] * 2 + list(CODINGS)))
        if draw(st.booleans()):
            body = draw(st.sampled_from(PAGE_KINDS))
        else:
            raw, fixed_coding = draw(_bodies(key))
            if kind == "status":
                # Braze's promise: a job list that can be read is true. Bodies of this kind that
                # would read as one (an empty ``results``, jobs with no start) would be lies,
                # which no client can see through; they are kept unreadable, parsed all the same.
                raw = raw.replace(b'"results"', b'"resultz"', 1)
            coding = fixed_coding or coding
            body = raw if fixed_coding else _encode(raw, coding)
    headers = draw(_headers(key, body, calm))
    coding_header = _coding_header(coding)
    if coding_header is not None:
        headers += ((b"Content-Encoding", coding_header),)
    page = isinstance(body, str)
    dates = SAFE_DATES if page else [*SAFE_DATES, *LYING_DATES]
    return Answer(
        status=status,
        headers=headers,
        body=body,
        coding=coding,
        date=draw(st.sampled_from(dates)),
        link=draw(st.sampled_from(["none"] * 6 + list(LINKS))) if page and not calm else "none",
        cut_at=draw(st.floats(0.0, 0.99)),
        reason=draw(st.sampled_from([None, None, b"OK", b"Bad {key} Gateway", b"\xff\xfe"])),
        http_version=draw(st.sampled_from([None, None, b"HTTP/1.1", b"HTTP/9 {key}"])),
        endless=not calm and draw(st.integers(0, 11)) == 0,
        **({"chunk": draw(st.sampled_from([1, 1024, 65536]))} if calm else draw(_timing())),
    )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    key = KEY_PREFIX + draw(st.text(KEY_ALPHABET, min_size=32, max_size=32))
    operation = draw(st.sampled_from(OPERATIONS))
    calm = draw(st.integers(0, 4)) == 0  # a fifth of the worlds: only Braze's own answers
    kinds = KINDS[operation]
    return World(
        key=key,
        operation=operation,
        client=draw(st.sampled_from(["sync", "async"])),
        answers={
            kind: draw(st.lists(_answer(kind, key, calm), min_size=1, max_size=5)) for kind in kinds
        },
        skew=draw(st.sampled_from([0.0, 3600.0, -3600.0, 0.7])),
        history=draw(st.integers(0, 5)),
        newest_first=draw(st.booleans()),
        integrations=draw(st.integers(0, 3)),
        duration=draw(st.sampled_from([0.0, 0.05, 0.15, 5.0])),
        outcome=draw(st.sampled_from(["success", "partial", "error", "config_error"])),
    )


# --- one call --------------------------------------------------------------------------------


class _Clock(SystemClock):
    """The real clock, one per call: rate budgets are shared per clock, so no call waits for
    another's."""


def _call(
    operation: str,
    client: str,
    transport: HostileBraze,
    secret: SecretStr,
    *,
    opened: Callable[[], object] = lambda: None,
    request_timeout: float = TIMEOUT,
    retry: RetryPolicy = RETRY,
) -> Any:
    """The call's result or the exception it raised; ``opened`` is called once the client is
    (its TLS context is a constant few MiB). Nothing here holds the key in plain text: the
    traceback of the exception starts in this frame."""
    options: dict[str, Any] = {
        "retry": retry,
        "request_timeout": request_timeout,
        "transport": transport,
        "clock": _Clock(),
    }
    try:
        if client == "async":
            return asyncio.run(_acall(operation, secret, options, opened))
        with BrazeCDIClient(secret, "US-01", **options) as sync_client:
            opened()
            if operation == "trigger_sync":
                return sync_client.trigger_sync(INTEGRATION)
            if operation == "list_integrations":
                return list(sync_client.list_integrations())
            if operation == "list_sync_jobs":
                return list(sync_client.list_sync_jobs(INTEGRATION))
            return sync_client.sync_and_wait(
                INTEGRATION, max_wait=WAIT, poll_interval=POLL, max_poll_interval=MAX_POLL
            )
    except Exception as error:  # the properties judge it
        return error


async def _acall(
    operation: str, secret: SecretStr, options: dict[str, Any], opened: Callable[[], object]
) -> Any:
    async with AsyncBrazeCDIClient(secret, "US-01", **options) as client:
        opened()
        if operation == "trigger_sync":
            return await client.trigger_sync(INTEGRATION)
        if operation == "list_integrations":
            return [item async for item in client.list_integrations()]
        if operation == "list_sync_jobs":
            return [item async for item in client.list_sync_jobs(INTEGRATION)]
        return await client.sync_and_wait(
            INTEGRATION, max_wait=WAIT, poll_interval=POLL, max_poll_interval=MAX_POLL
        )


# --- the properties --------------------------------------------------------------------------


def _bound(world: World, transport: HostileBraze) -> float:
    """Seconds the call may take: its deadline, from the options it was given, plus SLACK."""
    if world.operation == "sync_and_wait":
        return WAIT + SLACK
    if world.operation == "trigger_sync":
        return RETRY.max_duration + SLACK
    # A listing's deadline is per page: each page is a call of its own, retries included.
    cursors = [seen.cursor for seen in transport.seen]
    pages = len([cursor for cursor, _ in itertools.groupby(cursors)])
    return max(pages, 1) * RETRY.max_duration + SLACK


def _ran_out_of_time(outcome: object) -> bool:
    """An end that a loaded machine may cause on its own: a wait or an exchange out of time."""
    if isinstance(outcome, SyncTimeout):
        return True
    return isinstance(outcome, BrazeTransportError) and "Timeout" in outcome.message


def _texts(
    outcome: Any, records: list[logging.LogRecord], warned: list[warnings.WarningMessage]
) -> Iterator[str]:
    """Everything the call produced that a person or a log could see."""
    yield repr(outcome)
    yield str(outcome)
    if isinstance(outcome, BaseException):
        seen: set[int] = set()
        error: BaseException | None = outcome
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            yield repr(error)
            yield str(error)
            yield repr(vars(error))
            error = error.__cause__ or error.__context__
        yield "".join(
            traceback.TracebackException(
                type(outcome), outcome, outcome.__traceback__, capture_locals=True
            ).format()
        )
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in records:
        yield formatter.format(record)
        yield repr(record.msg)
        yield repr(record.args)
    for warning in warned:
        yield str(warning)


@dataclass(frozen=True)
class Ran:
    """How one call went."""

    outcome: Any
    seconds: float
    peak: int  # bytes traced at most during the call, once the client was open
    records: list[logging.LogRecord]
    warned: list[warnings.WarningMessage]


def check(world: World, transport: HostileBraze, ran: Ran) -> None:
    """Every property one call must have."""
    outcome = ran.outcome
    # A result, or a typed error.
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, BrazeCDIError), f"untyped: {outcome!r}"
    # Within its deadline.
    bound = _bound(world, transport)
    assert ran.seconds <= bound, f"took {ran.seconds:.2f} s, more than {bound:.2f} s"
    # No trigger after one that was accepted or unknown, so at most one job; once a job may
    # have started, no error an orchestrator would retry.
    triggers = [seen for seen in transport.seen if seen.kind == "trigger"]
    assert all(seen.refusing for seen in triggers[:-1]), f"a trigger after {triggers[:-1]}"
    assert len(transport.started) <= 1
    if transport.started and isinstance(outcome, BrazeCDIError):
        assert not outcome.retryable, f"retryable once a job started: {outcome!r}"
    # A finished job handed back is the one the call started.
    if isinstance(outcome, SyncResult | SyncFailed):
        [started] = transport.started
        assert outcome.job.sync_start_time is not None
        assert abs(outcome.job.sync_start_time.timestamp() - started.start) < 1e-3, "not its job"
    # Braze's own answers are read: the call succeeds, unless the machine made it late.
    if world.clean() and not _ran_out_of_time(outcome):
        if isinstance(outcome, SyncFailed):  # the job Braze ran failed: a result of sorts
            assert world.outcome in ("error", "config_error"), repr(outcome)
        else:
            assert not isinstance(outcome, BrazeCDIError), f"clean answers, yet {outcome!r}"
        if world.operation == "list_integrations":
            assert len(outcome) == world.integrations
        elif world.operation == "list_sync_jobs":
            assert len(outcome) == world.history
    # Bounded memory.
    assert ran.peak < PEAK, f"peak of {ran.peak / 2**20:.1f} MiB"
    # The key nowhere, nor any piece of it: whatever cut it would leave a part of 16
    # characters or more at its start or its end.
    key = world.key.lower()
    pieces = (key, key[:16], key[-16:])
    for text in _texts(outcome, ran.records, ran.warned):
        lowered = text.lower()
        assert not any(piece in lowered for piece in pieces), f"the key in: {text[:3000]}"


@dataclass
class Tally:
    """What the examples did, printed at the end (run with -s to see it)."""

    examples: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    clean: int = 0
    peak: int = 0
    slowest: float = 0.0

    def add(self, world: World, ran: Ran) -> None:
        self.examples += 1
        self.outcomes[type(ran.outcome).__name__] += 1
        self.clean += world.clean()
        self.peak, self.slowest = max(self.peak, ran.peak), max(self.slowest, ran.seconds)


def test_any_answer_ends_typed_in_time_once_in_bounded_memory_without_the_key(
    caplog: pytest.LogCaptureFixture, record_property: pytest.RecordProperty
) -> None:
    for name in (None, "braze_cdi", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    tally = Tally()

    @FUZZ
    @given(world=worlds())
    def call_once(world: World) -> None:
        caplog.clear()
        transport = HostileBraze(world)
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            tracemalloc.start()
            began = time.monotonic()
            try:
                outcome = _call(
                    world.operation,
                    world.client,
                    transport,
                    SecretStr(world.key),
                    opened=tracemalloc.reset_peak,
                )
                seconds = time.monotonic() - began
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        ran = Ran(outcome, seconds, peak, list(caplog.records), warned)
        tally.add(world, ran)
        check(world, transport, ran)

    began = time.monotonic()
    call_once()
    took = time.monotonic() - began
    record_property("fuzz_http_examples", tally.examples)
    record_property("fuzz_http_seconds", round(took, 1))
    print(
        f"\nfuzz_http: {tally.examples} examples in {took:.1f} s ({tally.clean} with only "
        f"Braze's own answers; slowest call {tally.slowest:.2f} s, peak "
        f"{tally.peak / 2**20:.1f} MiB); outcomes: {dict(tally.outcomes.most_common())}"
    )


# --- single answers, pinned -----------------------------------------------------------------


def _world(
    operation: str, client: str, answers: dict[Kind, list[Answer]], history: int = 0
) -> World:
    """A world for one answer, with the quietest Braze behind it."""
    return World(
        key=KEY_PREFIX + "0123456789abcdef0123456789abcdef",
        operation=operation,
        client=client,
        answers=answers,
        skew=0.0,
        history=history,
        newest_first=True,
        integrations=1,
        duration=0.0,
        outcome="success",
    )


@pytest.mark.parametrize("client", ["sync", "async"])
def test_an_answer_with_a_non_ascii_header_value_is_read(client: str) -> None:
    """Found by the fault matrix, fixed: a header value in UTF-8 turned an accepted trigger into
    a transport error (the answer was rebuilt from values re-encoded as ASCII)."""
    accepted = Answer(202, headers=((b"X-Note", "café".encode()),))
    world = _world("trigger_sync", client, {"trigger": [accepted]})

    outcome = _call(world.operation, client, HostileBraze(world), SecretStr(world.key))

    assert outcome is None, repr(outcome)


@pytest.mark.parametrize("item", [b"{}", b'{"job_status": "x"}'])
def test_a_page_of_tiny_items_at_the_cap_stays_within_fifty_times_the_cap(item: bytes) -> None:
    """The body cap bounds bytes, not the objects parsing makes of them: a page of 1 MiB of
    tiny items becomes some 45 MiB of Python objects while it is read (the parsed JSON, its
    redacted copy, the models). The fuzz above keeps such pages to a quarter of the cap, so
    that tracing them stays quick; this pins the bound at the cap itself."""
    world = _world(
        "list_sync_jobs", "sync", {"status": [Answer(200, body=_wide(item, MAX_BODY_BYTES))]}
    )
    tracemalloc.start()
    try:
        outcome = _call(
            world.operation,
            world.client,
            HostileBraze(world),
            SecretStr(world.key),
            opened=tracemalloc.reset_peak,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert isinstance(outcome, list | BrazeCDIError), repr(outcome)
    assert peak < 50 * MAX_BODY_BYTES, f"{peak / 2**20:.1f} MiB"


# --- what the fuzz found: each a defect once, fixed, and kept as a regression test ----------


@pytest.mark.parametrize("client", ["sync", "async"])
def test_bytes_after_a_compressed_body_count_against_the_cap(client: str) -> None:
    """Bytes after the end of a gzip or deflate stream went to zlib's ``unused_data``: neither
    decoded nor counted (and copied at each chunk), so an answer that went on after its
    compressed body was read and held until the exchange's time ran out."""
    endless = Answer(200, ((b"Content-Encoding", b"gzip"),), "page", "gzip", endless=True)
    world = _world("list_integrations", client, {"list": [endless]})
    transport = HostileBraze(world)
    once = RetryPolicy(max_attempts=1, max_duration=5.0)

    outcome = _call(
        world.operation, client, transport, SecretStr(world.key), request_timeout=1.0, retry=once
    )

    assert isinstance(outcome, BrazeTransportError), repr(outcome)
    # Refused within the cap (and a chunk), not read for the exchange's whole second.
    most = MAX_BODY_BYTES + 2 * 65536
    assert transport.bytes_out <= most, f"{transport.bytes_out / 2**20:.0f} MiB read"


@pytest.mark.parametrize("client", ["sync", "async"])
def test_no_part_of_the_key_survives_in_a_traceback(client: str) -> None:
    """A failure's text was cut at 4,096 characters before it was redacted: a key across that
    point survived in part in ``NoAnswer.detail``, which a traceback's locals show."""
    failure = (httpx.ReadError, "x" * 4080 + "{key}")  # the key across character 4,096
    world = _world("list_integrations", client, {"list": [Answer(0, raises=failure)]})

    outcome = _call(world.operation, client, HostileBraze(world), SecretStr(world.key))

    assert isinstance(outcome, BrazeTransportError), repr(outcome)
    text = "\n".join(_texts(outcome, [], []))
    assert world.key[:16] not in text, "the key's first 16 characters are in the traceback"


@pytest.mark.parametrize("client", ["sync", "async"])
def test_a_job_list_that_flips_a_job_is_polled_not_hammered(client: str) -> None:
    """start_sync looped between its look at the list (a job running) and its wait for that job
    (ended at the first poll) with no pause and no deadline check: a list that flips (replicas
    that disagree) was read thousands of times a second; the rate budget ended the call with
    BrazeRateLimited after 100 reads (without budgets, nothing did)."""
    # The only job's status is "success<key>" (not one Braze documents: still running) and
    # "success", in turn.
    flips = [Answer(200, body="page, key in every string"), Answer(200)]
    world = _world("sync_and_wait", client, {"status": flips, "trigger": [Answer(202)]}, 1)
    transport = HostileBraze(world)

    outcome = _call(world.operation, client, transport, SecretStr(world.key))

    # The wait ran out, or (as the reads fall) a trigger went out and its job was seen to end.
    assert isinstance(outcome, SyncTimeout | SyncResult), repr(outcome)
    reads = sum(seen.kind == "status" for seen in transport.seen)
    assert reads <= 2 * (WAIT / POLL) + 10, f"{reads} reads of the job list in {WAIT} s"
