"""One pipeline run, one sync: the record of each trigger, kept with the flow run in Prefect's
API, so that a later attempt of the same call adopts the job it started.

The core hands the record (a ``SyncHandle``) to ``before_trigger`` right before it sends the
trigger, and adopts that record's job when it is handed back as ``resume=``. This module keeps
the record as a flow run input (``prefect.input``: a flow run's own key-value store in the API)
of the pipeline's root flow run, under a key that names the call:

- the path from the root flow run to the flow run that makes the call: for each subflow, its
  parent task run's key and dynamic key, which Prefect keeps the same across attempts (a parent
  that runs again reuses that task run, even when it makes a new subflow run under it);
- the integration id;
- which call for that integration it is in this attempt of its flow run: the first, the
  second... (a task retry is the same call again), and likewise within a task that calls
  ``trigger_sync.fn`` itself.

So a task retry, a flow-run retry, a crashed flow run run again under its id (``prefect
flow-run retry``, Retry in the UI) and a subflow that its parent's retry runs again all find
the record; a new flow run does not, and starts a new sync. The record lives as long as the
flow run: deleting the flow run deletes it. Outside a flow run nothing is kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.context import FlowRunContext, TaskRunContext
from prefect.exceptions import PrefectHTTPStatusError

from braze_cdi import SyncHandle

__all__ = ["KEY_PREFIX", "RunRecord", "arun_record", "run_record"]

#: The start of every key this package keeps among a flow run's inputs.
KEY_PREFIX = "braze-cdi-sync-"

_SENDER = "prefect_braze_cdi"


@dataclass
class RunRecord:
    """Where the record of one trigger call is kept: the input ``key`` of the flow run
    ``flow_run_id`` (the pipeline's root flow run)."""

    flow_run_id: UUID
    key: str

    def load(self) -> SyncHandle | None:
        """The record an earlier attempt of this call kept, or None."""
        with get_client(sync_client=True) as client:
            try:
                text = client.read_flow_run_input(self.flow_run_id, self.key)
            except PrefectHTTPStatusError as error:
                if error.response.status_code == 404:
                    return None
                raise
        return SyncHandle.model_validate_json(text)

    def save(self, record: SyncHandle) -> None:
        """Keep ``record`` (the core's ``before_trigger``), replacing the one kept before: a
        resumed attempt whose earlier trigger started nothing triggers anew."""
        value = record.model_dump_json()
        with get_client(sync_client=True) as client:
            try:
                client.create_flow_run_input(self.flow_run_id, self.key, value, _SENDER)
            except PrefectHTTPStatusError as error:
                if error.response.status_code != 409:
                    raise
                client.delete_flow_run_input(self.flow_run_id, self.key)
                client.create_flow_run_input(self.flow_run_id, self.key, value, _SENDER)

    async def aload(self) -> SyncHandle | None:
        """``load`` without blocking the event loop."""
        return await asyncio.to_thread(self.load)

    async def asave(self, record: SyncHandle) -> None:
        """``save`` without blocking the event loop (the async client awaits the hook)."""
        await asyncio.to_thread(self.save, record)


def run_record(integration_id: str) -> RunRecord | None:
    """Where this call of a trigger task keeps its record; None outside a flow run.

    Call it once per call of the task (each call is counted), from inside the task.
    """
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return None
    flow_run = context.flow_run
    call = _count_call(flow_run, integration_id)
    root, path = _root_and_path(flow_run)
    name = json.dumps([path, integration_id, call])
    return RunRecord(root, KEY_PREFIX + hashlib.sha256(name.encode()).hexdigest()[:40])


async def arun_record(integration_id: str) -> RunRecord | None:
    """``run_record`` without blocking the event loop (the context goes with it)."""
    return await asyncio.to_thread(run_record, integration_id)


def _root_and_path(flow_run: FlowRun) -> tuple[UUID, list[str]]:
    """The root flow run of ``flow_run``, and the parent task runs that lead down from it (a
    flow run that is no subflow is its own root: nothing to read)."""
    path: list[str] = []
    if flow_run.parent_task_run_id is None:
        return flow_run.id, path
    with get_client(sync_client=True) as client:
        while flow_run.parent_task_run_id is not None:
            parent = client.read_task_run(flow_run.parent_task_run_id)
            if parent.flow_run_id is None:  # a subflow of a task run outside any flow run
                break
            path.append(f"{parent.task_key}/{parent.dynamic_key}")
            flow_run = client.read_flow_run(parent.flow_run_id)
    return flow_run.id, path[::-1]


@dataclass
class _Calls:
    """The trigger calls one attempt of a flow run has made so far."""

    # integration id -> the task runs that triggered it, in order (a token for a call made
    # outside any task run)
    task_runs: dict[str, list[object]] = field(default_factory=dict)
    # (task run id, its attempt, integration id) -> the calls that attempt made
    within: dict[tuple[UUID, int, str], int] = field(default_factory=dict)


_LOCK = threading.Lock()
_ATTEMPTS: OrderedDict[tuple[UUID, int], _Calls] = OrderedDict()
_KEEP = 1000  # attempts remembered by one process; a flow run's attempts run one after another


def _count_call(flow_run: FlowRun, integration_id: str) -> tuple[int, int]:
    """(which task run of this attempt of ``flow_run`` that triggers ``integration_id`` the
    current one is, which call of that task run's attempt this is), both from 0.

    A task retry is the same task run and starts counting its own calls again, so it gets the
    numbers of the attempt it retries; a flow-run retry is a new attempt and counts from 0.
    """
    task = TaskRunContext.get()
    with _LOCK:
        attempt = (flow_run.id, flow_run.run_count)
        calls = _ATTEMPTS.get(attempt)
        if calls is None:
            calls = _ATTEMPTS[attempt] = _Calls()
            while len(_ATTEMPTS) > _KEEP:
                _ATTEMPTS.popitem(last=False)
        runs = calls.task_runs.setdefault(integration_id, [])
        if task is None:  # ``trigger_sync.fn`` called by the flow itself: each call its own
            runs.append(object())
            return len(runs) - 1, 0
        run = task.task_run
        if run.id not in runs:
            runs.append(run.id)
        within = (run.id, run.run_count, integration_id)
        made = calls.within.get(within, 0)
        calls.within[within] = made + 1
        return runs.index(run.id), made
