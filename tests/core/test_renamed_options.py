"""The options renamed in 0.1 (``timeout``, ``deadline``): the old names still work for one
minor release, each use warns with the new name at the caller's line, and an old name given
with its new name is refused before any request."""

from __future__ import annotations

import asyncio
import traceback
import warnings
from typing import Any

import pytest
from pydantic import ValidationError

from braze_cdi import (
    AsyncBrazeCDIClient,
    BrazeCDIClient,
    BrazeConfigError,
    RetryPolicy,
    SyncHandle,
    SyncTimeout,
    accept_renamed,
)
from braze_cdi.testing import FakeBraze, FakeClock

from .conftest import Api

KEY = "my-rest-api-key-1234"
USE_REQUEST_TIMEOUT = r"timeout is deprecated in (Async)?BrazeCDIClient: use request_timeout"


def _max_wait_warning(method: str) -> str:
    return rf"timeout is deprecated in {method}: use max_wait instead \(timeout goes in "


# --- the constructor: timeout -> request_timeout --------------------------------------------


@pytest.mark.parametrize("client_class", [BrazeCDIClient, AsyncBrazeCDIClient])
def test_the_constructor_still_takes_timeout_and_warns(client_class: type[Any]) -> None:
    with pytest.warns(DeprecationWarning, match=USE_REQUEST_TIMEOUT) as caught:
        client = client_class(KEY, "US-01", timeout=5)

    assert client.request_timeout == 5.0
    assert caught[0].filename == __file__  # the warning points at the caller's line


def test_the_timeout_attribute_still_reads_and_warns() -> None:
    client = BrazeCDIClient(KEY, "US-01", request_timeout=7)

    with pytest.warns(DeprecationWarning, match=USE_REQUEST_TIMEOUT):
        assert client.timeout == 7.0


def test_from_env_still_takes_timeout_and_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRAZE_API_KEY", KEY)
    monkeypatch.setenv("BRAZE_REST_ENDPOINT", "US-01")

    with pytest.warns(DeprecationWarning, match=USE_REQUEST_TIMEOUT) as caught:
        client = BrazeCDIClient.from_env(timeout=6)

    assert client.request_timeout == 6.0
    assert caught[0].filename == __file__


@pytest.mark.parametrize("client_class", [BrazeCDIClient, AsyncBrazeCDIClient])
def test_timeout_with_request_timeout_is_refused(client_class: type[Any]) -> None:
    with pytest.raises(BrazeConfigError, match="timeout and request_timeout were both given"):
        client_class(KEY, "US-01", timeout=5, request_timeout=5)


def test_a_refused_deprecated_option_keeps_the_key_out_of_the_traceback() -> None:
    # The key given by keyword, and both names: the error passes through the renaming.
    with pytest.raises(BrazeConfigError) as raised:
        BrazeCDIClient(api_key=KEY, rest_endpoint="US-01", timeout=1, request_timeout=2)
    with (
        pytest.warns(DeprecationWarning, match=USE_REQUEST_TIMEOUT),
        pytest.raises(BrazeConfigError, match="request_timeout must be a positive") as bad,
    ):
        BrazeCDIClient(KEY, "US-01", timeout=-1)

    for error in (raised.value, bad.value):
        shown = traceback.TracebackException.from_exception(error, capture_locals=True)
        frames = [frame for frame in shown.stack if "braze_cdi" in frame.filename]
        assert frames  # the client's own frames, with their locals
        assert KEY not in "".join(shown.format())


# --- the methods: timeout -> max_wait -----------------------------------------------------


def test_sync_and_wait_still_takes_timeout_and_warns(api: Api, fake: FakeBraze) -> None:
    users = fake.add_integration(duration=0.0)

    with pytest.warns(DeprecationWarning, match=_max_wait_warning("sync_and_wait")) as caught:
        result = api.call("sync_and_wait", users.integration_id, timeout=30, poll_interval=0.01)

    assert result.job_status == "success"
    # conftest's Api.call is the line that calls the method, sync or awaited.
    assert caught[0].filename.endswith("conftest.py")


def test_start_sync_and_wait_for_sync_still_take_timeout_and_warn(
    api: Api, fake: FakeBraze
) -> None:
    users = fake.add_integration(duration=0.0)

    with pytest.warns(DeprecationWarning, match=_max_wait_warning("start_sync")):
        handle = api.call("start_sync", users.integration_id, timeout=30, poll_interval=0.01)
    with pytest.warns(DeprecationWarning, match=_max_wait_warning("wait_for_sync")):
        result = api.call("wait_for_sync", handle, timeout=30, poll_interval=0.01)

    assert result.job_status == "success"


