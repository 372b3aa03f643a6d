"""The sync and async clients: they check their input, then carry out the protocol's effects.

Everything they decide is decided in the HTTP-free operations (``_protocol``, ``_retry``,
``_listing``, ``_trigger_and_wait``); a client only sends, sleeps and hands items on.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import httpx
from pydantic import SecretStr

from ._clock import SYSTEM_CLOCK, Clock
from ._config import (
    INSTANCES,
    accept_renamed,
    check_integration_id,
    renamed_keywords,
    renamed_message,
    resolve_rest_endpoint,
)
from ._dashboard import dashboard_url
from ._doctor import Diagnosis, diagnose
from ._errors import BrazeConfigError
from ._exchange import ACCEPT_ENCODING, BodyReader, ClientClosed, NoAnswer
from ._listing import every_item, jobs_since, scan_jobs
from ._logging import BeforeTriggerHook, OnEvent, Subscribers
from ._models import IfRunning, Integration, SyncHandle, SyncJob, SyncResult
from ._protocol import (
    BeforeTrigger,
    Call,
    Effect,
    Emit,
    Notify,
    Op,
    Outcome,
    Send,
    Sleep,
    integrations_call,
    jobs_call,
)
from ._rate_limit import RateLimits, shared_braze_time, shared_budgets
from ._retry import Context, RetryPolicy
from ._schedule import KnownUntil, ScheduleReport, ScheduleWatch, Skip, Where, watch_schedules
from ._secrets import Redactor, secret_api_key
from ._tracing import SyncOperation, traced
from ._trigger_and_wait import (
    Polling,
    start_sync,
    sync_and_wait,
    trigger_once,
    wait_for_sync,
)
from ._version import __version__

__all__ = ["AsyncBrazeCDIClient", "BrazeCDIClient"]

T = TypeVar("T")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)

_IF_RUNNING = ("wait", "attach", "fail")


class _Client(Generic[H]):
    """Configuration, validation and the operations, shared by both clients."""

    @renamed_keywords(timeout="request_timeout")
    def __init__(
        self,
        api_key: str | SecretStr | None,
        rest_endpoint: str,
        *,
        retry: RetryPolicy | None = None,
        request_timeout: float = 30.0,
        rate_limits: RateLimits | None = RateLimits(),  # noqa: B008 (immutable)
        transport: Any = None,
        clock: Clock | None = None,
    ) -> None:
        # First, and nothing here can fail: from now on no frame holds the key in plain text.
        api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)  # type: ignore[arg-type]
        api_key = secret_api_key(api_key)
        if not (isinstance(request_timeout, int | float) and request_timeout > 0):
            raise BrazeConfigError(
                f"request_timeout must be a positive number of seconds, not {request_timeout!r}."
            )
        if not isinstance(retry, RetryPolicy | None):
            raise BrazeConfigError(f"retry must be a RetryPolicy, not {type(retry).__name__}.")
        if not isinstance(rate_limits, RateLimits | None):
            raise BrazeConfigError(
                f"rate_limits must be a RateLimits or None, not {type(rate_limits).__name__}."
            )
        self.rest_endpoint = resolve_rest_endpoint(rest_endpoint)
        self.retry = retry if retry is not None else RetryPolicy()
        self.request_timeout = float(request_timeout)
        self.rate_limits = rate_limits
        self._redact = Redactor(api_key)
        self._clock: Clock = clock if clock is not None else SYSTEM_CLOCK
        self._budgets = shared_budgets(
            rate_limits,
            host=self.rest_endpoint,
            api_key=api_key,
            clock=self._clock,
            # A trigger's slot is held through the look at the job list before it.
            longest_request=self.retry.max_duration + self.request_timeout,
        )
        self._braze_time = shared_braze_time(self.rest_endpoint, self._clock)
        self._options: dict[str, Any] = {
            "base_url": self.rest_endpoint,
            "auth": _BearerAuth(api_key),
            "headers": {
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
                "Content-Type": "application/json",
                "User-Agent": f"braze-cdi/{__version__}",
            },
            "timeout": self.request_timeout,
            "follow_redirects": False,
            "transport": transport,
        }
        self._http: H = self._open()

    def _open(self) -> H:
        raise NotImplementedError

    @property
    def timeout(self) -> float:
        """Deprecated: ``request_timeout``, its new name."""
        warnings.warn(
            renamed_message("timeout", "request_timeout", of=type(self).__name__),
            DeprecationWarning,
            stacklevel=2,
        )
        return self.request_timeout

    @classmethod
    def from_env(cls, **options: Any) -> Any:
        """A client configured by ``BRAZE_API_KEY`` and ``BRAZE_REST_ENDPOINT``.

        Keyword arguments are passed on to the constructor (the deprecated ``timeout`` as
        ``request_timeout``, with a ``DeprecationWarning``).

        Raises:
            BrazeConfigError: a variable is missing (the message names it), or its value is
                invalid.

        Examples:
            >>> import os
            >>> from braze_cdi import BrazeCDIClient
            >>> os.environ["BRAZE_API_KEY"] = "my-rest-api-key-1234"
            >>> os.environ["BRAZE_REST_ENDPOINT"] = "EU-01"
            >>> BrazeCDIClient.from_env(request_timeout=10.0)
            BrazeCDIClient(rest_endpoint='https://rest.fra-01.braze.eu')
        """
        accept_renamed(options, {"timeout": "request_timeout"}, of=cls.__name__, stacklevel=2)
        missing = [
            name for name in ("BRAZE_API_KEY", "BRAZE_REST_ENDPOINT") if not os.environ.get(name)
        ]
        if missing:
            raise BrazeConfigError(
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set.",
                hint="Set BRAZE_API_KEY to a REST API key and BRAZE_REST_ENDPOINT to your "
                "instance (for example US-01 or https://rest.iad-01.braze.com).",
            )
        return cls(
            SecretStr(os.environ["BRAZE_API_KEY"]), os.environ["BRAZE_REST_ENDPOINT"], **options
        )

    def __repr__(self) -> str:
        # getattr: a constructor that failed half way leaves a client to repr in its traceback.
        return f"{type(self).__name__}(rest_endpoint={getattr(self, 'rest_endpoint', None)!r})"

    def dashboard_url(self, integration_id: str) -> str | None:
        """The integration's page in the Braze dashboard of this client's instance, or ``None``
        where that is not known (see ``braze_cdi.dashboard_url``). Makes no request.

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> with BrazeCDIClient("my-rest-api-key-1234", "US-03") as client:
            ...     client.dashboard_url("abc")
            'https://dashboard-03.braze.com/integrations/cloud_data_ingestion/abc'
        """
        return dashboard_url(self.rest_endpoint, integration_id)

    # --- operations: built eagerly, so bad input fails before any request ---------------------

    def _context(self) -> Context:
        return Context(
            self.retry,
            self._budgets,
            self._clock,
            self._redact,
            endpoint=self.rest_endpoint,
            braze_time=self._braze_time,
        )

    def _exchange_deadline(self, effect: Send) -> float:
        """When the exchange for ``effect`` must end, in real time (``time.monotonic``): after
        the client's ``request_timeout``, or at the operation's deadline if that comes first.

        The operation's deadline is on the client's clock, which tests make virtual; an
        exchange is real I/O, so only the time left is carried over.
        """
        seconds = self.request_timeout
        if effect.deadline is not None:
            seconds = min(seconds, effect.deadline - self._clock.monotonic())
        return time.monotonic() + seconds

    def _trigger_op(self, integration_id: str) -> Op[None]:
        return trigger_once(self._context(), check_integration_id(integration_id))

    def _integrations_op(self) -> Op[None]:
        return every_item(self._context(), integrations_call, Integration)

    def _jobs_op(self, integration_id: str, since: datetime | None) -> Op[None]:
        check_integration_id(integration_id)
        if since is not None:
            if not isinstance(since, datetime) or since.tzinfo is None:
                raise BrazeConfigError(f"since must be an aware datetime, not {since!r}.")
            return jobs_since(self._context(), integration_id, since)
        return every_item(
            self._context(), lambda cursor: jobs_call(integration_id, cursor), SyncJob
        )

    def _latest_op(self, integration_id: str) -> Op[SyncJob | None]:
        scan = yield from scan_jobs(self._context(), integration_id, since=None)
        return scan.newest[0] if scan.newest else None

    def _start_op(
        self,
        integration_id: str,
        *,
        if_running: IfRunning,
        max_wait: float,
        poll_interval: float,
        resume: SyncHandle | None,
    ) -> Op[SyncHandle]:
        check_integration_id(integration_id)
        _check_if_running(if_running)
        _check_resume(resume, integration_id)
        polling = _polling(poll_interval, None, max_wait)
        ctx = self._context()
        return start_sync(
            ctx,
            integration_id,
            if_running=if_running,
            deadline=self._clock.monotonic() + max_wait,
            polling=polling,
            resume=resume,
        )

    def _wait_op(
        self,
        handle: SyncHandle,
        *,
        poll_interval: float,
        max_wait: float,
        fail_on_partial: bool,
        max_poll_interval: float | None,
    ) -> Op[SyncResult]:
        if not isinstance(handle, SyncHandle):
            raise BrazeConfigError(
                f"wait_for_sync needs the SyncHandle of start_sync, not {handle!r}."
            )
        check_integration_id(handle.integration_id)
        polling = _polling(poll_interval, max_poll_interval, max_wait)
        return wait_for_sync(
            self._context(),
            handle,
            timeout=max_wait,
            polling=polling,
            fail_on_partial=fail_on_partial,
        )

    def _sync_and_wait_op(
        self,
        integration_id: str,
        *,
        poll_interval: float = 10.0,
        max_wait: float = 3600.0,
        if_running: IfRunning = "wait",
        fail_on_partial: bool = False,
        max_poll_interval: float | None = None,
        resume: SyncHandle | None = None,
    ) -> Op[SyncResult]:
        check_integration_id(integration_id)
        _check_if_running(if_running)
        _check_resume(resume, integration_id)
        polling = _polling(poll_interval, max_poll_interval, max_wait)
        return sync_and_wait(
            self._context(),
            integration_id,
            if_running=if_running,
            timeout=max_wait,
            polling=polling,
            fail_on_partial=fail_on_partial,
            resume=resume,
        )

    def _diagnose_op(
        self, find_instance: bool, instances: Mapping[str, str] | None
    ) -> Op[Diagnosis]:
        resolved = None
        if find_instance:
            table = INSTANCES if instances is None else instances
            resolved = {name: resolve_rest_endpoint(url) for name, url in table.items()}
        return diagnose(self._context(), self.rest_endpoint, instances=resolved)

    def _watch_op(
        self,
        watch: ScheduleWatch,
        integration_ids: Iterable[str] | None,
        *,
        where: Where | None,
        grace: timedelta,
        max_job_reads: int,
        known_until: KnownUntil | None,
        skip: Skip | None,
    ) -> Op[ScheduleReport]:
        if not isinstance(watch, ScheduleWatch):
            raise BrazeConfigError(
                f"watch must be a ScheduleWatch (ScheduleWatch() the first time), not {watch!r}."
            )
        ids = None
        if integration_ids is not None:
            if isinstance(integration_ids, str):
                raise BrazeConfigError("integration_ids is a list of ids, not one string.")
            ids = list(dict.fromkeys(check_integration_id(i) for i in integration_ids))
        if not isinstance(grace, timedelta) or grace <= timedelta(0):
            raise BrazeConfigError(f"grace must be a positive timedelta, not {grace!r}.")
        if isinstance(max_job_reads, bool) or not (
            isinstance(max_job_reads, int) and max_job_reads >= 0
        ):
            raise BrazeConfigError(
                f"max_job_reads must be a whole number, 0 or more, not {max_job_reads!r}."
            )
        if where is not None and not callable(where):
            raise BrazeConfigError(f"where must be callable, not {where!r}.")
        return watch_schedules(
            self._context(),
            watch,
            integration_ids=ids,
            where=where,
            grace=grace,
            max_job_reads=max_job_reads,
            known_until=known_until,
            skip=skip,
        )


def _check_resume(resume: object, integration_id: str) -> None:
    if resume is None:
        return
    if not isinstance(resume, SyncHandle):
        raise BrazeConfigError(
            f"resume must be the SyncHandle before_trigger was given, not {type(resume).__name__}."
        )
    if resume.integration_id != integration_id:
        raise BrazeConfigError(
            f"resume is the record of integration {resume.integration_id}, not {integration_id}."
        )


def _check_if_running(value: object) -> None:
    if value not in _IF_RUNNING:
        raise BrazeConfigError(
            f"if_running must be one of {', '.join(_IF_RUNNING)}, not {value!r}."
        )


def _polling(poll_interval: float, max_poll_interval: float | None, max_wait: float) -> Polling:
    for name, value in (("poll_interval", poll_interval), ("max_wait", max_wait)):
        if not (isinstance(value, int | float) and value > 0):
            raise BrazeConfigError(f"{name} must be a positive number of seconds, not {value!r}.")
    if max_poll_interval is not None and not (
        isinstance(max_poll_interval, int | float) and max_poll_interval > 0
    ):
        raise BrazeConfigError(f"max_poll_interval must be positive, not {max_poll_interval!r}.")
    return Polling(float(poll_interval), float(max_poll_interval or max(poll_interval, 60.0)))


class BrazeCDIClient(_Client[httpx.Client]):
    """The Braze CDI client: one workspace's three CDI endpoints, and syncs started and waited
    for safely on top of them.

    Use it as a context manager (or call ``close``). Every argument is checked before any
    request; the key is never shown (``repr`` shows the endpoint only).

    Args:
        api_key: A REST API key with the ``cdi.integration_sync``, ``cdi.integration_list`` and
            ``cdi.integration_job_status`` permissions (each call needs only its own).
        rest_endpoint: Your instance's REST endpoint: a URL, a host, or an instance name such as
            ``"US-01"``. Plain ``http://`` is accepted only for a loopback test server.
        retry: How transient failures are retried.
        request_timeout: Seconds each HTTP exchange may take, from connecting to the last byte
            of the answer (or less, when the call's ``max_wait`` or the retry policy's
            ``max_duration`` ends first). ``timeout`` is its deprecated name.
        rate_limits: Client-side budgets per endpoint; ``None`` turns them off. Every client of
            the process with the same endpoint and key shares them.
        transport: An httpx transport, such as ``braze_cdi.testing.FakeBraze``.
        clock: The time source; tests pass ``braze_cdi.testing.FakeClock``.

    Examples:
        >>> from braze_cdi import BrazeCDIClient
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> integration = fake.add_integration(name="users", duration=0.0)
        >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        ...     result = client.sync_and_wait(integration.integration_id, poll_interval=0.01)
        >>> result.job.job_status
        <JobStatus.SUCCESS: 'success'>
    """

    def _open(self) -> httpx.Client:
        from ._bounded_network import bound_network  # noqa: PLC0415 (imports httpcore)

        return bound_network(httpx.Client(**self._options))

    def __enter__(self) -> BrazeCDIClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (``with`` does it on leaving the block).

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> client = BrazeCDIClient("my-rest-api-key-1234", "US-01")
            >>> client.close()
        """
        self._http.close()

    def trigger_sync(self, integration_id: str, *, on_event: OnEvent | None = None) -> None:
        """Send one trigger, retrying only failures that provably did not reach Braze.

        The bare endpoint call: Braze answers without a job id. Prefer ``start_sync``, which
        also finds the job the trigger started, and ``sync_and_wait``.

        Raises:
            SyncAlreadyRunning: a job of this integration is running.
            BrazeServerError: Braze, or a proxy, failed; the trigger may have started a job, so
                the error is not ``retryable``: look at the integration's jobs first.
            BrazeTransportError: no answer; not ``retryable`` either once the request may have
                reached Braze (``connected`` is True).
            BrazeCDIError: any other failure, typed.

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users")
            >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...     client.trigger_sync(users.integration_id)
            >>> users.triggered_jobs
            1
        """
        self._run(self._trigger_op(integration_id), Subscribers(on_event))

    def list_integrations(self, *, on_event: OnEvent | None = None) -> Iterator[Integration]:
        """Every integration of the workspace, reading further pages only as they are needed.

        Needs the ``cdi.integration_list`` permission. ``on_event``, here and on every other
        call, is a subscriber to the call's ``braze_cdi.events`` (for listings, its retries and
        rate-budget waits).

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> for name in ("users", "purchases"):
            ...     _ = fake.add_integration(name=name)
            >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...     [integration.integration_name for integration in client.list_integrations()]
            ['users', 'purchases']
        """
        return self._iterate(self._integrations_op(), Subscribers(on_event))

    def list_sync_jobs(
        self,
        integration_id: str,
        *,
        since: datetime | None = None,
        on_event: OnEvent | None = None,
    ) -> Iterator[SyncJob]:
        """Every sync job of the integration, in Braze's order, reading pages lazily.

        With ``since`` (an aware datetime in Braze's clock, such as a job's
        ``sync_start_time``), only the jobs that started at or after it: when Braze lists newest
        first, reading stops at the first page that reaches back past ``since``. Needs the
        ``cdi.integration_job_status`` permission.

        Examples:
            >>> from itertools import islice
            >>> from braze_cdi import BrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", history=25)  # 3 pages
            >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...     recent = list(islice(client.list_sync_jobs(users.integration_id), 5))
            ...     since = recent[-1].sync_start_time
            ...     again = list(client.list_sync_jobs(users.integration_id, since=since))
            >>> len(recent), len(again), fake.count("status")  # one page read each time
            (5, 5, 2)
        """
        return self._iterate(self._jobs_op(integration_id, since), Subscribers(on_event))

    def latest_sync_job(
        self, integration_id: str, *, on_event: OnEvent | None = None
    ) -> SyncJob | None:
        """The job with the latest ``sync_start_time`` (never judged by position), or ``None``.

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze(order="shuffled")  # Braze does not document its list order
            >>> users = fake.add_integration(name="users", history=12)
            >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...     latest = client.latest_sync_job(users.integration_id)
            ...     listed = list(client.list_sync_jobs(users.integration_id))
            >>> latest == max(listed, key=lambda job: job.sync_start_time), latest == listed[0]
            (True, False)
        """
        check_integration_id(integration_id)
        return self._run(self._latest_op(integration_id), Subscribers(on_event))

    @renamed_keywords(timeout="max_wait")
    def start_sync(
        self,
        integration_id: str,
        *,
        if_running: IfRunning = "wait",
        max_wait: float = 3600.0,
        poll_interval: float = 10.0,
        on_event: OnEvent | None = None,
        resume: SyncHandle | None = None,
        before_trigger: BeforeTriggerHook | None = None,
    ) -> SyncHandle:
        """Trigger a sync and return a handle to wait for it with, maybe in another process.

        First reads the job list to note the newest job and Braze's time: the sync's job is
        the first one to start after both. A trigger whose outcome is unknown (a timeout or a
        5xx once the request was sent) is not resent blindly: a new job in the list means it
        worked.

        Args:
            integration_id: The integration to sync.
            if_running: When the integration is syncing already: ``"wait"`` for that job to end,
                then trigger; ``"attach"`` to adopt it; ``"fail"`` to raise ``SyncAlreadyRunning``.
            max_wait: Seconds that waiting for a running job (``"wait"``) may take.
                ``timeout`` is its deprecated name.
            poll_interval: Seconds between polls while waiting for a running job.
            on_event: Called with each ``braze_cdi.events.SyncEvent`` of the call, after the
                ``braze_cdi`` logger has it. An exception it raises is logged, never raised.
            before_trigger: Called with the record of the trigger (a ``SyncHandle``) right
                before it is sent, to persist it where a later attempt of the same pipeline run
                finds it. An exception it raises is raised, and no trigger is sent.
            resume: The record an earlier attempt persisted: the job its trigger started is
                adopted (``braze_cdi.events.Resumed``) rather than triggering again; a trigger
                is sent only once Braze's job list shows the earlier one started nothing
                (allowing a minute for Braze to list a new job).

        Returns:
            A ``SyncHandle`` (``triggered`` is False when a running job was adopted).

        Raises:
            SyncAlreadyRunning: a job is running and ``if_running="fail"``.
            SyncTimeout: waiting for a running job took longer than ``max_wait``.
            BrazeCDIError: any other failure, typed.

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", duration=0.0)
            >>> _ = fake.start_job(users.integration_id, duration=600)  # Braze's schedule
            >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...     handle = client.start_sync(users.integration_id, if_running="attach")
            >>> handle.triggered, users.triggered_jobs
            (False, 0)
        """
        op = self._start_op(
            integration_id,
            if_running=if_running,
            max_wait=max_wait,
            poll_interval=poll_interval,
            resume=resume,
        )
        subscribers = Subscribers(on_event, before_trigger=before_trigger)
        return self._traced("start_sync", integration_id, op, subscribers)

    @renamed_keywords(timeout="max_wait")
    def wait_for_sync(
        self,
        handle: SyncHandle,
        *,
        poll_interval: float = 10.0,
        max_wait: float = 3600.0,
        fail_on_partial: bool = False,
        max_poll_interval: float | None = None,
        on_event: OnEvent | None = None,
    ) -> SyncResult:
        """Wait for the job a ``start_sync`` handle points at to finish.

        Polls every ``poll_interval`` seconds, slowing gently to ``max_poll_interval`` (default
        60 s) while the job runs. A poll that fails for a passing reason (after its own
        retries) is logged and the wait goes on; only ``max_wait`` (seconds the whole wait may
        take; ``timeout`` is its deprecated name) ends it.

        Raises:
            SyncFailed: the job ended ``error`` or ``config_error`` (or ``partial`` with
                ``fail_on_partial``).
            SyncTimeout: ``max_wait`` seconds passed first.

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze, FakeClock
            >>> clock = FakeClock()  # the fake's jobs and the client's polls share its time
            >>> fake = FakeBraze(clock=clock)
            >>> users = fake.add_integration(name="users", duration=200.0)
            >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake, clock=clock) as client:
            ...     handle = client.start_sync(users.integration_id)
            ...     result = client.wait_for_sync(handle, poll_interval=10.0)
            >>> result.job_status, result.status_calls, clock.sleeps
            (<JobStatus.SUCCESS: 'success'>, 8, [10.0, 15.0, 22.5, 33.75, 50.625, 60.0, 60.0])
        """
        op = self._wait_op(
            handle,
            poll_interval=poll_interval,
            max_wait=max_wait,
            fail_on_partial=fail_on_partial,
            max_poll_interval=max_poll_interval,
        )
        return self._traced("wait_for_sync", handle.integration_id, op, Subscribers(on_event))

    @renamed_keywords(timeout="max_wait")
    def sync_and_wait(
        self,
        integration_id: str,
        *,
        poll_interval: float = 10.0,
        max_wait: float = 3600.0,
        if_running: IfRunning = "wait",
        fail_on_partial: bool = False,
        max_poll_interval: float | None = None,
        on_event: OnEvent | None = None,
        resume: SyncHandle | None = None,
        before_trigger: BeforeTriggerHook | None = None,
    ) -> SyncResult:
        """``start_sync``, then ``wait_for_sync``, within one ``max_wait``: seconds the whole
        call may take (``timeout`` is its deprecated name). ``before_trigger`` and ``resume``
        make a retried pipeline run adopt the sync it started: see ``start_sync``.

        Returns:
            A ``SyncResult``: the job that ended ``success`` or ``partial``.

        Raises:
            SyncFailed: the job ended ``error`` or ``config_error`` (or ``partial`` with
                ``fail_on_partial``).
            SyncTimeout: ``max_wait`` seconds passed first, waiting for a running job included.

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", duration=0.2, rows_synced=1200)
            >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...     result = client.sync_and_wait(users.integration_id, poll_interval=0.1)
            >>> str(result.job_status), result.job.rows_synced
            ('success', 1200)
        """
        op = self._sync_and_wait_op(
            integration_id,
            poll_interval=poll_interval,
            max_wait=max_wait,
            if_running=if_running,
            fail_on_partial=fail_on_partial,
            max_poll_interval=max_poll_interval,
            resume=resume,
        )
        subscribers = Subscribers(on_event, before_trigger=before_trigger)
        return self._traced("sync_and_wait", integration_id, op, subscribers)

    def diagnose(
        self,
        *,
        find_instance: bool = False,
        instances: Mapping[str, str] | None = None,
        on_event: OnEvent | None = None,
    ) -> Diagnosis:
        """Check the key, the endpoint and the workspace, and say what to fix: what
        ``braze-cdi doctor`` prints.

        Checks that the endpoint answers (naming the step that fails: DNS, connect, TLS,
        HTTP), that it accepts the key, the ``cdi.integration_list`` and
        ``cdi.integration_job_status`` permissions (by reading the integration list and one
        integration's jobs; ``cdi.integration_sync`` cannot be checked without triggering, and
        the doctor never triggers), how much of each rate window other clients of the workspace
        use, the offset of this machine's clock from Braze's, and each integration (paused, last
        job ``error`` or ``config_error``, a scheduled run long overdue). Each request is one
        attempt: a failure is reported, never retried, never raised.

        Args:
            find_instance: When the endpoint refuses the key (401), send the key to each of
                Braze's other instances in turn, and name the one that accepts it. Opt-in:
                it sends the key to every Braze instance tried.
            instances: The instances ``find_instance`` tries, name to REST endpoint;
                ``INSTANCES`` by default (tests point the names at fake servers).
            on_event: A subscriber to the call's events (its rate-budget waits).

        Returns:
            A ``Diagnosis``: ``ok`` when no finding is a problem; each problem has its ``fix``.

        Raises:
            BrazeConfigError: an entry of ``instances`` is not a REST endpoint.

        Examples:
            >>> from braze_cdi import BrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> _ = fake.add_integration(name="users", history=2)
            >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...     report = client.diagnose()
            >>> report.ok, [f.subject for f in report.findings if f.verdict == "not_checked"]
            (True, ['cdi.integration_sync'])
            >>> print(report.findings[0].summary)
            rest.iad-01.braze.com resolves and answers over TLS.
        """
        op = self._diagnose_op(find_instance, instances)
        return self._run(op, Subscribers(on_event))

    def watch_schedules(
        self,
        watch: ScheduleWatch,
        integration_ids: Iterable[str] | None = None,
        *,
        where: Where | None = None,
        grace: timedelta = timedelta(minutes=30),
        max_job_reads: int = 50,
        known_until: KnownUntil | None = None,
        skip: Skip | None = None,
        on_event: OnEvent | None = None,
    ) -> ScheduleReport:
        """Look at Braze's own schedules once: the jobs they ran since ``watch``, and whether
        each schedule ran.

        Reads the integration list once (one request per 10 integrations), then the job list of
        an integration only when its list entry shows a job not accounted for yet: at most
        ``max_job_reads`` of them, those never read first, then those read longest ago; the
        others wait for a later call (``ScheduleReport.waiting``). An integration seen for the
        first time reports only its latest job, once that job has finished; a running job is
        reported once it ends. A job list that fails to read is read again by a later call; a
        retryable failure (Braze or the network in trouble) ends this call's reads.

        Args:
            watch: What earlier calls accounted for: ``ScheduleWatch()`` the first time, then
                the ``watch`` of the last report (keep it with ``dumps``/``loads``).
            integration_ids: The integrations to watch; by default every integration Braze
                lists (that ``where`` accepts). An id Braze does not list fails its verdict.
            where: Which listed integrations to watch when no ids are given.
            grace: How late a scheduled run may be before its verdict fails.
            max_job_reads: The most job lists one call reads (Braze allows 100 a minute).
            known_until: Per integration id (a mapping, or a function called for the
                integrations about to be read), the ``sync_start_time`` up to which the caller
                accounts for the jobs itself, such as those its own syncs ran; or ``None``.
            skip: Integrations to leave alone in this call (a collection of ids, or a function
                of the id), such as those a sync of the caller's is running for.
            on_event: A subscriber to the call's events (its retries and rate-budget waits).

        Returns:
            A ``ScheduleReport``: the new finished jobs (oldest first), every verdict and those
            that changed, the integrations left waiting, and the ``watch`` for the next call.

        Raises:
            BrazeCDIError: the integration list could not be read.

        Examples:
            >>> from braze_cdi import BrazeCDIClient, ScheduleWatch
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", history=3)
            >>> overdue = fake.clock.time() - 7200  # two hours ago
            >>> late = fake.add_integration(name="events", next_scheduled_run=overdue)
            >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...     first = client.watch_schedules(ScheduleWatch())
            ...     _ = fake.start_job(users.integration_id, duration=0.0, rows_synced=7)
            ...     second = client.watch_schedules(first.watch)
            >>> [len(jobs) for jobs in first.jobs.values()]
            [1]
            >>> [job.rows_synced for job in second.jobs[users.integration_id]]
            [7]
            >>> [(v.integration_id == late.integration_id, v.passed) for v in first.changed]
            [(False, True), (True, False)]
            >>> second.changed, fake.count("status")
            ([], 2)
        """
        op = self._watch_op(
            watch,
            integration_ids,
            where=where,
            grace=grace,
            max_job_reads=max_job_reads,
            known_until=known_until,
            skip=skip,
        )
        return self._run(op, Subscribers(on_event))

    # --- the driver -----------------------------------------------------------------------

    def _traced(
        self, operation: SyncOperation, integration_id: str, op: Op[T], subscribers: Subscribers
    ) -> T:
        with traced(operation, integration_id) as trace:
            result = self._run(op, subscribers.traced_by(trace))
            trace.ended(result)
            return result

    def _run(self, op: Op[T], subscribers: Subscribers) -> T:
        driver = self._drive(op, subscribers)
        while True:
            try:
                next(driver)
            except StopIteration as done:
                result: T = done.value
                return result

    def _iterate(self, op: Op[None], subscribers: Subscribers) -> Iterator[Any]:
        yield from self._drive(op, subscribers)

    def _drive(self, op: Op[T], subscribers: Subscribers) -> Iterator[Any]:
        value: Any = None
        try:
            while True:
                try:
                    effect = op.send(value)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
                value = None
                if isinstance(effect, Emit):
                    yield effect.item
                elif isinstance(effect, Notify):
                    subscribers.notify(effect.event)
                elif isinstance(effect, BeforeTrigger):
                    value = subscribers.persist(effect.record)
                elif isinstance(effect, Sleep):
                    self._clock.sleep(effect.seconds)
                else:
                    value = self._send(effect)
        finally:
            op.close()

    def _send(self, effect: Send) -> Outcome:
        from ._bounded_network import exchange_deadline  # noqa: PLC0415 (loaded by _open)

        if self._http.is_closed:
            return NoAnswer.of(ClientClosed(), self._redact)
        deadline, call = self._exchange_deadline(effect), effect.call
        try:
            with exchange_deadline(deadline):
                request = self._http.build_request(
                    call.method, call.path, params=call.params, timeout=_left(deadline)
                )
                response = self._http.send(request, stream=True)
                try:
                    body = BodyReader(response, deadline)
                    if response.is_stream_consumed:
                        body.decoded(response.content)
                    else:
                        for chunk in response.iter_raw():
                            body.feed(chunk)
                            if body.full:
                                break
                    return body.finish(response)
                finally:
                    response.close()
        except Exception as error:  # whatever the network or a transport did is an outcome
            return NoAnswer.of(error, self._redact)


