"""One Braze CDI integration as a Prefect job block, and the flow that runs it.

``BrazeCDISync`` is a ``JobBlock`` (as prefect-dbt's ``DbtCloudJob``): it holds the
credentials, the integration and how to wait, and ``trigger()`` returns a ``BrazeCDISyncRun``
to wait for (``wait_for_completion()``) and read (``fetch_result()``). ``run_braze_cdi_sync``
is the flow that does all three.

The block's methods run this package's tasks, ``trigger_sync`` and ``wait_for_sync``: each is a
task run that Prefect retries only after a retryable error, logs, reports in events and (the
wait) in a table artifact, and a retried trigger adopts the job its earlier attempt started.

Prefect declares ``JobBlock.trigger``, ``JobRun.wait_for_completion`` and
``JobRun.fetch_result`` as coroutines. Here, as with ``Block.load`` and ``Block.aload``, the
plain names are sync and their async twins have an ``a`` in front: ``atrigger``,
``await_for_completion``, ``afetch_result`` and the flow ``arun_braze_cdi_sync``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prefect import flow
from prefect.blocks.abstract import JobBlock, JobRun
from pydantic import Field, HttpUrl, field_validator

from braze_cdi import IfRunning, SyncHandle, SyncResult, check_integration_id

from .credentials import BrazeCDICredentials
from .flows import _time_left
from .tasks import atrigger_sync, await_for_sync, trigger_sync, wait_for_sync

__all__ = ["BrazeCDISync", "BrazeCDISyncRun", "arun_braze_cdi_sync", "run_braze_cdi_sync"]

if TYPE_CHECKING:
    _SyncJobBlock = JobBlock[SyncResult]
else:
    # At run time the plain class: ``JobBlock[SyncResult]`` would be a block type of its own,
    # and Prefect registers every block type it knows of.
    _SyncJobBlock = JobBlock


class BrazeCDISync(_SyncJobBlock):
    """A sync of one Braze CDI integration, as a Prefect job block.

    Holds the workspace's credentials, the integration and how to wait for its job.
    ``trigger()`` starts a sync and returns a ``BrazeCDISyncRun``; ``run_braze_cdi_sync`` runs
    one to its end. Failures are the core's errors: ``SyncFailed`` when the job ends ``error``
    or ``config_error`` (or ``partial`` with ``fail_on_partial``), ``SyncTimeout`` when
    ``max_wait_seconds`` run out. The integration id is checked when the block is made, saved
    or loaded, before any request.

    Example:
        Load a stored sync and run it (the code example Prefect's UI shows):
        ```python
        from prefect import flow
        from prefect_braze_cdi import BrazeCDISync, run_braze_cdi_sync

        @flow
        def refresh_braze_users() -> None:
            braze_cdi_sync = BrazeCDISync.load("BLOCK_NAME")
            run_braze_cdi_sync(braze_cdi_sync)
        ```

    Examples:
        Save the block once (or create it in the UI), then load and run it; here the workspace
        is a FakeBraze:

        >>> from braze_cdi.testing import FakeBraze
        >>> from prefect_braze_cdi import BrazeCDICredentials, BrazeCDISync, run_braze_cdi_sync
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users", duration=0.0, rows_synced=1200)
        >>> with fake.serve() as url:
        ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
        ...     block = BrazeCDISync(
        ...         braze_cdi_credentials=credentials, integration_id=users.integration_id
        ...     )
        ...     _ = block.save("braze-users-sync", overwrite=True)
        ...     result = run_braze_cdi_sync(BrazeCDISync.load("braze-users-sync"))
        >>> str(result.job_status), result.job.rows_synced
        ('success', 1200)

        An id that would break the request's path is refused when the block is made:

        >>> from pydantic import ValidationError
        >>> try:
        ...     BrazeCDISync(braze_cdi_credentials=credentials, integration_id="../users")
        ... except ValidationError as error:
        ...     print("Invalid integration id '../users'" in str(error))
        True
    """

    _block_type_name = "Braze CDI Sync"
    _documentation_url = HttpUrl("https://www.braze.com/docs/api/endpoints/cdi/")

    braze_cdi_credentials: BrazeCDICredentials = Field(
        default=...,
        title="Braze CDI Credentials",
        description="The credentials of the workspace the integration belongs to.",
    )
    integration_id: str = Field(
        default=...,
        title="Integration ID",
        description=(
            "The integration to sync, from its page in the Braze dashboard "
            "(…/integrations/cloud_data_ingestion/<integration_id>)."
        ),
    )
    poll_interval_seconds: float = Field(
        default=10,
        gt=0,
        title="Poll Interval Seconds",
        description="Seconds between polls of the job's status at first; polls slow down gently.",
    )
    max_wait_seconds: float = Field(
        default=3600,
        gt=0,
        title="Max Wait Seconds",
        description=(
            "How long a sync may take from its trigger, waiting for a job that was running "
            "already included, before it fails with SyncTimeout."
        ),
    )
    if_running: IfRunning = Field(
        default="wait",
        title="If Running",
        description=(
            "When the integration is syncing already: wait for that job to end, then trigger; "
            "attach to it as this sync's job; or fail."
        ),
    )
    fail_on_partial: bool = Field(
        default=False,
        title="Fail On Partial",
        description="Fail when the job ends partial (some rows failed).",
    )

    @field_validator("integration_id")
    @classmethod
    def _safe_integration_id(cls, value: str) -> str:
        return check_integration_id(value)  # raises BrazeConfigError (a ValueError)

    def trigger(self) -> BrazeCDISyncRun:  # type: ignore[override]  # sync: see the module
        """Start a sync of the integration (the ``trigger_sync`` task) and return its run.

        Returns:
            A ``BrazeCDISyncRun``; its ``handle`` is the core's ``SyncHandle``.

        Raises:
            braze_cdi.SyncAlreadyRunning: a job is running and ``if_running`` is ``"fail"``.
            braze_cdi.BrazeCDIError: the trigger failed; Prefect retried it only if
                ``error.retryable``.

        Examples:
            Trigger, wait and read the result step by step:

            >>> from prefect import flow
            >>> from braze_cdi.testing import FakeBraze
            >>> from prefect_braze_cdi import BrazeCDICredentials, BrazeCDISync
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", duration=0.0, rows_synced=1200)
            >>> @flow
            ... def sync_users(braze_cdi_sync: BrazeCDISync) -> int | None:
            ...     run = braze_cdi_sync.trigger()
            ...     run.wait_for_completion()
            ...     return run.fetch_result().job.rows_synced
            >>> with fake.serve() as url:
            ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
            ...     sync_users(BrazeCDISync(
            ...         braze_cdi_credentials=credentials, integration_id=users.integration_id
            ...     ))
            1200
        """
        began = time.monotonic()
        handle = trigger_sync(
            self.braze_cdi_credentials,
            self.integration_id,
            if_running=self.if_running,
            poll_interval_seconds=self.poll_interval_seconds,
            max_wait_seconds=self.max_wait_seconds,
        )
        return BrazeCDISyncRun(self, handle, began=began)

    async def atrigger(self) -> BrazeCDISyncRun:
        """The async twin of ``trigger`` (the ``atrigger_sync`` task); ``await`` it.

        Examples:
            >>> import asyncio
            >>> from prefect import flow
            >>> from braze_cdi.testing import FakeBraze
            >>> from prefect_braze_cdi import BrazeCDICredentials, BrazeCDISync
            >>> fake = FakeBraze()
            >>> users = fake.add_integration(name="users", duration=0.0)
            >>> @flow
            ... async def sync_users(braze_cdi_sync: BrazeCDISync) -> str:
            ...     run = await braze_cdi_sync.atrigger()
            ...     return str((await run.afetch_result()).job_status)
            >>> with fake.serve() as url:
            ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
            ...     asyncio.run(sync_users(BrazeCDISync(
            ...         braze_cdi_credentials=credentials, integration_id=users.integration_id
            ...     )))
            'success'
        """
        began = time.monotonic()
        handle = await atrigger_sync(
            self.braze_cdi_credentials,
            self.integration_id,
            if_running=self.if_running,
            poll_interval_seconds=self.poll_interval_seconds,
            max_wait_seconds=self.max_wait_seconds,
        )
        return BrazeCDISyncRun(self, handle, began=began)


class BrazeCDISyncRun(JobRun[SyncResult]):
    """The job one sync of a ``BrazeCDISync`` started (or adopted), to wait for and read.

    ``BrazeCDISync.trigger()`` makes it. To wait again for a sync whose wait ran out, make one
    from the handle the ``SyncTimeout`` carries: ``BrazeCDISyncRun(braze_cdi_sync,
    error.handle)``.

    Args:
        braze_cdi_sync: The block whose settings the wait follows.
        handle: Where the sync's job is found: the core's ``SyncHandle``.
        began: The ``time.monotonic()`` that ``max_wait_seconds`` counts from; by default, when
            the run is made.
    """

    def __init__(
        self, braze_cdi_sync: BrazeCDISync, handle: SyncHandle, *, began: float | None = None
    ) -> None:
        self.braze_cdi_sync = braze_cdi_sync
        self.handle = handle
        self._began = time.monotonic() if began is None else began
        self._result: SyncResult | None = None

    def __repr__(self) -> str:
        return (
            f"BrazeCDISyncRun(integration_id={self.handle.integration_id!r}, "
            f"triggered={self.handle.triggered})"
        )

    def wait_for_completion(self) -> None:  # type: ignore[override]  # sync: see the module
        """Wait for the sync's job to end (the ``wait_for_sync`` task), for what is left of
        the block's ``max_wait_seconds``; at once when it has been waited for already.

        Raises:
            braze_cdi.SyncFailed: the job ended ``error`` or ``config_error`` (or ``partial``
                with ``fail_on_partial``); never retried.
            braze_cdi.SyncTimeout: ``max_wait_seconds`` passed first; ``error.handle`` waits
                again. Braze has no cancel call: the job goes on.
        """
        if self._result is None:
            self._wait()

    async def await_for_completion(self) -> None:
        """The async twin of ``wait_for_completion`` ("a" + "wait_for_completion"); ``await``
        it."""
        if self._result is None:
            await self._await()

    def fetch_result(self) -> SyncResult:  # type: ignore[override]  # sync: see the module
        """How the sync ended; waits first (as ``wait_for_completion``) if it has not been
        waited for.

        Returns:
            A ``braze_cdi.SyncResult``: the job (``job_status``, ``rows_synced``...) and how
            the wait went.
        """
        return self._wait() if self._result is None else self._result

    async def afetch_result(self) -> SyncResult:
        """The async twin of ``fetch_result``; ``await`` it."""
        return await self._await() if self._result is None else self._result

    def _wait(self) -> SyncResult:
        sync = self.braze_cdi_sync
        self._result = wait_for_sync(
            sync.braze_cdi_credentials,
            self.handle,
            poll_interval_seconds=sync.poll_interval_seconds,
            max_wait_seconds=_time_left(self.handle, sync.max_wait_seconds, self._began),
            fail_on_partial=sync.fail_on_partial,
        )
        return self._result

    async def _await(self) -> SyncResult:
        sync = self.braze_cdi_sync
        self._result = await await_for_sync(
            sync.braze_cdi_credentials,
            self.handle,
            poll_interval_seconds=sync.poll_interval_seconds,
            max_wait_seconds=_time_left(self.handle, sync.max_wait_seconds, self._began),
            fail_on_partial=sync.fail_on_partial,
        )
        return self._result


# One decorator, applied to the sync flow and to its async twin.
_run_flow = flow(
    name="Run Braze CDI sync",
    flow_run_name="braze-cdi-sync-{braze_cdi_sync.integration_id}",
)


@_run_flow
def run_braze_cdi_sync(braze_cdi_sync: BrazeCDISync) -> SyncResult:
    """Run a ``BrazeCDISync``: trigger it, wait for its job and return how it ended.

    Each step is a task run that Prefect retries only after a retryable error. The flow run
    fails with Braze's status in its message when the job ends ``error`` or ``config_error``
    (or ``partial`` with the block's ``fail_on_partial``).

    Args:
        braze_cdi_sync: The sync to run, usually ``BrazeCDISync.load("BLOCK_NAME")``.

    Returns:
        A ``braze_cdi.SyncResult``.

    Raises:
        braze_cdi.SyncFailed: the job ended without success; never retried.
        braze_cdi.SyncTimeout: the block's ``max_wait_seconds`` passed first.
        braze_cdi.BrazeCDIError: the sync could not be triggered or waited for.

    Examples:
        >>> from braze_cdi import SyncFailed
        >>> from braze_cdi.testing import FakeBraze
        >>> from prefect_braze_cdi import BrazeCDICredentials, BrazeCDISync, run_braze_cdi_sync
        >>> fake = FakeBraze()
        >>> events = fake.add_integration(name="events", duration=0.0, outcome="error")
        >>> with fake.serve() as url:
        ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
        ...     block = BrazeCDISync(
        ...         braze_cdi_credentials=credentials, integration_id=events.integration_id
        ...     )
        ...     try:
        ...         run_braze_cdi_sync(block)
        ...     except SyncFailed as error:
        ...         print(error.job.job_status, events.triggered_jobs)
        error 1
    """
    run = braze_cdi_sync.trigger()
    run.wait_for_completion()
    return run.fetch_result()


@_run_flow
async def arun_braze_cdi_sync(braze_cdi_sync: BrazeCDISync) -> SyncResult:
    """The async twin of ``run_braze_cdi_sync``; ``await`` it.

    Examples:
        >>> import asyncio
        >>> from braze_cdi.testing import FakeBraze
        >>> from prefect_braze_cdi import BrazeCDICredentials, BrazeCDISync, arun_braze_cdi_sync
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users", duration=0.0)
        >>> with fake.serve() as url:
        ...     credentials = BrazeCDICredentials(api_key=fake.api_key, rest_endpoint=url)
        ...     block = BrazeCDISync(
        ...         braze_cdi_credentials=credentials, integration_id=users.integration_id
        ...     )
        ...     result = asyncio.run(arun_braze_cdi_sync(block))
        >>> str(result.job_status), result.triggered
        ('success', True)
    """
    run = await braze_cdi_sync.atrigger()
    await run.await_for_completion()
    return await run.afetch_result()
