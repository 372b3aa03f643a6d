"""Bad input is refused with BrazeConfigError before any request is sent."""

from __future__ import annotations

import pytest

from braze_cdi import BrazeCDIClient, BrazeConfigError, SyncHandle
from braze_cdi.testing import FakeBraze

from .conftest import Api

BAD_IDS = [
    "",
    "   ",
    " abc",
    "abc def",
    "a/b",
    "..",
    "a..b",
    "abc?x=1",
    "abc#frag",
    "abc%2F",
    "abc\x00",
    "abc\n",
    "abc\u200b",
    "x" * 129,
    "a\\b",
]


@pytest.mark.parametrize("bad_id", BAD_IDS)
@pytest.mark.parametrize(
    "method", ["trigger_sync", "latest_sync_job", "start_sync", "sync_and_wait"]
)
def test_malformed_integration_id_is_refused_before_any_request(
    api: Api, fake: FakeBraze, method: str, bad_id: str
) -> None:
    with pytest.raises(BrazeConfigError, match="Invalid integration id"):
        api.call(method, bad_id)
    assert fake.requests == []


@pytest.mark.parametrize("bad_id", [None, 123, b"abc"])
def test_non_string_integration_id_is_refused(fake: FakeBraze, url: str, bad_id: object) -> None:
    with BrazeCDIClient(fake.api_key, url) as client, pytest.raises(BrazeConfigError):
        client.list_sync_jobs(bad_id)  # type: ignore[arg-type]
    assert fake.requests == []


def test_list_sync_jobs_checks_the_id_when_called_not_when_iterated(
    fake: FakeBraze, url: str
) -> None:
    with BrazeCDIClient(fake.api_key, url) as client, pytest.raises(BrazeConfigError):
        client.list_sync_jobs("a/b")


def test_a_uuid_shape_is_not_required(api: Api, fake: FakeBraze) -> None:
    fake.add_integration("users-daily", duration=0.0)
    assert api.call("latest_sync_job", "users-daily") is None
    assert fake.count("status", status=200) == 1


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("US-01", "https://rest.iad-01.braze.com"),
        ("us-08", "https://rest.iad-08.braze.com"),
        ("US-10", "https://rest.us-10.braze.com"),
        ("EU-02", "https://rest.fra-02.braze.eu"),
        ("kr-01", "https://rest.kr-01.braze.com"),
        ("rest.iad-03.braze.com", "https://rest.iad-03.braze.com"),
        ("https://rest.fra-01.braze.eu/", "https://rest.fra-01.braze.eu"),
        (
            "https://braze-proxy.example.com:8443/braze",
            "https://braze-proxy.example.com:8443/braze",
        ),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:9", "http://localhost:9"),
        ("http://[::1]:9", "http://[::1]:9"),
    ],
)
def test_rest_endpoint_accepts_urls_hosts_and_instance_names(endpoint: str, expected: str) -> None:
    assert BrazeCDIClient("my-rest-api-key-1234", endpoint).rest_endpoint == expected


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("US-09", "not a Braze instance.*US-01, US-02"),
        ("EU-03", "not a Braze instance"),
        ("", "missing"),
        ("http://rest.iad-01.braze.com", "Refusing plain http"),
        ("http://10.0.0.5", "Refusing plain http"),
        ("ftp://rest.iad-01.braze.com", "not an http"),
        ("https://user:pw@rest.iad-01.braze.com", "must not carry credentials"),
        ("https://rest.iad-01.braze.com/?a=1", "must not carry"),
        ("https://", "not an http"),
        ("https://host:notaport", "not a valid URL"),
    ],
)
def test_bad_rest_endpoint_is_refused(endpoint: str, message: str) -> None:
    with pytest.raises(BrazeConfigError, match=message):
        BrazeCDIClient("my-rest-api-key-1234", endpoint)


@pytest.mark.parametrize(
    "key", [None, "", "   ", " a-rest-api-key-1234", "a-rest-api\nkey-1234", "a-rést-api-key-1234"]
)
def test_bad_api_key_is_refused(key: str | None) -> None:
    with pytest.raises(BrazeConfigError, match="API key"):
        BrazeCDIClient(key, "US-01")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"poll_interval": 0}, "poll_interval"),
        ({"poll_interval": -1}, "poll_interval"),
        ({"max_wait": 0}, "max_wait"),
        ({"max_wait": "soon"}, "max_wait"),
        ({"if_running": "skip"}, "if_running must be one of wait, attach, fail"),
        ({"max_poll_interval": -5}, "max_poll_interval"),
    ],
)
def test_bad_wait_options_are_refused_before_any_request(
    api: Api, fake: FakeBraze, options: dict[str, object], message: str
) -> None:
    integration = fake.add_integration()
    with pytest.raises(BrazeConfigError, match=message):
        api.call("sync_and_wait", integration.integration_id, **options)
    assert fake.requests == []


def test_wait_for_sync_needs_a_handle(api: Api, fake: FakeBraze) -> None:
    with pytest.raises(BrazeConfigError, match="SyncHandle"):
        api.call("wait_for_sync", "some-id")
    handle = SyncHandle(integration_id="a/b", triggered=True)
    with pytest.raises(BrazeConfigError, match="Invalid integration id"):
        api.call("wait_for_sync", handle)
    assert fake.requests == []


def test_from_env_names_the_missing_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BRAZE_API_KEY", raising=False)
    monkeypatch.delenv("BRAZE_REST_ENDPOINT", raising=False)
    with pytest.raises(BrazeConfigError, match="BRAZE_API_KEY and BRAZE_REST_ENDPOINT are not set"):
        BrazeCDIClient.from_env()
    monkeypatch.setenv("BRAZE_API_KEY", "k")
    with pytest.raises(BrazeConfigError, match="BRAZE_REST_ENDPOINT is not set"):
        BrazeCDIClient.from_env()


def test_from_env_reads_both_variables(
    monkeypatch: pytest.MonkeyPatch, fake: FakeBraze, url: str
) -> None:
    monkeypatch.setenv("BRAZE_API_KEY", fake.api_key)
    monkeypatch.setenv("BRAZE_REST_ENDPOINT", url)
    fake.add_integration(name="from-env")
    with BrazeCDIClient.from_env() as client:
        assert [i.integration_name for i in client.list_integrations()] == ["from-env"]
