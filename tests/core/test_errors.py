"""Each Braze answer maps to its error class, with Braze's message and what to do."""

from __future__ import annotations

import pickle
import socket

import pytest

from braze_cdi import (
    BrazeAPIError,
    BrazeAuthenticationError,
    BrazeCDIClient,
    BrazeCDIError,
    BrazePermissionError,
    BrazeRateLimited,
    BrazeServerError,
    BrazeTransportError,
    IntegrationNotFound,
    InvalidIntegrationId,
    RetryPolicy,
    SyncAlreadyRunning,
)
from braze_cdi.testing import FakeBraze

from .conftest import Api

UNKNOWN_UUID = "3f0b8c2e-6a55-4d0e-9f57-000000000000"


def test_wrong_key_is_an_authentication_error_that_mentions_the_instance(
    api: Api, fake: FakeBraze
) -> None:
    api.api_key = "not-the-workspace-key"
    with pytest.raises(BrazeAuthenticationError, match="another instance") as caught:
        api.items("list_integrations")
    assert caught.value.status_code == 401
    assert caught.value.message.endswith("'Invalid API key'.")
    assert not caught.value.retryable
    assert fake.count("list") == 1


@pytest.mark.parametrize(
    ("method", "permission"),
    [
        ("trigger_sync", "cdi.integration_sync"),
        ("latest_sync_job", "cdi.integration_job_status"),
        ("list_integrations", "cdi.integration_list"),
    ],
)
def test_missing_permission_names_the_permission_needed(
    api: Api, fake: FakeBraze, method: str, permission: str
) -> None:
    integration = fake.add_integration()
    fake.add_key("a-narrowly-scoped-api-key", permissions=set())
    api.api_key = "a-narrowly-scoped-api-key"
    with pytest.raises(BrazePermissionError) as caught:
        if method == "list_integrations":
            api.items(method)
        else:
            api.call(method, integration.integration_id)
    assert caught.value.permission == permission
    assert permission in str(caught.value)
    assert "Access Denied" in caught.value.message
    assert fake.count() == 1


def test_unknown_integration_is_not_found_on_trigger(api: Api, fake: FakeBraze) -> None:
    with pytest.raises(IntegrationNotFound) as caught:
        api.call("trigger_sync", UNKNOWN_UUID)
    assert caught.value.status_code == 404
    assert "Integration not found" in caught.value.message


def test_invalid_integration_id_from_braze(api: Api, fake: FakeBraze) -> None:
    with pytest.raises(InvalidIntegrationId, match="Invalid integration ID") as caught:
        api.call("latest_sync_job", "not-a-known-id")
    assert caught.value.status_code == 400
    assert fake.count("status") == 1  # never retried


def test_invalid_cursor_is_an_api_error_not_retried(api: Api, fake: FakeBraze) -> None:
    fake.add_integration()
    fake.inject("list", status=400, body={"message": "Invalid cursor"})
    with pytest.raises(BrazeAPIError, match="Invalid cursor") as caught:
        api.items("list_integrations")
    assert type(caught.value) is BrazeAPIError
    assert fake.count("list") == 1


def test_another_job_in_progress_is_sync_already_running(api: Api, fake: FakeBraze) -> None:
    integration = fake.add_integration(duration=60.0)
    fake.start_job(integration.integration_id)
    with pytest.raises(SyncAlreadyRunning, match="Another job is in progress") as caught:
        api.call("trigger_sync", integration.integration_id)
    assert caught.value.status_code == 429 and not caught.value.retryable
    assert fake.count("trigger") == 1


def test_in_progress_is_recognised_by_the_budget_left_when_the_message_differs(
    api: Api, fake: FakeBraze
) -> None:
    integration = fake.add_integration()
    fake.inject(
        "trigger", status=429, body={"errors": ["Busy"]}, headers={"X-RateLimit-Remaining": "12"}
    )
    with pytest.raises(SyncAlreadyRunning):
        api.call("trigger_sync", integration.integration_id)


