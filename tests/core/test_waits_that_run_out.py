"""A wait that runs out reads as a timeout; what ends a wait says where its sync is; errors name
the host they could not reach and go by their public path."""

from __future__ import annotations

import pickle
import socket
import traceback
from collections import Counter

import pytest
from pydantic import SecretStr

import braze_cdi
from braze_cdi import (
    BrazeCDIClient,
    BrazeTransportError,
    RateLimit,
    RateLimits,
    RetryPolicy,
    SyncFailed,
    SyncHandle,
    SyncJob,
    SyncResult,
    SyncTimeout,
)
from braze_cdi._protocol import jobs_call
from braze_cdi._rate_limit import shared_budgets
from braze_cdi._retry import Context, send
from braze_cdi._secrets import secret_api_key
from braze_cdi.events import PollFailed, SyncEvent
from braze_cdi.testing import FakeBraze, FakeClock

from .conftest import Api


def test_a_short_max_wait_on_a_real_clock_ends_as_a_timeout_not_a_budget_error(
    api: Api, fake: FakeBraze
) -> None:
    # Polls at 0, 0.5 and (cut to the deadline) 1.0 s: the pause that ends at the deadline
    # overshoots it a little on a real clock, and no look can be answered after it.
    integration = fake.add_integration(duration=60.0)
    events: list[SyncEvent] = []

    with pytest.raises(SyncTimeout) as caught:
        api.call(
            "sync_and_wait",
            integration.integration_id,
            max_wait=1.0,
            poll_interval=0.5,
            on_event=events.append,
        )

    error = caught.value
    assert "ran out: the job started" in error.message
    assert "still running" in error.message
    assert "budget" not in str(error) and "last poll failed" not in str(error)
    assert not [event for event in events if isinstance(event, PollFailed)]
    assert error.handle is not None and error.handle.triggered
    assert error.describe("cli").endswith(
        "wait again with the handle, or sync again with --if-running attach to adopt the "
        "running job."
    )


def test_a_call_whose_deadline_passed_is_not_sent_and_says_so() -> None:
    clock = FakeClock()
    key = secret_api_key(SecretStr("a-key-for-this-test-0123"))
    budgets = shared_budgets(
        RateLimits(status=RateLimit(100, 60.0)),
        host="https://test",
        api_key=key,
        clock=clock,
        longest_request=30.0,
    )
    ctx = Context(RetryPolicy(), budgets, clock, lambda text: text, Counter())
    op = send(ctx, jobs_call("abc"), lambda response: response, deadline=clock.monotonic() - 1)

    with pytest.raises(BrazeTransportError) as caught:
        next(op)

    assert caught.value.message == (
        "Listing the sync jobs of integration abc was not sent: the time it was given had run out."
    )
    assert not caught.value.connected
    assert ctx.sent["status"] == 0


def test_a_failed_sync_carries_its_handle(api: Api, fake: FakeBraze) -> None:
    integration = fake.add_integration(duration=0.0, outcome="error")

    with pytest.raises(SyncFailed) as caught:
        api.call("sync_and_wait", integration.integration_id, poll_interval=0.05)

    handle = caught.value.handle
    assert handle is not None and handle.triggered
    assert handle.integration_id == integration.integration_id


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        ("http://127.0.0.1:{port}", "127.0.0.1:{port}"),
        ("https://rest.braze-cdi-test.invalid", "rest.braze-cdi-test.invalid"),
    ],
)
def test_a_connection_error_names_the_host(endpoint: str, host: str) -> None:
    port = _free_port()
    endpoint, host = endpoint.format(port=port), host.format(port=port)
    client = BrazeCDIClient(
        "a-key-for-this-test-0123",
        endpoint,
        retry=RetryPolicy(max_attempts=1),
        request_timeout=5.0,
    )

    with client, pytest.raises(BrazeTransportError) as caught:
        list(client.list_integrations())

    assert caught.value.message.startswith(f"Listing integrations at {host} failed: ")
    assert not caught.value.connected


def test_public_classes_go_by_their_public_path_and_still_pickle(fake: FakeBraze) -> None:
    integration = fake.add_integration(duration=0.0, outcome="error")
    with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        try:
            client.sync_and_wait(integration.integration_id, poll_interval=0.01)
        except SyncFailed as error:
            failed = error
            shown = traceback.format_exc()

    assert shown.splitlines()[-1].startswith("braze_cdi.SyncFailed: The sync of integration")
    assert "braze_cdi._errors" not in shown
    assert repr(type(failed)) == "<class 'braze_cdi.SyncFailed'>"
    for name in braze_cdi.__all__:
        public = getattr(braze_cdi, name)
        if isinstance(public, type):
            assert public.__module__ == "braze_cdi", name

    copy = pickle.loads(pickle.dumps(failed))
    assert type(copy) is SyncFailed and str(copy) == str(failed)
    assert copy.handle == failed.handle and copy.job == failed.job
    job = SyncJob(job_status="success", sync_start_time="2026-01-01T00:00:00Z")
    handle = SyncHandle(integration_id="abc", previous_job=job, triggered=True)
    result = SyncResult(
        integration_id="abc", job=job, triggered=True, waited_seconds=1.0, status_calls=2
    )
    for value in (handle, result, RetryPolicy(max_attempts=2), RateLimits()):
        assert pickle.loads(pickle.dumps(value)) == value
