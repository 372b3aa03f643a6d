"""The Dagster resource: configuration in, braze-cdi clients out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import dagster as dg
from pydantic import Field, PrivateAttr, model_validator

from braze_cdi import (
    AsyncBrazeCDIClient,
    BrazeCDIClient,
    BrazeConfigError,
    RateLimit,
    RateLimits,
    RetryPolicy,
    SyncFailed,
    SyncResult,
    accept_renamed,
)
from braze_cdi.events import RunLog, log_to

from ._run_records import RunRecords, StepContext, run_records
from ._types import AssetKeyLike

__all__ = ["BrazeCDIRateLimits", "BrazeCDIResource"]

IfRunning = Literal["wait", "attach", "fail"]
T = TypeVar("T")

# Deprecated field names, and their new names: the old ones still work, with a warning.
_RENAMED = {"retry_deadline": "retry_max_duration", "poll_timeout": "max_wait"}

_KINDS = ("trigger", "list", "status")


# Resolvable too, so that the components' YAML takes it (SyncSettings.rate_limits).
class BrazeCDIRateLimits(dg.Config, dg.Resolvable):
    """The client-side request budgets of a ``BrazeCDIResource``, one per kind of CDI endpoint:
    ``braze_cdi.RateLimits`` in a shape Dagster's configuration (Python, YAML, the UI) holds.

    The defaults are Braze's documented limits per workspace: 20 sync triggers, 50
    integration-list and 100 job-status requests a minute. Every client of the workspace (same
    endpoint, same key) shares them: the clients of one process, and with
    ``across_processes`` those of every process of the machine, such as the step processes of
    Dagster's multiprocess executor. Raise them if Braze raised your workspace's limits, lower
    them to leave room for other callers of the workspace. A kind's ``*_calls`` set to
    ``None`` sends its requests without a budget; ``rate_limits=None`` on the resource turns
    every budget off.

    Attributes:
        trigger_calls: Sync triggers per ``trigger_period``; ``None``: no budget.
        trigger_period: Seconds of the trigger budget.
        list_calls: Integration-list requests per ``list_period``; ``None``: no budget.
        list_period: Seconds of the integration-list budget.
        status_calls: Job-status requests per ``status_period``; ``None``: no budget.
        status_period: Seconds of the job-status budget.
        across_processes: Share the budgets with the other processes of this machine;
            ``False``: each process keeps its own.

    Examples:
        Braze raised the workspace's trigger limit to 40 a minute:

        >>> import dagster as dg
        >>> from dagster_braze_cdi import BrazeCDIRateLimits, BrazeCDIResource
        >>> braze_cdi = BrazeCDIResource(
        ...     api_key=dg.EnvVar("BRAZE_API_KEY"),
        ...     rest_endpoint="US-01",
        ...     rate_limits=BrazeCDIRateLimits(trigger_calls=40),
        ... )
        >>> braze_cdi.rate_limits.to_rate_limits().trigger
        RateLimit(calls=40, period=60.0)

        A budget that cannot be kept is refused at once, before any request:

        >>> from pydantic import ValidationError
        >>> try:
        ...     BrazeCDIRateLimits(trigger_calls=0)
        ... except ValidationError as error:
        ...     print("A rate limit needs a positive whole number of calls" in str(error))
        True
    """

    trigger_calls: int | None = Field(
        default=20,
        description="Sync triggers per trigger_period (Braze: 20 a minute); null: no budget.",
    )
    trigger_period: float = Field(default=60.0, description="Seconds of the trigger budget.")
    list_calls: int | None = Field(
        default=50,
        description="Integration-list requests per list_period (Braze: 50 a minute); null: no "
        "budget.",
    )
    list_period: float = Field(default=60.0, description="Seconds of the list budget.")
    status_calls: int | None = Field(
        default=100,
        description="Job-status requests per status_period (Braze: 100 a minute); null: no budget.",
    )
    status_period: float = Field(default=60.0, description="Seconds of the job-status budget.")
    across_processes: bool = Field(
        default=True,
        description="Share the budgets with the other processes of this machine (the "
        "multiprocess executor runs each step in its own); false: one budget per process.",
    )

    @model_validator(mode="after")
    def _valid(self) -> BrazeCDIRateLimits:
        for kind in _KINDS:
            try:
                self._limit(kind)
            except BrazeConfigError as error:  # the core's rule; pydantic reports a ValueError
                raise ValueError(f"{kind}_calls, {kind}_period: {error}") from None
        return self

    def to_rate_limits(self) -> RateLimits:
        """The core's ``RateLimits`` these settings describe."""
        limits: dict[str, Any] = {kind: self._limit(kind) for kind in _KINDS}
        return RateLimits(**limits, across_processes=self.across_processes)

    def _limit(self, kind: str) -> RateLimit | None:
        calls: int | None = getattr(self, f"{kind}_calls")
        period: float = getattr(self, f"{kind}_period")
        return None if calls is None else RateLimit(calls, period)


