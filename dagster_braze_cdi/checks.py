"""Asset checks: on the sync a materialization ran, and on Braze's own job history.

The sync asset evaluates ``braze_cdi_sync_succeeded`` and ``braze_cdi_failed_rows`` in the same
step, from the job it waited for. ``build_braze_cdi_job_checks`` reads Braze's job history
instead, so it also judges the syncs that Braze's own schedule ran.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import dagster as dg

from braze_cdi import BrazeCDIError, BrazeConfigError, JobStatus, SyncJob, check_integration_id
from braze_cdi.events import log_to

from ._job_history import latest_finished, latest_succeeded
from ._metadata import dagster_metadata, failure_for, job_record
from ._types import AssetKeyLike
from .resource import BrazeCDIResource

__all__ = [
    "FAILED_ROWS",
    "JOB_FAILED_ROWS",
    "JOB_FRESHNESS",
    "JOB_STATUS",
    "SYNC_SUCCEEDED",
    "build_braze_cdi_job_checks",
]

#: Check names on the sync asset, evaluated from the job the materialization waited for.
SYNC_SUCCEEDED = "braze_cdi_sync_succeeded"
FAILED_ROWS = "braze_cdi_failed_rows"
#: Check names of ``build_braze_cdi_job_checks``, evaluated from Braze's job history.
JOB_STATUS = "braze_cdi_job_status"
JOB_FRESHNESS = "braze_cdi_job_freshness"
JOB_FAILED_ROWS = "braze_cdi_job_failed_rows"


def build_braze_cdi_job_checks(
    *,
    integration_id: str,
    asset_key: AssetKeyLike,
    max_age: timedelta = timedelta(hours=24),
    max_failed_rows: int = 0,
    resource_key: str = "braze_cdi",
) -> dg.AssetChecksDefinition:
    """Checks on an integration's health as Braze's job history shows it.

    One read of the job list yields three checks on ``asset_key``, so they also judge syncs that
    Braze's own schedule ran:

    - ``braze_cdi_job_status``: the latest finished job did not end ``error`` or
      ``config_error``;
    - ``braze_cdi_job_freshness``: a job ended ``success`` or ``partial`` within ``max_age``;
    - ``braze_cdi_job_failed_rows``: the latest finished job failed at most ``max_failed_rows``.

    Each result's metadata holds the job it judged and the bound it applied. Run them on a
    schedule (``dg.ScheduleDefinition(target=dg.AssetSelection.checks(checks), ...)``) or with
    the asset.

    Args:
        integration_id: The Braze integration whose jobs are read.
        asset_key: The asset the checks are on: the sync asset, or a ``dg.AssetSpec`` that stands
            for an integration only Braze's schedule runs.
        max_age: How old the latest successful sync may be.
        max_failed_rows: How many failed rows the latest job may have.
        resource_key: The key of the ``BrazeCDIResource``.

    Examples:
        >>> from datetime import timedelta
        >>> from dagster_braze_cdi import build_braze_cdi_job_checks
        >>> checks = build_braze_cdi_job_checks(
        ...     integration_id="00000000-0000-0000-0000-000000000001",
        ...     asset_key="braze_users",
        ...     max_age=timedelta(hours=6),
        ... )
        >>> sorted(key.name for key in checks.check_keys)
        ['braze_cdi_job_failed_rows', 'braze_cdi_job_freshness', 'braze_cdi_job_status']

        Run against a FakeBraze whose integration synced an hour ago:

        >>> import dagster as dg
        >>> from braze_cdi.testing import FakeBraze
        >>> from dagster_braze_cdi import BrazeCDIResource
        >>> fake = FakeBraze()
        >>> _ = fake.add_integration("00000000-0000-0000-0000-000000000001", history=1)
        >>> with fake.serve() as url:
        ...     result = dg.materialize(
        ...         [dg.AssetSpec("braze_users"), checks],
        ...         selection=dg.AssetSelection.checks(checks),
        ...         resources={
        ...             "braze_cdi": BrazeCDIResource(api_key=fake.api_key, rest_endpoint=url)
        ...         },
        ...     )
        >>> for check in result.get_asset_check_evaluations():
        ...     print(check.check_name, check.passed)
        braze_cdi_job_status True
        braze_cdi_job_freshness True
        braze_cdi_job_failed_rows True
    """
    check_integration_id(integration_id)
    check_max_failed_rows(max_failed_rows)
    if not isinstance(max_age, timedelta) or max_age <= timedelta(0):
        raise BrazeConfigError(f"max_age must be a positive timedelta, not {max_age!r}.")
    key = dg.AssetKey.from_coercible(asset_key)
    specs = [
        dg.AssetCheckSpec(
            JOB_STATUS,
            asset=key,
            description=f"The latest finished job of Braze integration {integration_id} did not "
            "end error or config_error.",
        ),
        dg.AssetCheckSpec(
            JOB_FRESHNESS,
            asset=key,
            description=f"A job of Braze integration {integration_id} ended success or partial "
            f"within {max_age}.",
        ),
        dg.AssetCheckSpec(
            JOB_FAILED_ROWS,
            asset=key,
            description=f"The latest finished job of Braze integration {integration_id} failed "
            f"at most {max_failed_rows} rows.",
        ),
    ]

    @dg.multi_asset_check(
        name=f"braze_cdi_job_checks__{key.to_python_identifier()}",
        specs=specs,
        required_resource_keys={resource_key},
    )
    def braze_cdi_job_checks(
        context: dg.AssetCheckExecutionContext,
    ) -> Iterator[dg.AssetCheckResult]:
        resource: BrazeCDIResource = getattr(context.resources, resource_key)
        now = datetime.now(timezone.utc)
        try:
            with resource.get_client() as client:
                # Twice the freshness window (a job may start before the window and finish in
                # it) is all a healthy integration needs read; the whole history only when no
                # job finished within it.
                log = log_to(context.log)
                jobs = list(
                    client.list_sync_jobs(integration_id, since=now - 2 * max_age, on_event=log)
                )
                if latest_finished(jobs) is None:
                    jobs = list(client.list_sync_jobs(integration_id, on_event=log))
        except BrazeCDIError as error:
            raise failure_for(error, rest_endpoint=resource.rest_endpoint) from error
        finished = latest_finished(jobs)
        endpoint = resource.rest_endpoint
        yield status_result(
            key, JOB_STATUS, integration_id, finished, fail_on_partial=False, rest_endpoint=endpoint
        )
        yield freshness_result(
            key, integration_id, latest_succeeded(jobs), max_age, now, rest_endpoint=endpoint
        )
        yield failed_rows_result(
            key, JOB_FAILED_ROWS, integration_id, finished, max_failed_rows, rest_endpoint=endpoint
        )

    return braze_cdi_job_checks


def status_result(
    asset_key: dg.AssetKey,
    check_name: str,
    integration_id: str,
    job: SyncJob | None,
    *,
    fail_on_partial: bool,
    rest_endpoint: str | None = None,
) -> dg.AssetCheckResult:
    """Passed when the job ended ``success``, or ``partial`` unless ``fail_on_partial``."""
    if job is None:
        return _no_job(
            asset_key, check_name, integration_id, passed=False, rest_endpoint=rest_endpoint
        )
    failed = not job.succeeded or (fail_on_partial and job.job_status == JobStatus.PARTIAL)
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=not failed,
        description=f"The job started {_when(job.sync_start_time)} ended {job.job_status}.",
        metadata=dagster_metadata(job_record(integration_id, job), rest_endpoint=rest_endpoint),
    )


def failed_rows_result(
    asset_key: dg.AssetKey,
    check_name: str,
    integration_id: str,
    job: SyncJob | None,
    max_failed_rows: int,
    *,
    rest_endpoint: str | None = None,
) -> dg.AssetCheckResult:
    """Passed when the job failed at most ``max_failed_rows`` rows."""
    if job is None:
        return _no_job(
            asset_key, check_name, integration_id, passed=True, rest_endpoint=rest_endpoint
        )
    failed = job.rows_failed_with_errors or 0
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=failed <= max_failed_rows,
        description=f"The job started {_when(job.sync_start_time)} failed {failed:,} rows "
        f"(at most {max_failed_rows:,} allowed).",
        metadata=dagster_metadata(
            {**job_record(integration_id, job), "max_failed_rows": max_failed_rows},
            rest_endpoint=rest_endpoint,
        ),
    )


def freshness_result(
    asset_key: dg.AssetKey,
    integration_id: str,
    job: SyncJob | None,
    max_age: timedelta,
    now: datetime,
    *,
    rest_endpoint: str | None = None,
) -> dg.AssetCheckResult:
    """Passed when ``job`` (the latest successful one) finished within ``max_age`` of ``now``."""
    bound = {"max_age_seconds": max_age.total_seconds()}
    if job is None:
        return _no_job(
            asset_key,
            JOB_FRESHNESS,
            integration_id,
            passed=False,
            extra=bound,
            rest_endpoint=rest_endpoint,
        )
    # A successful job has finished, but Braze does not promise a finish time: fall back to the
    # start, which only makes the job look older.
    ended = job.sync_finish_time or job.sync_start_time
    age = None if ended is None else now - ended
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=JOB_FRESHNESS,
        passed=age is not None and age <= max_age,
        description=f"The latest successful job ended {_when(ended)}, "
        f"{_age(age)} ago (at most {max_age} allowed).",
        metadata=dagster_metadata(
            {
                **job_record(integration_id, job),
                "age_seconds": None if age is None else round(age.total_seconds(), 3),
                **bound,
            },
            rest_endpoint=rest_endpoint,
        ),
    )


def check_max_failed_rows(value: object) -> None:
    """Refuse a bound that is not a whole number of rows, before anything runs."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BrazeConfigError(f"max_failed_rows must be a non-negative integer, not {value!r}.")


def _no_job(
    asset_key: dg.AssetKey,
    check_name: str,
    integration_id: str,
    *,
    passed: bool,
    extra: dict[str, float] | None = None,
    rest_endpoint: str | None = None,
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=passed,
        description=f"Braze lists no finished job of integration {integration_id}.",
        metadata=dagster_metadata(
            {"integration_id": integration_id, **(extra or {})}, rest_endpoint=rest_endpoint
        ),
    )


def _when(moment: datetime | None) -> str:
    return "at an unknown time" if moment is None else moment.isoformat()


def _age(age: timedelta | None) -> str:
    return "an unknown time" if age is None else str(age - timedelta(microseconds=age.microseconds))
