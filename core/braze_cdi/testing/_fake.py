"""An in-memory Braze CDI server: the three endpoints, as Braze documents them."""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import secrets
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import formatdate
from random import Random
from typing import Any, Literal
from urllib.parse import unquote

import httpx

from .._clock import SYSTEM_CLOCK, Clock
from .._rate_limit import EndpointKind, RateLimits
from ._server import serve

Outcome = Literal["success", "partial", "error", "config_error"]
Order = Literal["newest_first", "oldest_first", "shuffled"]

ALL_PERMISSIONS = frozenset(
    {"cdi.integration_sync", "cdi.integration_list", "cdi.integration_job_status"}
)
_NEEDS: dict[EndpointKind, str] = {
    "trigger": "cdi.integration_sync",
    "list": "cdi.integration_list",
    "status": "cdi.integration_job_status",
}
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_FILLER = b"x" * 65536  # what an endless body goes on with, one chunk at a time
_FRAMING = ("content-length", "transfer-encoding")
_ROUTES = [
    (re.compile(r"/cdi/integrations"), "GET", "list"),
    (re.compile(r"/cdi/integrations/([^/]+)/sync"), "POST", "trigger"),
    (re.compile(r"/cdi/integrations/([^/]+)/job_sync_status"), "GET", "status"),
]


@dataclass
class FakeJob:
    """One sync job. Times are in the fake's clock (``clock.time()``), before any skew.

    ``FakeIntegration.jobs`` holds them, oldest first; a test reads them to see what ran.

    Examples:
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users", history=2)
        >>> job = fake.start_job(users.integration_id, duration=30.0, outcome="partial")
        >>> [j.outcome for j in users.jobs], job.triggered
        (['success', 'success', 'partial'], False)
    """

    start: float
    duration: float
    outcome: Outcome
    rows_synced: int
    rows_failed: int
    listed_from: float
    triggered: bool
    running_status: str = "running"
    hidden: bool = False

    def status(self, now: float) -> str:
        return self.outcome if now >= self.start + self.duration else self.running_status

    def to_json(self, now: float, skew: float) -> dict[str, Any]:
        finished = now >= self.start + self.duration
        done = self.start + self.duration
        return {
            "job_status": self.status(now),
            "sync_start_time": _iso(self.start + skew),
            "sync_finish_time": _iso(done + skew) if finished else None,
            "last_timestamp_synced": _iso(self.start + skew - 60) if finished else None,
            "rows_synced": self.rows_synced if finished else 0,
            "rows_failed_with_errors": self.rows_failed if finished else 0,
        }


@dataclass
class FakeIntegration:
    """One integration and its job history. Change the attributes to change what the next
    triggered job does.

    Examples:
        >>> from braze_cdi import BrazeCDIClient, SyncFailed
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users", duration=0.0)
        >>> client = BrazeCDIClient(fake.api_key, "US-01", transport=fake)
        >>> str(client.sync_and_wait(users.integration_id).job_status)
        'success'
        >>> users.outcome = "config_error"  # the next sync fails
        >>> try:
        ...     client.sync_and_wait(users.integration_id)
        ... except SyncFailed as error:
        ...     print(error.job.job_status)
        config_error
        >>> users.triggered_jobs
        2
    """

    integration_id: str
    name: str
    duration: float = 1.0
    outcome: Outcome = "success"
    rows_synced: int = 1000
    rows_failed: int = 0
    job_appears_after: float = 0.0
    running_status: str = "running"
    integration_type: str = "users"
    warehouse_type: str = "SNOWFLAKE"
    integration_status: str = "active"
    # When the schedule runs next, in the fake's clock; None: always an hour from now.
    next_scheduled_run: float | None = None
    jobs: list[FakeJob] = field(default_factory=list)

    @property
    def triggered_jobs(self) -> int:
        """How many jobs the trigger endpoint started (not those of ``start_job``)."""
        return sum(job.triggered for job in self.jobs)

    def running_job(self, now: float) -> FakeJob | None:
        return next((j for j in self.jobs if now < j.start + j.duration), None)

    def new_job(self, now: float, *, triggered: bool, **overrides: Any) -> FakeJob:
        # Braze runs one job at a time, so start times strictly increase.
        start = max([now, *(j.start + 0.001 for j in self.jobs)])
        settings: dict[str, Any] = {
            "duration": self.duration,
            "outcome": self.outcome,
            "running_status": self.running_status,
            **overrides,
        }
        outcome = settings["outcome"]
        synced = {"success": self.rows_synced, "partial": self.rows_synced}.get(outcome, 0)
        failed = {"partial": max(self.rows_failed, 1), "error": self.rows_failed}.get(outcome, 0)
        job = FakeJob(
            start=start,
            duration=settings["duration"],
            outcome=outcome,
            rows_synced=settings.get("rows_synced", synced),
            rows_failed=settings.get("rows_failed", failed),
            listed_from=start + settings.get("job_appears_after", self.job_appears_after),
            triggered=triggered,
            running_status=settings["running_status"],
        )
        self.jobs.append(job)
        return job

    def to_json(self, now: float, skew: float) -> dict[str, Any]:
        listed = [j for j in self.jobs if now >= j.listed_from and not j.hidden]
        last = max(listed, key=lambda j: j.start, default=None)
        return {
            "integration_id": self.integration_id,
            "app_group_id": "fake-workspace",
            "integration_name": self.name,
            "integration_type": self.integration_type,
            "integration_status": self.integration_status,
            "contact_emails": "data-team@example.com",
            "last_updated_at": _iso(now + skew),
            "warehouse_type": self.warehouse_type,
            "last_job_start_time": _iso(last.start + skew) if last else None,
            "last_job_status": last.status(now) if last else None,
            "next_scheduled_run": _iso(
                (now + 3600 if self.next_scheduled_run is None else self.next_scheduled_run) + skew
            ),
        }


