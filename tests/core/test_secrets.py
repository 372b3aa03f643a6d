"""The API key never shows: not in logs, exceptions, tracebacks or reprs, on any error path."""

from __future__ import annotations

import logging
import pickle
import socket
import traceback
from collections.abc import Callable

import pytest

from braze_cdi import (
    AsyncBrazeCDIClient,
    BrazeCDIClient,
    BrazeCDIError,
    RetryPolicy,
    SyncHandle,
)
from braze_cdi.testing import FakeBraze, FakeClock

KEY = "sk-live-0123456789abcdef0123456789abcdef"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _scenarios(fake: FakeBraze) -> dict[str, Callable[[BrazeCDIClient], object]]:
    busy = fake.add_integration("busy", duration=1e6)
    fake.start_job(busy.integration_id)
    failing = fake.add_integration("failing", duration=1.0, outcome="error")
    slow = fake.add_integration("slow", duration=1e6)
    fine = fake.add_integration("fine", duration=1.0)

    def inject(**fault: object) -> Callable[[BrazeCDIClient], object]:
        def run(client: BrazeCDIClient) -> object:
            fake.inject(**fault)  # type: ignore[arg-type]
            return list(client.list_integrations())

        return run

    return {
        "401": lambda c: fake.keys.pop(KEY) and list(c.list_integrations()),
        "403": lambda c: fake.keys.update({KEY: frozenset()}) or c.trigger_sync("fine"),
        "404": lambda c: c.trigger_sync("3f0b8c2e-6a55-4d0e-9f57-000000000000"),
        "400": lambda c: c.latest_sync_job("nope"),
        "429 in progress": lambda c: c.trigger_sync(busy.integration_id),
        "429 rate limit": inject(status=429, headers={"Retry-After": "0"}, times=9),
        "503": inject(status=503, times=9),
        "html 502": inject(status=502, body="<title>Bad gateway</title>", times=9),
        "key echoed by a proxy": inject(status=500, body={"message": f"bad header Bearer {KEY}"}),
        "malformed": inject(status=200, body="{", times=9),
        "dropped": inject(drop=True, times=9),
        "timeout": inject(delay=0.5, times=9),
        "sync failed": lambda c: c.sync_and_wait(failing.integration_id, poll_interval=1),
        "sync timeout": lambda c: c.sync_and_wait(slow.integration_id, max_wait=30),
        "attach fail": lambda c: c.sync_and_wait(busy.integration_id, if_running="fail"),
        "bad id": lambda c: c.trigger_sync("a/b"),
        "bad handle": lambda c: c.wait_for_sync(SyncHandle(integration_id="..", triggered=True)),
        "success": lambda c: c.sync_and_wait(fine.integration_id, poll_interval=1),
    }


SCENARIOS = list(_scenarios(FakeBraze()))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_key_in_logs_errors_tracebacks_or_reprs(
    scenario: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    fake = FakeBraze(api_key=KEY, clock=clock)
    run = _scenarios(fake)[scenario]
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx, httpcore
    texts: list[str] = []
    with fake.serve() as url:
        client = BrazeCDIClient(
            KEY, url, clock=clock, request_timeout=0.2, retry=RetryPolicy(jitter=False)
        )
        texts += [repr(client), str(vars(client))]
        try:
            run(client)
        except BrazeCDIError as error:
            texts += [
                str(error),
                repr(error),
                repr(vars(error)),
                str(pickle.loads(pickle.dumps(error))),
            ]
            texts += traceback.format_exception(type(error), error, error.__traceback__)
        finally:
            client.close()
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.__dict__) for record in caplog.records]
    if fake.requests:
        assert caplog.records, "the scenario logged nothing; the check would be empty"
    leaks = [text for text in texts if KEY in text]
    assert leaks == []


def test_config_errors_never_echo_the_key() -> None:
    for endpoint in ("US-09", "http://example.com", f"https://{KEY}@host"):
        with pytest.raises(BrazeCDIError) as caught:
            BrazeCDIClient(KEY, endpoint)
        assert KEY not in str(caught.value)
    with pytest.raises(BrazeCDIError) as caught:
        BrazeCDIClient(f"{KEY}\n", "US-01")
    assert KEY not in str(caught.value)


def test_async_client_repr_hides_the_key() -> None:
    client = AsyncBrazeCDIClient(KEY, "US-01")
    assert repr(client) == "AsyncBrazeCDIClient(rest_endpoint='https://rest.iad-01.braze.com')"
    assert KEY not in str(vars(client))


def test_transport_failures_never_show_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        BrazeCDIClient(
            KEY,
            f"http://127.0.0.1:{_closed_port()}",
            retry=RetryPolicy(max_attempts=2, initial_delay=0),
        ) as c,
        pytest.raises(BrazeCDIError) as caught,
    ):
        c.trigger_sync("abc")
    formatted = "".join(
        traceback.format_exception(type(caught.value), caught.value, caught.value.__traceback__)
    )
    assert KEY not in formatted
    assert all(KEY not in record.getMessage() for record in caplog.records)