def test_the_old_timeout_still_bounds_the_wait(clock: FakeClock) -> None:
    fake = FakeBraze(clock=clock)
    users = fake.add_integration(duration=7200)
    client = BrazeCDIClient(fake.api_key, "US-01", transport=fake, clock=clock)

    with (
        pytest.warns(DeprecationWarning, match=_max_wait_warning("sync_and_wait")),
        pytest.raises(SyncTimeout),
    ):
        client.sync_and_wait(users.integration_id, timeout=600)

    assert clock.monotonic() == 600.0


def test_sync_many_still_takes_timeout_and_warns(fake: FakeBraze) -> None:
    ids = [fake.add_integration(duration=0.0).integration_id for _ in range(2)]

    async def sync_all() -> list[Any]:
        async with AsyncBrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
            return await client.sync_many(ids, timeout=30, poll_interval=0.01)

    with pytest.warns(DeprecationWarning, match=_max_wait_warning("sync_many")) as caught:
        results = asyncio.run(sync_all())

    assert [str(result.job_status) for result in results] == ["success", "success"]
    assert caught[0].filename == __file__


@pytest.mark.parametrize("method", ["start_sync", "sync_and_wait"])
def test_timeout_with_max_wait_is_refused_before_any_request(
    api: Api, fake: FakeBraze, method: str
) -> None:
    users = fake.add_integration()

    with pytest.raises(BrazeConfigError, match="timeout and max_wait were both given") as raised:
        api.call(method, users.integration_id, timeout=30, max_wait=30)

    assert "Give only max_wait" in str(raised.value)
    assert fake.count() == 0


def test_timeout_with_max_wait_is_refused_by_wait_for_sync_and_sync_many(fake: FakeBraze) -> None:
    users = fake.add_integration()
    handle = SyncHandle(integration_id=users.integration_id, triggered=True)
    client = AsyncBrazeCDIClient(fake.api_key, "US-01", transport=fake)

    with pytest.raises(BrazeConfigError, match="both given"):
        BrazeCDIClient(fake.api_key, "US-01", transport=fake).wait_for_sync(
            handle, timeout=1, max_wait=1
        )
    with pytest.raises(BrazeConfigError, match="both given"):
        asyncio.run(client.wait_for_sync(handle, timeout=1, max_wait=1))
    with pytest.raises(BrazeConfigError, match="both given"):
        asyncio.run(client.sync_many([users.integration_id], timeout=1, max_wait=1))

    assert fake.count() == 0


def test_the_new_names_do_not_warn(fake: FakeBraze) -> None:
    users = fake.add_integration(duration=0.0)

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        with BrazeCDIClient(
            fake.api_key,
            "US-01",
            transport=fake,
            request_timeout=5,
            retry=RetryPolicy(max_duration=60),
        ) as client:
            client.sync_and_wait(users.integration_id, max_wait=30, poll_interval=0.01)


# --- RetryPolicy: deadline -> max_duration ---------------------------------------------------


def test_retry_policy_still_takes_deadline_and_warns() -> None:
    with pytest.warns(
        DeprecationWarning, match="deadline is deprecated in RetryPolicy: use max_duration"
    ) as caught:
        policy = RetryPolicy(max_attempts=3, deadline=42)

    assert policy == RetryPolicy(max_attempts=3, max_duration=42)
    assert caught[0].filename == __file__
    with pytest.warns(DeprecationWarning, match="use max_duration"):
        assert policy.deadline == 42.0


def test_retry_policy_validates_a_saved_deadline() -> None:
    with pytest.warns(DeprecationWarning, match="use max_duration"):
        policy = RetryPolicy.model_validate({"deadline": 12.5, "jitter": False})

    assert (policy.max_duration, policy.jitter) == (12.5, False)


def test_retry_policy_refuses_deadline_with_max_duration() -> None:
    with pytest.raises(ValidationError, match="deadline and max_duration were both given"):
        RetryPolicy(deadline=10, max_duration=20)


def test_the_old_deadline_is_still_checked() -> None:
    with (
        pytest.warns(DeprecationWarning, match="use max_duration"),
        pytest.raises(ValidationError, match="max_duration"),
    ):
        RetryPolicy(deadline=0)


# --- the helper -------------------------------------------------------------------------


def test_accept_renamed_ignores_an_old_name_left_none() -> None:
    options: dict[str, Any] = {"poll_timeout": None, "max_wait": 5.0}

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        accept_renamed(options, {"poll_timeout": "max_wait"})

    assert options == {"max_wait": 5.0}