@dataclass
class Fault:
    """A scripted misbehaviour, used by the next matching ``times`` requests.

    ``status`` and ``body`` replace Braze's answer (``headers`` go with them, or are added to
    the real answer); ``drop`` closes the connection instead of answering; ``delay`` holds the
    answer back (past the client's ``request_timeout``, the client times out). With
    ``takes_effect`` Braze processes the request first (a trigger starts its job); a fault that
    replaces nothing always does. Made by ``FakeBraze.inject``.

    How the answer (replaced or real) goes on the wire:

    - ``raw``: ``body`` (bytes or str) and ``headers`` go out exactly as given: no JSON, no
      ``Content-Type`` or ``Date`` added, and a ``Content-Encoding`` is sent but not applied
      (``headers={"Content-Encoding": "gzip"}, body=b"junk"`` is a corrupt gzip body). The
      fake frames the body (``Content-Length``) unless ``headers`` bring ``Content-Length`` or
      ``Transfer-Encoding`` of their own, which then go out as given (and the connection closes
      after the answer). Without ``raw``, a ``Content-Encoding`` header is not sent.
    - ``trickle``: seconds of pause before each byte of the body, sent one byte at a time
      (served: real seconds; in-process: the fake's clock, and a pause of the request's read
      timeout or more raises ``httpx.ReadTimeout`` as the real network would).
    - ``trickle_headers``: served only: with ``trickle``, the status line and headers are
      trickled too (a slowloris answer).
    - ``endless``: after the body, filler bytes (``b"x"``) follow forever, 64 KiB a chunk
      (served: ``Transfer-Encoding: chunked``, until the client disconnects); never buffered.

    A client that disconnects mid-answer ends it quietly.

    Examples:
        >>> from braze_cdi import BrazeCDIClient
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users", duration=0.0)
        >>> # Braze starts the job, but the answer is lost in a 504 from a proxy.
        >>> fault = fake.inject("trigger", status=504, body="<title>Gateway Timeout</title>",
        ...                     takes_effect=True)
        >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        ...     result = client.sync_and_wait(users.integration_id)
        >>> fault.times, result.triggered, users.triggered_jobs  # used, and one job only
        (0, True, 1)

        On the wire, read with plain httpx (the bytes as they came, not decoded):

        >>> import httpx
        >>> _ = fake.inject("list", status=200, body=b"junk", raw=True,
        ...                 headers={"Content-Encoding": "gzip"})
        >>> with httpx.Client(transport=fake) as http, http.stream(
        ...     "GET", "https://braze.test/cdi/integrations"
        ... ) as response:
        ...     response.headers["content-encoding"], b"".join(response.iter_raw())
        ('gzip', b'junk')
    """

    endpoint: EndpointKind | None = None
    integration_id: str | None = None
    status: int | None = None
    body: str | bytes | dict[str, Any] | list[Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay: float = 0.0
    takes_effect: bool = False
    times: int = 1
    raw: bool = False
    trickle: float = 0.0
    trickle_headers: bool = False
    endless: bool = False

    def __post_init__(self) -> None:
        if self.raw and isinstance(self.body, dict | list):
            raise TypeError("a raw fault's body is bytes or str: it goes out as given")
        if self.trickle < 0:
            raise ValueError("trickle is seconds between bytes, not negative")

    @property
    def replaces(self) -> bool:
        return self.status is not None or self.body is not None

    def matches(self, kind: EndpointKind, integration_id: str | None) -> bool:
        return (
            self.times > 0
            and self.endpoint in (None, kind)
            and self.integration_id in (None, integration_id)
        )


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake received (the authorization header is never kept).

    Examples:
        >>> from braze_cdi import BrazeCDIClient
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        ...     _ = list(client.list_integrations())
        >>> [(r.method, r.path, r.kind, r.status) for r in fake.requests]
        [('GET', '/cdi/integrations', 'list', 200)]
    """

    method: str
    path: str
    kind: EndpointKind | None
    integration_id: str | None
    status: int | None  # None when the connection was dropped
    time: float


@dataclass
class Reply:
    """What the fake answers: a response (``None`` drops the connection), after ``delay``,
    shaped on the wire as ``Fault`` describes (``raw``, ``trickle``, ``trickle_headers``,
    ``endless``). Both ways of serving send ``wire_headers()`` and then ``wire_body()``."""

    response: httpx.Response | None
    delay: float = 0.0
    raw: bool = False
    trickle: float = 0.0
    trickle_headers: bool = False
    endless: bool = False

    def body(self) -> bytes:
        """The body as given (not decoded: a raw body is bytes that may claim any coding)."""
        assert self.response is not None
        stream = self.response.stream
        if isinstance(stream, httpx.ByteStream):  # every answer the fake builds
            return b"".join(stream)
        return self.response.read()

    def wire_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers as sent, framing included (a finite body has a ``Content-Length``)."""
        assert self.response is not None
        given = self.response.headers.raw
        if self.self_framed:
            return given
        dropped = _FRAMING if self.raw else (*_FRAMING, "content-encoding")
        headers = [(k, v) for k, v in given if k.decode("latin-1").lower() not in dropped]
        if self.endless:
            return [*headers, (b"Transfer-Encoding", b"chunked")]
        return [*headers, (b"Content-Length", str(len(self.body())).encode())]

    def wire_body(self) -> Iterator[bytes]:
        """The body in the pieces it goes out in: one byte each when trickled; then, when
        endless, filler forever. Lazy: an endless body is never held in memory."""
        parts = itertools.chain([self.body()], itertools.repeat(_FILLER) if self.endless else ())
        for part in parts:
            if self.trickle:
                yield from (part[i : i + 1] for i in range(len(part)))
            elif part:
                yield part

    @property
    def self_framed(self) -> bool:
        """A finite raw answer whose headers bring their own framing, which may lie: it goes
        out as given, and the connection ends with it."""
        return (
            self.raw
            and not self.endless
            and self.response is not None
            and any(name in self.response.headers for name in _FRAMING)
        )


class FakeBraze(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An in-memory Braze CDI server for tests and demos.

    Use it in-process as the ``transport=`` of a client (sync or async), or serve it on
    loopback with ``with fake.serve() as url:``; both run the same code. It implements the
    three CDI endpoints with Braze's documented pagination (10 per page, ``Link`` headers),
    rate limits and their ``X-RateLimit-*`` headers, "Another job is in progress" while a job
    runs, key and permission checks, and lets a test script faults (``inject``). Every
    request is recorded in ``requests``; served, ``connections`` counts the TCP connections
    clients opened (one client reuses its connections).

    Args:
        api_key: The key it accepts (with every CDI permission); a random one by default.
        clock: Its time source; share a ``FakeClock`` with the client for instant tests.
        rate_limits: The workspace's limits; ``None`` turns limiting off.
        page_size: Items per page (Braze: 10).
        order: How job lists are ordered, which Braze does not document: ``"newest_first"``,
            ``"oldest_first"`` or ``"shuffled"``.
        clock_skew: Seconds Braze's clock is ahead of ours (negative: behind).

    Examples:
        >>> from braze_cdi import BrazeCDIClient
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> integration = fake.add_integration(name="users", history=3)
        >>> with fake.serve() as url, BrazeCDIClient(fake.api_key, url) as client:
        ...     [i.integration_name for i in client.list_integrations()]
        ['users']
        >>> fake.count("list")
        1
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        clock: Clock | None = None,
        rate_limits: RateLimits | None = RateLimits(),  # noqa: B008 (immutable)
        page_size: int = 10,
        order: Order = "newest_first",
        clock_skew: float = 0.0,
    ) -> None:
        self.api_key = api_key or f"fake-{secrets.token_hex(16)}"
        self.clock: Clock = clock if clock is not None else SYSTEM_CLOCK
        self.rate_limits = rate_limits
        self.page_size = page_size
        self.order = order
        self.clock_skew = clock_skew
        self.integrations: dict[str, FakeIntegration] = {}
        self.keys: dict[str, frozenset[str]] = {self.api_key: ALL_PERMISSIONS}
        self.faults: list[Fault] = []
        self.requests: list[RecordedRequest] = []
        self.connections = 0
        self._windows: dict[EndpointKind, tuple[int, int]] = {}
        self._lock = threading.RLock()
        self._random = Random(0)

    # --- setting the scene ------------------------------------------------------------------

    def add_integration(
        self,
        integration_id: str | None = None,
        *,
        name: str | None = None,
        history: int = 0,
        history_duration: float | None = None,
        **settings: Any,
    ) -> FakeIntegration:
        """Add an integration with ``history`` finished jobs in its past.

        The past jobs succeeded, each in ``history_duration`` seconds: by default the
        ``duration`` of the jobs to come, a stable history such as a client learns from. They
        started an hour apart, the last an hour ago; jobs longer than 50 minutes start
        ``history_duration`` + 10 minutes apart instead, so that none overlaps another or is
        still running.

        ``settings`` are ``FakeIntegration`` attributes: ``duration`` (seconds),
        ``outcome``, ``rows_synced``, ``rows_failed``, ``job_appears_after`` (seconds before a
        triggered job is listed), ``running_status``, and what the list says of it:
        ``integration_status`` (``"active"``; ``"paused"``), ``next_scheduled_run`` (a time in
        the fake's clock; an hour from now by default). The id is a UUID drawn from a seeded
        generator (the same in every run) unless given.

        Examples:
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> purchases = fake.add_integration(
            ...     name="purchases", history=3, duration=2.0, outcome="partial", rows_failed=37
            ... )
            >>> purchases.integration_id, len(purchases.jobs)
            ('e3e70682-c209-4cac-629f-6fbed82c07cd', 3)
            >>> [job.duration for job in purchases.jobs]
            [2.0, 2.0, 2.0]

            Past jobs of two hours, 2 h 10 min apart, before a sync that will take a minute:

            >>> orders = fake.add_integration(history=2, history_duration=7200.0, duration=60.0)
            >>> [job.duration for job in orders.jobs], orders.jobs[1].start - orders.jobs[0].start
            ([7200.0, 7200.0], 7800.0)
        """
        with self._lock:
            integration_id = integration_id or str(uuid.UUID(int=self._random.getrandbits(128)))
            integration = FakeIntegration(
                integration_id, name or f"integration-{len(self.integrations) + 1}", **settings
            )
            now = self.clock.time()
            took = integration.duration if history_duration is None else float(history_duration)
            apart = max(3600.0, took + 600.0)
            for age in range(history, 0, -1):
                integration.new_job(
                    now - apart * age, triggered=False, duration=took, outcome="success"
                )
            self.integrations[integration_id] = integration
            return integration

    def start_job(self, integration_id: str, **settings: Any) -> FakeJob:
        """Start a job the way Braze's own schedule does (not through the API).

        ``settings`` override the integration's for this job only.

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", duration=0.0)
            >>> _ = fake.start_job(users.integration_id, duration=0.2)
            >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...     result = client.sync_and_wait(users.integration_id, poll_interval=0.05)
            >>> result.triggered, len(users.jobs)  # waited for the scheduled job, then synced
            (True, 2)
        """
        with self._lock:
            return self.integrations[integration_id].new_job(
                self.clock.time(), triggered=False, **settings
            )

    def add_key(
        self, api_key: str, permissions: set[str] | frozenset[str] = ALL_PERMISSIONS
    ) -> None:
        """Accept another key, with only the given permissions.

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> read_only = "read-only-key-0123456789"
            >>> fake.add_key(read_only, {"cdi.integration_list", "cdi.integration_job_status"})
            >>> with BrazeCDIClient(read_only, "US-01", transport=fake) as client:
            ...     list(client.list_integrations())
            []
        """
        with self._lock:
            self.keys[api_key] = frozenset(permissions)

    def use_rate_limit(self, kind: EndpointKind, calls: int) -> None:
        """Count ``calls`` requests of other clients of the workspace against the current
        window of ``kind``'s rate limit (they are not recorded in ``requests``).

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze, FakeClock
            >>> fake = FakeBraze(clock=FakeClock())  # a still clock: the window cannot roll
            >>> fake.use_rate_limit("list", 45)
            >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...     report = client.diagnose()
            >>> [(w.endpoint, w.remaining, w.other_calls) for w in report.rate_windows]
            [('list', 4, 45)]
        """
        with self._lock:
            now = self.clock.time()
            for _ in range(calls):
                self._spend(kind, now)

    def inject(self, endpoint: EndpointKind | None = None, **fault: Any) -> Fault:
        """Script a fault for the next matching requests; see ``Fault``.

        ``endpoint`` is ``"trigger"``, ``"list"``, ``"status"`` or None (any); the keyword
        arguments are ``Fault``'s: ``status``, ``body``, ``headers``, ``drop``, ``delay``,
        ``takes_effect``, ``times``, ``integration_id``, and how the answer goes on the wire:
        ``raw``, ``trickle``, ``trickle_headers``, ``endless``.

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze, FakeClock
            >>> clock = FakeClock()
            >>> fake = FakeBraze(clock=clock)
            >>> _ = fake.add_integration(name="users")
            >>> _ = fake.inject("list", status=503, times=2)
            >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake, clock=clock) as client:
            ...     names = [i.integration_name for i in client.list_integrations()]
            >>> names, fake.count("list", status=503), fake.count("list", status=200)
            (['users'], 2, 1)
        """
        with self._lock:
            self.faults.append(item := Fault(endpoint=endpoint, **fault))
            return item

    # --- what happened ------------------------------------------------------------------------

    def count(
        self,
        kind: EndpointKind | None = None,
        *,
        status: int | None = None,
        integration_id: str | None = None,
    ) -> int:
        """How many recorded requests match.

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", duration=0.0)
            >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...     _ = client.sync_and_wait(users.integration_id)
            >>> fake.count("trigger"), fake.count("status", integration_id=users.integration_id)
            (1, 2)
        """
        with self._lock:
            return sum(
                kind in (None, r.kind)
                and status in (None, r.status)
                and integration_id in (None, r.integration_id)
                for r in self.requests
            )

    # --- serving ------------------------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        reply = self.reply(request)
        read_timeout = request.extensions.get("timeout", {}).get("read")
        if read_timeout is not None and reply.delay >= read_timeout:
            self.clock.sleep(read_timeout)
            raise httpx.ReadTimeout("timed out", request=request)
        if reply.delay:
            self.clock.sleep(reply.delay)
        if reply.response is None:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return self._wire_response(reply, request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        reply = self.reply(request)
        read_timeout = request.extensions.get("timeout", {}).get("read")
        if read_timeout is not None and reply.delay >= read_timeout:
            await self.clock.asleep(read_timeout)
            raise httpx.ReadTimeout("timed out", request=request)
        if reply.delay:
            await self.clock.asleep(reply.delay)
        if reply.response is None:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return self._wire_response(reply, request)

    def _wire_response(self, reply: Reply, request: httpx.Request) -> httpx.Response:
        """The answer as the network would hand it to httpx: a stream of the wire's bytes,
        which ``iter_raw`` reads undecoded."""
        assert reply.response is not None
        status, headers = reply.response.status_code, reply.wire_headers()
        if not (reply.trickle or reply.endless or reply.raw):
            # A plain answer is read at once, as an in-process transport's answers are.
            return httpx.Response(status, headers=headers, content=reply.body())
        return httpx.Response(
            status, headers=headers, stream=_WireStream(reply, self.clock, request)
        )

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve the fake over HTTP on loopback; yields its base URL.

        The client accepts plain ``http://`` for a loopback address only. ``port=0`` picks a
        free port.

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", duration=0.0)
            >>> with fake.serve() as url, BrazeCDIClient(fake.api_key, url) as client:
            ...     result = client.sync_and_wait(users.integration_id)
            >>> url.startswith("http://127.0.0.1:"), str(result.job_status)
            (True, 'success')
        """
        with serve(self, host, port) as url:
            yield url

    def reply(self, request: httpx.Request) -> Reply:
        """The answer to one request: the heart of the fake, used by every way of serving it."""
        with self._lock:
            now = self.clock.time()
            kind, integration_id, route_error = _route(request)
            fault = next((f for f in self.faults if kind and f.matches(kind, integration_id)), None)
            if fault is not None:
                fault.times -= 1
            response = route_error
            if response is None and (
                fault is None or fault.takes_effect or not (fault.replaces or fault.drop)
            ):
                response = self._answer(request, kind, integration_id, now)
            if fault is not None:
                if fault.drop:
                    response = None
                elif fault.replaces:
                    response = _fault_response(fault, self._date(now))
                elif response is not None:
                    response.headers.update(_wire(fault.headers))
            self.requests.append(
                RecordedRequest(
                    request.method,
                    request.url.path,
                    kind,
                    integration_id,
                    None if response is None else response.status_code,
                    now,
                )
            )
            if fault is None:
                return Reply(response)
            return Reply(
                response,
                fault.delay,
                raw=fault.raw,
                trickle=fault.trickle,
                trickle_headers=fault.trickle_headers,
                endless=fault.endless,
            )

    # --- the endpoints ------------------------------------------------------------------------

    def _answer(
        self,
        request: httpx.Request,
        kind: EndpointKind | None,
        integration_id: str | None,
        now: float,
    ) -> httpx.Response:
        assert kind is not None
        date = self._date(now)
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if key not in self.keys:
            return _json(401, {"message": "Invalid API key"}, date)
        if _NEEDS[kind] not in self.keys[key]:
            return _json(403, {"message": "Access Denied"}, date)
        limit_headers, allowed = self._spend(kind, now)
        if not allowed:
            return _json(429, {"message": "API rate limit exceeded"}, date, limit_headers)
        integration = self.integrations.get(integration_id) if integration_id else None
        if integration_id is not None and integration is None:
            if kind == "trigger" and _UUID.fullmatch(integration_id):
                return _json(404, {"message": "Integration not found"}, date, limit_headers)
            return _json(400, {"message": "Invalid integration ID"}, date, limit_headers)
        cursor = request.url.params.get("cursor")
        if kind == "trigger":
            assert integration is not None
            if integration.running_job(now):
                return _json(429, {"message": "Another job is in progress"}, date, limit_headers)
            integration.new_job(now, triggered=True)
            return _json(202, {"message": "success"}, date, limit_headers)
        if kind == "list":
            items = [i.to_json(now, self.clock_skew) for i in self.integrations.values()]
        else:
            assert integration is not None
            jobs = [j for j in integration.jobs if now >= j.listed_from and not j.hidden]
            items = [j.to_json(now, self.clock_skew) for j in self._ordered(jobs)]
        return self._page(request, items, cursor, date, limit_headers)

    def _ordered(self, jobs: list[FakeJob]) -> list[FakeJob]:
        ordered = sorted(jobs, key=lambda j: j.start, reverse=self.order != "oldest_first")
        if self.order == "shuffled":
            Random(len(jobs)).shuffle(ordered)
        return ordered

    def _page(
        self,
        request: httpx.Request,
        items: list[dict[str, Any]],
        cursor: str | None,
        date: str,
        headers: dict[str, str],
    ) -> httpx.Response:
        offset = 0 if cursor is None else _decode_cursor(cursor)
        if offset is None or offset > len(items):
            return _json(400, {"message": "Invalid cursor"}, date, headers)
        links = []
        path = request.url.path
        if offset > 0:
            links.append(
                f'<{path}?cursor={_encode_cursor(max(0, offset - self.page_size))}>; rel="prev"'
            )
        if offset + self.page_size < len(items):
            links.append(f'<{path}?cursor={_encode_cursor(offset + self.page_size)}>; rel="next"')
        if links:
            headers = {**headers, "Link": ",".join(links)}
        body = {"results": items[offset : offset + self.page_size], "message": "success"}
        return _json(200, body, date, headers)

    def _spend(self, kind: EndpointKind, now: float) -> tuple[dict[str, str], bool]:
        """Count the request against its fixed window (Braze's clock); the headers to send."""
        limit = self.rate_limits.for_kind(kind) if self.rate_limits else None
        if limit is None:
            return {}, True
        braze_now = now + self.clock_skew
        window = math.floor(braze_now / limit.period)
        start, used = self._windows.get(kind, (window, 0))
        if start != window:
            used = 0
        allowed = used < limit.calls
        used += allowed
        self._windows[kind] = (window, used)
        return {
            "X-RateLimit-Limit": str(limit.calls),
            "X-RateLimit-Remaining": str(limit.calls - used),
            "X-RateLimit-Reset": str(math.ceil((window + 1) * limit.period)),
        }, allowed

    def _date(self, now: float) -> str:
        return formatdate(now + self.clock_skew, usegmt=True)


def _route(request: httpx.Request) -> tuple[EndpointKind | None, str | None, httpx.Response | None]:
    path = request.url.raw_path.split(b"?")[0].decode()
    for pattern, method, kind in _ROUTES:
        match = pattern.fullmatch(path)
        if match:
            integration_id = unquote(match.group(1)) if match.groups() else None
            if request.method != method:
                return kind, integration_id, _json(405, {"message": "Method not allowed"}, "")  # type: ignore[return-value]
            return kind, integration_id, None  # type: ignore[return-value]
    return None, None, _json(404, {"message": "Not found"}, "")


class _WireStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A reply's body for the in-process transport, paced on the fake's clock."""

    def __init__(self, reply: Reply, clock: Clock, request: httpx.Request) -> None:
        self._reply, self._clock, self._request = reply, clock, request
        self._read_timeout: float | None = request.extensions.get("timeout", {}).get("read")

    def _pause(self) -> float:
        if self._read_timeout is not None:
            return min(self._reply.trickle, self._read_timeout)
        return self._reply.trickle

    def _check(self) -> None:
        if self._read_timeout is not None and self._reply.trickle >= self._read_timeout:
            raise httpx.ReadTimeout("timed out", request=self._request)

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._reply.wire_body():
            if self._reply.trickle:
                self._clock.sleep(self._pause())
                self._check()
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._reply.wire_body():
            if self._reply.trickle:
                await self._clock.asleep(self._pause())
                self._check()
            yield chunk


def _fault_response(fault: Fault, date: str) -> httpx.Response:
    status = fault.status if fault.status is not None else 200
    body = fault.body
    if fault.raw:
        assert not isinstance(body, dict | list)
        content = body.encode() if isinstance(body, str) else body or b""
        return httpx.Response(
            status, headers=_wire(fault.headers), stream=httpx.ByteStream(content)
        )
    if body is None:
        body = {"message": httpx.codes.get_reason_phrase(status)}
    if isinstance(body, dict | list):
        return _json(status, body, date, fault.headers)
    content = body.encode() if isinstance(body, str) else body
    headers = _wire({"Date": date, "Content-Type": "text/html", **fault.headers})
    return httpx.Response(status, content=content, headers=headers)


def _json(
    status: int, body: Any, date: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    all_headers = _wire(
        {"Content-Type": "application/json", **({"Date": date} if date else {}), **(headers or {})}
    )
    return httpx.Response(status, content=json.dumps(body).encode(), headers=all_headers)


def _wire(headers: dict[str, str]) -> dict[bytes, bytes]:
    """Headers as they go on the wire: a value that is not ASCII goes out as UTF-8, as a
    misbehaving server would send it (httpx builds ASCII values only)."""
    return {name.encode(): value.encode() for name, value in headers.items()}


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"skip:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        return int(text.removeprefix("skip:")) if text.startswith("skip:") else None
    except ValueError:
        return None
