"""One Dagster run, one sync: the trigger's record, kept in the run's event log.

Right before the core sends a trigger, it hands the trigger's record (a ``braze_cdi.SyncHandle``)
to a hook. Here the hook logs it as an ``AssetObservation`` of the sync's asset, which Dagster
writes to the instance's event log storage at once, so the record outlives the step's process.
Every later attempt of the same run looks for it in the event logs of the run's group (the runs
that share its root: the run itself for a step retry, its ancestors and siblings for a run retry
or a re-execution) and hands it to the core as ``resume=``: the core adopts the job that trigger
started instead of triggering again.

A record is spent, and the next attempt syncs anew, once the step that made it succeeded later
in the group (a re-execution of every step syncs again), or once its job ended failed (a
re-execution after fixing the integration syncs again). A run with another root finds none.

Dagster plumbing only: which events to write and read. What a record means is the core's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import dagster as dg

from braze_cdi import BrazeConfigError, SyncHandle, SyncJob

from ._types import AssetKeyLike

__all__ = ["RECORD", "SPENT", "RunRecords", "StepContext", "run_records"]

StepContext: TypeAlias = dg.AssetExecutionContext | dg.OpExecutionContext

#: The metadata key of an observation that holds a trigger's record (JSON).
RECORD = "braze_cdi/trigger_record"
#: The metadata key of an observation that spends the records before it: the job ended failed.
SPENT = "braze_cdi/job_ended"
_INTEGRATION = "braze_cdi/integration_id"
_READ = {
    dg.DagsterEventType.ASSET_OBSERVATION,
    dg.DagsterEventType.STEP_SUCCESS,
}


def run_records(
    context: StepContext, integration_id: str, asset_key: AssetKeyLike | None = None
) -> RunRecords | None:
    """The records of ``integration_id``'s triggers in this run, kept on ``asset_key`` (by
    default the one asset the step materializes); ``None`` for an op or asset invoked directly
    (as in a unit test), which has no run to retry.

    Raises:
        BrazeConfigError: no asset key was given, and the step materializes none or several.
    """
    try:
        run_id = context.run.run_id
    except dg.DagsterError:  # invoked directly: no run, so no run history and no retries
        return None
    if asset_key is not None:
        key = dg.AssetKey.from_coercible(asset_key)
    else:
        selected = context.selected_asset_keys if context.has_assets_def else set()
        if len(selected) != 1:
            raise BrazeConfigError(
                "sync_and_poll(context=...) keeps the trigger's record on an asset of the step: "
                f"this step materializes {len(selected)} assets, so name the one with asset_key=."
            )
        [key] = selected
    return RunRecords(context, run_id, key, integration_id)


@dataclass(frozen=True)
class RunRecords:
    """Where the records of one integration's triggers go, and how they are found again."""

    context: StepContext
    run_id: str
    asset_key: dg.AssetKey
    integration_id: str

    def persist(self, record: SyncHandle) -> None:
        """The core's ``before_trigger`` hook: log the record, before the trigger is sent."""
        self.context.log_event(
            dg.AssetObservation(
                asset_key=self.asset_key,
                description=f"A sync of Braze CDI integration {self.integration_id} is about "
                "to be triggered: another attempt of this run adopts its job.",
                metadata={
                    _INTEGRATION: self.integration_id,
                    RECORD: dg.MetadataValue.json(record.model_dump(mode="json")),
                },
            )
        )

    def job_failed(self, job: SyncJob) -> None:
        """Spend the records so far: the job ended failed, and another attempt syncs anew."""
        self.context.log_event(
            dg.AssetObservation(
                asset_key=self.asset_key,
                description=f"The sync's job ended {job.job_status}: another attempt of this "
                "run triggers a new sync.",
                metadata={_INTEGRATION: self.integration_id, SPENT: str(job.job_status)},
            )
        )

    def latest(self) -> SyncHandle | None:
        """The record of the run group's latest trigger, unless it is spent."""
        instance = self.context.instance
        group = instance.get_run_group(self.run_id)
        run_ids = [run.run_id for run in group[1]] if group else [self.run_id]
        records: list[tuple[float, str | None, SyncHandle]] = []
        spent: list[float] = []
        successes: list[tuple[float, str | None]] = []
        for run_id in run_ids:
            for entry in instance.all_logs(run_id, of_type=_READ):
                if entry.dagster_event_type == dg.DagsterEventType.STEP_SUCCESS:
                    successes.append((entry.timestamp, entry.step_key))
                    continue
                observation = entry.asset_observation
                if observation is None or observation.asset_key != self.asset_key:
                    continue
                metadata = observation.metadata
                if RECORD in metadata:
                    record = SyncHandle.model_validate(metadata[RECORD].value)
                    if record.integration_id == self.integration_id:
                        records.append((entry.timestamp, entry.step_key, record))
                elif SPENT in metadata and _text(metadata.get(_INTEGRATION)) == self.integration_id:
                    spent.append(entry.timestamp)
        if not records:
            return None
        at, step_key, record = max(records, key=lambda item: item[0])
        if any(time > at for time in spent) or any(
            time > at and key == step_key for time, key in successes
        ):
            return None
        return record


def _text(value: dg.MetadataValue | None) -> object:
    return None if value is None else value.value