# Dagster types ConfigurableResource as generic for type checkers only.
class BrazeCDIResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Access to one Braze workspace's Cloud Data Ingestion API.

    Hands out plain ``braze_cdi`` clients (``get_client``, ``get_async_client``) and runs a
    whole sync with ``sync_and_poll``. While it runs, its progress (a line per change of the
    job's state, from the core's ``braze_cdi.events``) goes to the Dagster run log. The API key
    is never logged and never shown in the resource's repr; give it as ``dg.EnvVar`` so that
    Dagster's UI shows only the variable's name.

    Attributes:
        api_key: A REST API key with the ``cdi.integration_sync``, ``cdi.integration_list`` and
            ``cdi.integration_job_status`` permissions.
        rest_endpoint: The REST endpoint of the workspace's instance: a URL, a host, or an
            instance name such as ``"US-01"``.
        request_timeout: Seconds each HTTP exchange may take, connect to last byte.
        retry_max_attempts: Attempts per API call, the first included.
        retry_initial_delay: Backoff in seconds before the second attempt.
        retry_max_delay: Longest backoff in seconds between two attempts.
        retry_max_duration: Seconds one API call may take, retries included.
        poll_interval: Seconds between two looks at a running job (slowing gently to 60 s).
        max_wait: Seconds a sync may take, waiting for a running job included.
        retry_deadline: Deprecated: use ``retry_max_duration``.
        poll_timeout: Deprecated: use ``max_wait``.
        if_running: When the integration is syncing already: ``"wait"`` for that job, then
            trigger; ``"attach"`` to adopt it; ``"fail"`` to fail.
        fail_on_partial: Fail when the job ends ``partial`` (some rows failed).
        rate_limits: The clients' request budgets per kind of CDI endpoint (a
            ``BrazeCDIRateLimits``), kept per workspace and shared by every process of the
            machine: Braze's documented limits by default (20 triggers, 50 list and 100
            job-status requests a minute). Raise them if Braze raised your workspace's, lower
            them to leave room for other callers; ``None`` sends without client-side budgets.
            Across machines, cap the syncs with a Dagster pool instead (``pool="braze_cdi"``).

    Examples:
        In your definitions, the key from the environment:

        >>> import dagster as dg
        >>> from dagster_braze_cdi import BrazeCDIResource
        >>> braze_cdi = BrazeCDIResource(
        ...     api_key=dg.EnvVar("BRAZE_API_KEY"),
        ...     rest_endpoint="US-01",
        ...     poll_interval=30.0,
        ... )
        >>> defs = dg.Definitions(resources={"braze_cdi": braze_cdi})

        In your own asset or op, a whole sync (here against a FakeBraze); with
        ``context=``, a retry of the run adopts the sync instead of starting another:

        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users", duration=0.0)
        >>> @dg.asset(required_resource_keys={"braze_cdi"})
        ... def braze_users(context):
        ...     braze_cdi = context.resources.braze_cdi
        ...     result = braze_cdi.sync_and_poll(users.integration_id, context=context)
        ...     return dg.MaterializeResult(metadata=result.record())
        >>> with fake.serve() as url:
        ...     resource = BrazeCDIResource(api_key=fake.api_key, rest_endpoint=url)
        ...     result = dg.materialize([braze_users], resources={"braze_cdi": resource})
        >>> result.success, users.triggered_jobs
        (True, 1)
    """

    api_key: str = Field(
        repr=False,
        description="A Braze REST API key with the cdi.* permissions, e.g. "
        'dg.EnvVar("BRAZE_API_KEY").',
    )
    rest_endpoint: str = Field(
        description="The workspace's REST endpoint: a URL such as https://rest.iad-01.braze.com, "
        "a host, or an instance name such as US-01."
    )
    request_timeout: float = Field(
        default=30.0, description="Seconds each HTTP exchange may take, connect to last byte."
    )
    retry_max_attempts: int = Field(
        default=5, description="Attempts per API call, the first included."
    )
    retry_initial_delay: float = Field(
        default=1.0, description="Backoff before the second attempt."
    )
    retry_max_delay: float = Field(
        default=30.0, description="Longest backoff between two attempts."
    )
    retry_max_duration: float = Field(
        default=300.0, description="Seconds one call may take, with retries."
    )
    poll_interval: float = Field(
        default=10.0, description="Seconds between two looks at a running job."
    )
    max_wait: float = Field(default=3600.0, description="Seconds a sync may take in all.")
    if_running: IfRunning = Field(
        default="wait",
        description="When a job is running already: wait for it, attach to it, or fail.",
    )
    fail_on_partial: bool = Field(default=False, description="Fail when the job ends partial.")
    retry_deadline: float | None = Field(
        default=None, description="Deprecated: use retry_max_duration."
    )
    poll_timeout: float | None = Field(default=None, description="Deprecated: use max_wait.")
    rate_limits: BrazeCDIRateLimits | None = Field(
        default_factory=BrazeCDIRateLimits,
        description="The clients' request budgets per kind of CDI endpoint, per workspace, "
        "shared by the processes of this machine: Braze's documented limits by default (20 "
        "triggers, 50 list and 100 job-status requests a minute). Raise them if Braze raised "
        "your workspace's, lower them to leave room for other callers; null sends without "
        "client-side budgets.",
    )

    _run_log: RunLog | None = PrivateAttr(default=None)

    if not TYPE_CHECKING:  # type checkers keep the constructor of the fields

        def __init__(self, **config: Any) -> None:
            # The deprecated fields move to their new names before Dagster records the
            # configuration it rebuilds the resource from in a run; they stay None.
            accept_renamed(config, _RENAMED, of="BrazeCDIResource", stacklevel=2)
            super().__init__(**config)

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        # The same for a resource validated from a dict rather than constructed.
        if isinstance(data, dict) and any(data.get(old) is not None for old in _RENAMED):
            data = dict(data)
            accept_renamed(data, _RENAMED, of="BrazeCDIResource", stacklevel=3)
        return data

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Code that calls sync_and_poll without log= still reports to the run's log.
        self._run_log = context.log

    def get_client(self) -> BrazeCDIClient:
        """A new sync client with this configuration; use it as a context manager.

        Raises:
            BrazeConfigError: the key, endpoint or a setting is invalid (no request was sent).

        Examples:
            >>> from braze_cdi.testing import FakeBraze
            >>> from dagster_braze_cdi import BrazeCDIResource
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", history=2)
            >>> with fake.serve() as url:
            ...     resource = BrazeCDIResource(api_key=fake.api_key, rest_endpoint=url)
            ...     with resource.get_client() as client:
            ...         latest = client.latest_sync_job(users.integration_id)
            >>> str(latest.job_status)
            'success'
        """
        return BrazeCDIClient(
            self.api_key,
            self.rest_endpoint,
            retry=self._retry_policy(),
            request_timeout=self.request_timeout,
            rate_limits=self._rate_limits(),
        )

    def get_async_client(self) -> AsyncBrazeCDIClient:
        """A new async client with this configuration; use it with ``async with``.

        Raises:
            BrazeConfigError: the key, endpoint or a setting is invalid (no request was sent).

        Examples:
            >>> import asyncio
            >>> from braze_cdi.testing import FakeBraze
            >>> from dagster_braze_cdi import BrazeCDIResource
            >>> fake = FakeBraze()
            >>> ids = [fake.add_integration(duration=0.0).integration_id for _ in range(3)]
            >>> async def sync_all(resource: BrazeCDIResource):
            ...     async with resource.get_async_client() as client:
            ...         return await client.sync_many(ids)
            >>> with fake.serve() as url:
            ...     resource = BrazeCDIResource(api_key=fake.api_key, rest_endpoint=url)
            ...     results = asyncio.run(sync_all(resource))
            >>> [str(result.job_status) for result in results]
            ['success', 'success', 'success']
        """
        return AsyncBrazeCDIClient(
            self.api_key,
            self.rest_endpoint,
            retry=self._retry_policy(),
            request_timeout=self.request_timeout,
            rate_limits=self._rate_limits(),
        )

    def sync_and_poll(
        self,
        integration_id: str,
        *,
        context: StepContext | None = None,
        asset_key: AssetKeyLike | None = None,
        log: RunLog | None = None,
        poll_interval: float | None = None,
        max_wait: float | None = None,
        if_running: IfRunning | None = None,
        fail_on_partial: bool | None = None,
        poll_timeout: float | None = None,
    ) -> SyncResult:
        """Trigger a sync of the integration and wait for its job to finish.

        Arguments left ``None`` take the resource's setting.

        With ``context``, the step's context, one run starts at most one sync, across step
        retries, run retries, re-executions and crashes: right before the trigger, its record
        goes to the run's event log (an ``AssetObservation`` of ``asset_key`` with the metadata
        key ``braze_cdi/trigger_record``), and every later attempt of the same run adopts the
        job that trigger started instead of triggering again. A record is spent once the step
        succeeded or the job ended failed; a new run starts a new sync.

        Args:
            integration_id: The integration to sync.
            context: The step's context (``AssetExecutionContext`` or ``OpExecutionContext``):
                keep the trigger's record in the run's event log, and adopt the job of an
                earlier attempt of the run.
            asset_key: The asset the record is kept on, with ``context``; by default the one
                asset the step materializes (an op that materializes none or several names
                one).
            log: Where the sync's progress is logged (by default ``context.log``, or the run's
                log when the resource was set up by a run).
            poll_interval: Seconds between two looks at the running job.
            max_wait: Seconds the whole sync may take.
            if_running: What to do when the integration is syncing already.
            fail_on_partial: Raise ``SyncFailed`` when the job ends ``partial``.
            poll_timeout: Deprecated: use ``max_wait``.

        Returns:
            How the sync ended; ``result.record()`` is the flat row of its facts.

        Raises:
            SyncFailed: the job ended ``error`` or ``config_error`` (or ``partial``, if asked).
            SyncTimeout: ``max_wait`` ran out; Braze's job goes on.
            BrazeConfigError: ``context`` without ``asset_key``, in a step that materializes
                no asset or several (no request was sent).
            BrazeCDIError: any other failure, typed (see ``braze_cdi``'s error tree).

        Examples:
            >>> from braze_cdi.testing import FakeBraze
            >>> from dagster_braze_cdi import BrazeCDIResource
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", duration=0.2, rows_synced=1200)
            >>> with fake.serve() as url:
            ...     resource = BrazeCDIResource(
            ...         api_key=fake.api_key, rest_endpoint=url, poll_interval=0.05
            ...     )
            ...     result = resource.sync_and_poll(users.integration_id)
            >>> result.record()["rows_synced"], result.record()["triggered"]
            (1200, True)
        """
        waits = {"max_wait": max_wait, "poll_timeout": poll_timeout}
        accept_renamed(waits, {"poll_timeout": "max_wait"}, of="sync_and_poll", stacklevel=2)
        if log is not None:
            run_log: RunLog | None = log
        else:
            run_log = self._run_log if context is None else context.log
        records = None if context is None else run_records(context, integration_id, asset_key)
        with self.get_client() as client:
            try:
                return client.sync_and_wait(
                    integration_id,
                    poll_interval=_given(poll_interval, self.poll_interval),
                    max_wait=_given(waits["max_wait"], self.max_wait),
                    if_running=_given(if_running, self.if_running),
                    fail_on_partial=_given(fail_on_partial, self.fail_on_partial),
                    on_event=None if run_log is None else log_to(run_log),
                    resume=None if records is None else records.latest(),
                    before_trigger=None if records is None else records.persist,
                )
            except SyncFailed as error:
                if records is not None:
                    records.job_failed(error.job)
                raise

    async def sync_many_and_poll(
        self,
        integration_ids: Iterable[str],
        *,
        context: StepContext | None = None,
        asset_keys: Mapping[str, AssetKeyLike] | None = None,
        log: RunLog | None = None,
        max_concurrency: int = 10,
        poll_interval: float | None = None,
        max_wait: float | None = None,
        if_running: IfRunning | None = None,
        fail_on_partial: bool | None = None,
    ) -> AsyncIterator[tuple[str, SyncResult | Exception]]:
        """``sync_and_poll`` for many integrations at once, through one async client (one rate
        budget), each outcome handed out as its sync ends.

        Yields ``(integration_id, outcome)`` pairs; the outcome is a ``SyncResult`` or the
        error that sync raised (``SyncFailed``, ``SyncTimeout``, ...): one failure does not stop
        the others. With ``context``, each sync's trigger record is kept on its asset, as
        ``sync_and_poll`` does, so that a retry of the run adopts every job it started.

        Args:
            integration_ids: The integrations to sync.
            context: The step's context: keep each trigger's record in the run's event log.
            asset_keys: With ``context``, the asset each integration's record is kept on (by
                default the one asset the step materializes).
            log: Where progress is logged (by default ``context.log`` or the run's log).
            max_concurrency: How many syncs run at once.
            poll_interval: Seconds between two looks at a running job.
            max_wait: Seconds each sync may take.
            if_running: What to do when an integration is syncing already.
            fail_on_partial: A job that ends ``partial`` is a ``SyncFailed`` outcome.

        Raises:
            BrazeConfigError: a bad id or setting (no request was sent).

        Examples:
            >>> import asyncio
            >>> from braze_cdi.testing import FakeBraze
            >>> from dagster_braze_cdi import BrazeCDIResource
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", duration=0.0)
            >>> broken = fake.add_integration(name="broken", duration=0.0, outcome="error")
            >>> async def sync_both(resource: BrazeCDIResource) -> dict[str, str]:
            ...     ids = [users.integration_id, broken.integration_id]
            ...     return {
            ...         fake.integrations[integration_id].name: type(outcome).__name__
            ...         async for integration_id, outcome in resource.sync_many_and_poll(ids)
            ...     }
            >>> with fake.serve() as url:
            ...     resource = BrazeCDIResource(api_key=fake.api_key, rest_endpoint=url)
            ...     outcomes = asyncio.run(sync_both(resource))
            >>> outcomes == {"users": "SyncResult", "broken": "SyncFailed"}
            True
        """
        ids = list(integration_ids)
        if log is not None:
            run_log: RunLog | None = log
        else:
            run_log = self._run_log if context is None else context.log
        records: dict[str, RunRecords] = {}
        if context is not None:
            keys = asset_keys or {}
            for integration_id in ids:
                found = run_records(context, integration_id, keys.get(integration_id))
                if found is not None:
                    records[integration_id] = found
        resume = {
            integration_id: record
            for integration_id, kept in records.items()
            if (record := kept.latest()) is not None
        }
        async with self.get_async_client() as client:
            async for integration_id, outcome in client.sync_as_completed(
                ids,
                max_concurrency=max_concurrency,
                poll_interval=_given(poll_interval, self.poll_interval),
                max_wait=_given(max_wait, self.max_wait),
                if_running=_given(if_running, self.if_running),
                fail_on_partial=_given(fail_on_partial, self.fail_on_partial),
                on_event=None if run_log is None else log_to(run_log),
                resume=resume,
                before_trigger=(
                    (lambda record: records[record.integration_id].persist(record))
                    if records
                    else None
                ),
            ):
                if isinstance(outcome, SyncFailed) and integration_id in records:
                    records[integration_id].job_failed(outcome.job)
                yield integration_id, outcome

    def _rate_limits(self) -> RateLimits | None:
        return None if self.rate_limits is None else self.rate_limits.to_rate_limits()

    def _retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.retry_max_attempts,
            initial_delay=self.retry_initial_delay,
            max_delay=self.retry_max_delay,
            max_duration=self.retry_max_duration,
        )


def _given(value: T | None, default: T) -> T:
    return default if value is None else value