def test_rate_limit_429_is_retried_then_raised_as_rate_limited(api: Api, fake: FakeBraze) -> None:
    fake.inject(
        "list",
        status=429,
        body={"message": "API rate limit exceeded"},
        times=99,
        headers={"X-RateLimit-Remaining": "0", "Retry-After": "0"},
    )
    with pytest.raises(BrazeRateLimited) as caught:
        api.items("list_integrations")
    assert caught.value.retryable and caught.value.retry_after == 0
    assert fake.count("list") == 5  # the policy's attempts


def test_html_page_from_a_proxy_is_a_server_error(api: Api, fake: FakeBraze) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    fake.inject("list", status=502, body=page, times=99)
    with pytest.raises(BrazeServerError, match="502 Bad Gateway") as caught:
        api.items("list_integrations")
    assert caught.value.status_code == 502
    assert "<html>" not in str(caught.value)


def test_malformed_json_body_is_retried_then_reported(api: Api, fake: FakeBraze) -> None:
    fake.inject("list", status=200, body="{not json", times=99)
    with pytest.raises(BrazeAPIError, match="not the documented JSON") as caught:
        api.items("list_integrations")
    assert caught.value.retryable
    assert fake.count("list") == 5


def test_link_header_without_a_cursor_is_an_error_not_a_silent_stop(
    api: Api, fake: FakeBraze
) -> None:
    fake.add_integration()
    fake.inject("list", headers={"Link": '</cdi/integrations>; rel="next"'})
    with pytest.raises(BrazeAPIError, match="next page without a cursor"):
        api.items("list_integrations")


def test_unreachable_host_is_a_transport_error(api: Api) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api.url = f"http://127.0.0.1:{port}"
    with pytest.raises(BrazeTransportError, match="ConnectError") as caught:
        api.call("trigger_sync", "abc")
    assert caught.value.retryable and not caught.value.connected


def test_every_error_is_a_braze_cdi_error_with_a_hint(api: Api, fake: FakeBraze) -> None:
    fake.inject("list", status=503, times=99)
    with pytest.raises(BrazeCDIError) as caught:
        api.items("list_integrations")
    error = caught.value
    assert isinstance(error, BrazeServerError)
    assert str(error) == f"503: {error.message} {error.hint}"


def test_errors_survive_pickling(fake: FakeBraze, url: str) -> None:
    with (
        BrazeCDIClient(fake.api_key, url, retry=RetryPolicy(max_attempts=1)) as client,
        pytest.raises(BrazeCDIError) as caught,
    ):
        client.trigger_sync(UNKNOWN_UUID)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is IntegrationNotFound
    assert str(copy) == str(caught.value) and copy.status_code == 404


def test_a_hint_names_each_setting_as_the_surface_spells_it(api: Api, fake: FakeBraze) -> None:
    integration = fake.add_integration(duration=60.0)
    fake.start_job(integration.integration_id)

    with pytest.raises(SyncAlreadyRunning) as caught:
        api.call("start_sync", integration.integration_id, if_running="fail")

    error = caught.value
    assert error.hint == 'Use if_running="wait" or if_running="attach" to not fail here.'
    assert str(error).endswith(error.hint)
    assert error.describe("cli").endswith(
        "Use --if-running wait or --if-running attach to not fail here."
    )
    assert error.describe("yaml").endswith(
        "Use if_running: wait or if_running: attach to not fail here."
    )
    assert fake.count("trigger") == 0


def test_a_hint_survives_pickling_and_a_later_change_shows_in_repr(
    fake: FakeBraze, url: str
) -> None:
    integration = fake.add_integration(duration=60.0)
    fake.start_job(integration.integration_id)
    with (
        BrazeCDIClient(fake.api_key, url) as client,
        pytest.raises(SyncAlreadyRunning) as caught,
    ):
        client.start_sync(integration.integration_id, if_running="fail")

    copy = pickle.loads(pickle.dumps(caught.value))
    assert copy.describe("cli") == caught.value.describe("cli")
    assert "--if-running attach" in copy.describe("cli")
    copy.hint = "Look at the integration's page."
    assert repr(copy).endswith("""Look at the integration's page.")""")


def test_redirects_are_not_followed(api: Api, fake: FakeBraze) -> None:
    fake.inject("list", status=302, body="", headers={"Location": "https://elsewhere.example/"})
    with pytest.raises(BrazeAPIError, match="302") as caught:
        api.items("list_integrations")
    assert caught.value.status_code == 302
    assert fake.count() == 1