class AsyncBrazeCDIClient(_Client[httpx.AsyncClient]):
    """The async Braze CDI client: the same arguments and methods as ``BrazeCDIClient``,
    awaited, plus ``sync_many``. Listings are async iterators (``async for``).

    Examples:
        >>> import asyncio
        >>> from braze_cdi import AsyncBrazeCDIClient
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> ids = [fake.add_integration(duration=0.0).integration_id for _ in range(3)]
        >>> async def main():
        ...     async with AsyncBrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        ...         return await client.sync_many(ids, poll_interval=0.01)
        >>> [str(result.job.job_status) for result in asyncio.run(main())]
        ['success', 'success', 'success']
    """

    _loop: object = None  # the event loop the connections belong to, once used

    def _open(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(**self._options)

    async def __aenter__(self) -> AsyncBrazeCDIClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (``async with`` does it on leaving the block).

        Examples:
            >>> import asyncio
            >>> from braze_cdi import AsyncBrazeCDIClient
            >>> asyncio.run(AsyncBrazeCDIClient("my-rest-api-key-1234", "US-01").aclose())
        """
        import asyncio  # noqa: PLC0415

        await self._http_of_this_loop(asyncio.get_running_loop()).aclose()

    async def trigger_sync(self, integration_id: str, *, on_event: OnEvent | None = None) -> None:
        """See ``BrazeCDIClient.trigger_sync``; ``await`` it.

        Examples:
            >>> import asyncio
            >>> from braze_cdi import AsyncBrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users")
            >>> async def trigger():
            ...     async with AsyncBrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...         await client.trigger_sync(users.integration_id)
            >>> asyncio.run(trigger())
            >>> users.triggered_jobs
            1
        """
        await self._run(self._trigger_op(integration_id), Subscribers(on_event))

    def list_integrations(self, *, on_event: OnEvent | None = None) -> AsyncIterator[Integration]:
        """See ``BrazeCDIClient.list_integrations``; use with ``async for``.

        Examples:
            >>> import asyncio
            >>> from braze_cdi import AsyncBrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> _ = fake.add_integration(name="users")
            >>> async def names():
            ...     async with AsyncBrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...         return [i.integration_name async for i in client.list_integrations()]
            >>> asyncio.run(names())
            ['users']
        """
        return self._iterate(self._integrations_op(), Subscribers(on_event))

    def list_sync_jobs(
        self,
        integration_id: str,
        *,
        since: datetime | None = None,
        on_event: OnEvent | None = None,
    ) -> AsyncIterator[SyncJob]:
        """See ``BrazeCDIClient.list_sync_jobs``; use with ``async for``.

        Examples:
            >>> import asyncio
            >>> from braze_cdi import AsyncBrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", history=12)
            >>> async def count_jobs():
            ...     async with AsyncBrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...         return len([j async for j in client.list_sync_jobs(users.integration_id)])
            >>> asyncio.run(count_jobs())
            12
        """
        return self._iterate(self._jobs_op(integration_id, since), Subscribers(on_event))

    async def latest_sync_job(
        self, integration_id: str, *, on_event: OnEvent | None = None
    ) -> SyncJob | None:
        """See ``BrazeCDIClient.latest_sync_job``; ``await`` it.

        Examples:
            >>> import asyncio
            >>> from braze_cdi import AsyncBrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users")
            >>> async def latest():
            ...     async with AsyncBrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...         return await client.latest_sync_job(users.integration_id)
            >>> print(asyncio.run(latest()))  # an integration that never ran
            None
        """
        check_integration_id(integration_id)
        return await self._run(self._latest_op(integration_id), Subscribers(on_event))

    @renamed_keywords(timeout="max_wait")
    async def start_sync(
        self,
        integration_id: str,
        *,
        if_running: IfRunning = "wait",
        max_wait: float = 3600.0,
        poll_interval: float = 10.0,
        on_event: OnEvent | None = None,
        resume: SyncHandle | None = None,
        before_trigger: BeforeTriggerHook | None = None,
    ) -> SyncHandle:
        """See ``BrazeCDIClient.start_sync``; ``await`` it.

        Examples:
            >>> import asyncio
            >>> from braze_cdi import AsyncBrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", duration=0.1)
            >>> async def start_then_wait():
            ...     async with AsyncBrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...         handle = await client.start_sync(users.integration_id)
            ...         return await client.wait_for_sync(handle, poll_interval=0.05)
            >>> str(asyncio.run(start_then_wait()).job_status)
            'success'
        """
        op = self._start_op(
            integration_id,
            if_running=if_running,
            max_wait=max_wait,
            poll_interval=poll_interval,
            resume=resume,
        )
        subscribers = Subscribers(on_event, before_trigger=before_trigger)
        return await self._traced("start_sync", integration_id, op, subscribers)

    @renamed_keywords(timeout="max_wait")
    async def wait_for_sync(
        self,
        handle: SyncHandle,
        *,
        poll_interval: float = 10.0,
        max_wait: float = 3600.0,
        fail_on_partial: bool = False,
        max_poll_interval: float | None = None,
        on_event: OnEvent | None = None,
    ) -> SyncResult:
        """See ``BrazeCDIClient.wait_for_sync``; ``await`` it.

        Examples:
            >>> import asyncio
            >>> from braze_cdi import AsyncBrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> from braze_cdi import SyncHandle
            >>> users = fake.add_integration(name="users", duration=0.1)
            >>> async def wait(handle: SyncHandle):
            ...     async with AsyncBrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...         return await client.wait_for_sync(handle, poll_interval=0.05, max_wait=60)
            >>> fake.start_job(users.integration_id).duration  # Braze's schedule starts one
            0.1
            >>> handle = SyncHandle(integration_id=users.integration_id, triggered=False)
            >>> asyncio.run(wait(handle)).job.rows_synced
            1000
        """
        op = self._wait_op(
            handle,
            poll_interval=poll_interval,
            max_wait=max_wait,
            fail_on_partial=fail_on_partial,
            max_poll_interval=max_poll_interval,
        )
        return await self._traced("wait_for_sync", handle.integration_id, op, Subscribers(on_event))

    @renamed_keywords(timeout="max_wait")
    async def sync_and_wait(
        self,
        integration_id: str,
        *,
        poll_interval: float = 10.0,
        max_wait: float = 3600.0,
        if_running: IfRunning = "wait",
        fail_on_partial: bool = False,
        max_poll_interval: float | None = None,
        on_event: OnEvent | None = None,
        resume: SyncHandle | None = None,
        before_trigger: BeforeTriggerHook | None = None,
    ) -> SyncResult:
        """See ``BrazeCDIClient.sync_and_wait``; ``await`` it.

        Examples:
            >>> import asyncio
            >>> from braze_cdi import AsyncBrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", duration=0.1)
            >>> async def sync():
            ...     async with AsyncBrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...         return await client.sync_and_wait(users.integration_id, poll_interval=0.05)
            >>> asyncio.run(sync()).triggered
            True
        """
        op = self._sync_and_wait_op(
            integration_id,
            poll_interval=poll_interval,
            max_wait=max_wait,
            if_running=if_running,
            fail_on_partial=fail_on_partial,
            max_poll_interval=max_poll_interval,
            resume=resume,
        )
        subscribers = Subscribers(on_event, before_trigger=before_trigger)
        return await self._traced("sync_and_wait", integration_id, op, subscribers)

    async def diagnose(
        self,
        *,
        find_instance: bool = False,
        instances: Mapping[str, str] | None = None,
        on_event: OnEvent | None = None,
    ) -> Diagnosis:
        """See ``BrazeCDIClient.diagnose``; ``await`` it.

        Examples:
            >>> import asyncio
            >>> from braze_cdi import AsyncBrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> fake.add_key("list-only-key-0123456789", {"cdi.integration_list"})
            >>> _ = fake.add_integration(name="users")
            >>> async def check():
            ...     async with AsyncBrazeCDIClient(
            ...         "list-only-key-0123456789", "US-01", transport=fake
            ...     ) as client:
            ...         return await client.diagnose()
            >>> [problem.fix for problem in asyncio.run(check()).problems]
            ['Create a REST API key with cdi.integration_job_status (Braze cannot add a ...']
        """
        op = self._diagnose_op(find_instance, instances)
        return await self._run(op, Subscribers(on_event))

    async def watch_schedules(
        self,
        watch: ScheduleWatch,
        integration_ids: Iterable[str] | None = None,
        *,
        where: Where | None = None,
        grace: timedelta = timedelta(minutes=30),
        max_job_reads: int = 50,
        known_until: KnownUntil | None = None,
        skip: Skip | None = None,
        on_event: OnEvent | None = None,
    ) -> ScheduleReport:
        """See ``BrazeCDIClient.watch_schedules``; ``await`` it. ``where``, ``known_until`` and
        ``skip`` are plain functions (or a mapping, a collection), never coroutines.

        Examples:
            >>> import asyncio
            >>> from braze_cdi import AsyncBrazeCDIClient, ScheduleWatch
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", history=2)
            >>> async def look():
            ...     async with AsyncBrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...         return await client.watch_schedules(ScheduleWatch())
            >>> report = asyncio.run(look())
            >>> [str(job.job_status) for job in report.jobs[users.integration_id]]
            ['success']
            >>> report.watch.schedule_ran == {users.integration_id: True}
            True
        """
        op = self._watch_op(
            watch,
            integration_ids,
            where=where,
            grace=grace,
            max_job_reads=max_job_reads,
            known_until=known_until,
            skip=skip,
        )
        return await self._run(op, Subscribers(on_event))

    @renamed_keywords(timeout="max_wait")
    async def sync_many(
        self, integration_ids: Iterable[str], *, max_concurrency: int = 10, **wait_options: Any
    ) -> list[SyncResult | Exception]:
        """``sync_and_wait`` for many integrations at once.

        Returns every outcome in input order: a ``SyncResult``, or the error that call raised.
        One failure does not stop the others; the shared rate budget keeps the fan-out under
        Braze's limits. ``wait_options`` are those of ``sync_and_wait``, ``max_wait`` bounding each
        sync; ``resume`` maps integration ids to the records ``before_trigger`` was handed.

        Examples:
            >>> import asyncio
            >>> from braze_cdi import AsyncBrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> ids = [
            ...     fake.add_integration(duration=0.0, outcome=outcome).integration_id
            ...     for outcome in ("success", "error", "partial")
            ... ]
            >>> async def sync_all():
            ...     async with AsyncBrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...         return await client.sync_many(ids, max_concurrency=5)
            >>> [type(outcome).__name__ for outcome in asyncio.run(sync_all())]
            ['SyncResult', 'SyncFailed', 'SyncResult']
        """
        ids = list(integration_ids)
        outcomes = {
            integration_id: outcome
            async for integration_id, outcome in self.sync_as_completed(
                ids, max_concurrency=max_concurrency, **wait_options
            )
        }
        return [outcomes[integration_id] for integration_id in ids]

    async def sync_as_completed(
        self, integration_ids: Iterable[str], *, max_concurrency: int = 10, **wait_options: Any
    ) -> AsyncIterator[tuple[str, SyncResult | Exception]]:
        """``sync_many``, each outcome handed out as soon as its sync ends.

        Yields ``(integration_id, outcome)`` pairs in the order the syncs end; the outcome is a
        ``SyncResult`` or the error that sync raised. Closing the generator early (leave the
        loop inside ``contextlib.aclosing``) stops the waits still running; Braze's jobs go on.
        Arguments are those of ``sync_many``, checked before any request.

        Examples:
            >>> import asyncio
            >>> from braze_cdi import AsyncBrazeCDIClient
            >>> from braze_cdi.testing import FakeBraze
            >>> fake = FakeBraze()
            >>> slow = fake.add_integration(name="slow", duration=0.3).integration_id
            >>> quick = fake.add_integration(name="quick", duration=0.0).integration_id
            >>> async def sync_both():
            ...     async with AsyncBrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            ...         return [
            ...             (integration_id, type(outcome).__name__)
            ...             async for integration_id, outcome in client.sync_as_completed(
            ...                 [slow, quick], poll_interval=0.05
            ...             )
            ...         ]
            >>> asyncio.run(sync_both()) == [(quick, "SyncResult"), (slow, "SyncResult")]
            True
        """
        ids = list(integration_ids)
        if len(set(ids)) != len(ids):
            raise BrazeConfigError("sync_many got the same integration id twice.")
        if not (isinstance(max_concurrency, int) and max_concurrency > 0):
            raise BrazeConfigError(
                f"max_concurrency must be a positive integer, not {max_concurrency!r}."
            )
        subscribers = Subscribers(
            wait_options.pop("on_event", None),
            before_trigger=wait_options.pop("before_trigger", None),
        )
        records = wait_options.pop("resume", None) or {}
        if not isinstance(records, Mapping) or not set(records) <= set(ids):
            raise BrazeConfigError(
                "sync_many's resume maps integration ids among those given to their records."
            )
        ops = [
            (
                integration_id,
                self._sync_and_wait_op(
                    integration_id, resume=records.get(integration_id), **wait_options
                ),
            )
            for integration_id in ids
        ]
        if not ops:
            return
        import asyncio  # noqa: PLC0415 (only async users pay for importing asyncio)

        ended: asyncio.Queue[tuple[str, SyncResult | Exception]] = asyncio.Queue()
        queue = iter(ops)

        # max_concurrency workers take the next sync as each ends: memory follows the
        # concurrency, not the number of ids.
        async def worker() -> None:
            for integration_id, op in queue:
                try:
                    outcome: SyncResult | Exception = await self._traced(
                        "sync_and_wait", integration_id, op, subscribers
                    )
                except Exception as error:  # every outcome is reported, none cancels the rest
                    outcome = error
                ended.put_nowait((integration_id, outcome))

        workers = [asyncio.ensure_future(worker()) for _ in range(min(max_concurrency, len(ops)))]
        try:
            for _ in ops:
                yield await ended.get()
        finally:
            for running in workers:
                running.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            for _, op in queue:  # never started
                op.close()

    # --- the driver -----------------------------------------------------------------------

    async def _traced(
        self, operation: SyncOperation, integration_id: str, op: Op[T], subscribers: Subscribers
    ) -> T:
        with traced(operation, integration_id) as trace:
            result = await self._run(op, subscribers.traced_by(trace))
            trace.ended(result)
            return result

    async def _run(self, op: Op[T], subscribers: Subscribers) -> T:
        value: Any = None
        try:
            while True:
                try:
                    effect = op.send(value)
                except StopIteration as done:
                    result: T = done.value
                    return result
                value = await self._perform(effect, subscribers)
        finally:
            op.close()

    async def _iterate(self, op: Op[None], subscribers: Subscribers) -> AsyncIterator[Any]:
        value: Any = None
        try:
            while True:
                try:
                    effect = op.send(value)
                except StopIteration:
                    return
                if isinstance(effect, Emit):
                    yield effect.item
                    value = None
                else:
                    value = await self._perform(effect, subscribers)
        finally:
            op.close()

    async def _perform(self, effect: Effect, subscribers: Subscribers) -> Any:
        if isinstance(effect, Sleep):
            await self._clock.asleep(effect.seconds)
            return None
        if isinstance(effect, Notify):
            await subscribers.anotify(effect.event)
            return None
        if isinstance(effect, BeforeTrigger):
            return await subscribers.apersist(effect.record)
        if isinstance(effect, Emit):  # pragma: no cover - only listings emit
            raise TypeError("unexpected item")
        # Only async users pay for importing these. anyio is httpx's own async layer; unlike
        # asyncio.wait_for before Python 3.12, its timeout never swallows a cancellation.
        import asyncio  # noqa: PLC0415

        import anyio  # noqa: PLC0415

        if self._http.is_closed:
            return NoAnswer.of(ClientClosed(), self._redact)
        http = self._http_of_this_loop(asyncio.get_running_loop())
        deadline = self._exchange_deadline(effect)
        try:
            with anyio.fail_after(_left(deadline)):
                return await self._exchange(http, effect.call, deadline)
        except TimeoutError:
            return NoAnswer(httpx.ReadTimeout, "the exchange ran out of time")
        except Exception as error:  # whatever the network or a transport did is an outcome
            return NoAnswer.of(error, self._redact)

    def _http_of_this_loop(self, loop: object) -> httpx.AsyncClient:
        """The connections of the running event loop: those of another loop (an earlier
        ``asyncio.run``) cannot be used from this one."""
        if self._loop is not loop:
            if self._loop is not None:
                self._http = httpx.AsyncClient(**self._options)
            self._loop = loop
        return self._http

    @staticmethod
    async def _exchange(http: httpx.AsyncClient, call: Call, deadline: float) -> httpx.Response:
        request = http.build_request(
            call.method, call.path, params=call.params, timeout=_left(deadline)
        )
        response = await http.send(request, stream=True)
        try:
            body = BodyReader(response, deadline)
            if response.is_stream_consumed:
                body.decoded(response.content)
            else:
                async for chunk in response.aiter_raw():
                    body.feed(chunk)
                    if body.full:
                        break
            return body.finish(response)
        finally:
            await response.aclose()


def _left(deadline: float) -> float:
    """Seconds left until ``deadline`` (``time.monotonic``), at least a little: an exchange
    begun too late then fails with a timeout of its own."""
    return max(deadline - time.monotonic(), 0.001)


class _BearerAuth(httpx.Auth):
    """Adds the key to each request as it is sent, so no dict of headers ever holds it."""

    def __init__(self, api_key: SecretStr) -> None:
        self._api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        yield request
