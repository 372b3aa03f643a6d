"""An integration's page in the Braze dashboard: for each instance whose dashboard host Braze
documents, and for no other endpoint."""

from __future__ import annotations

import asyncio

import pytest

from braze_cdi import INSTANCES, AsyncBrazeCDIClient, BrazeCDIClient, BrazeConfigError
from braze_cdi import dashboard_url as dashboard_url_of

from .test_input_checks import BAD_IDS

ID = "5d1c0c1e-59a5-4f8b-9a53-02cc0a2b7d11"
PAGE = "/integrations/cloud_data_ingestion/"

#: Braze's "API and SDK endpoints" page, as BRAZE_CDI_API.md quotes it.
DOCUMENTED_DASHBOARDS = {
    "US-01": "https://dashboard-01.braze.com",
    "US-02": "https://dashboard-02.braze.com",
    "US-03": "https://dashboard-03.braze.com",
    "US-04": "https://dashboard-04.braze.com",
    "US-05": "https://dashboard-05.braze.com",
    "US-06": "https://dashboard-06.braze.com",
    "US-07": "https://dashboard-07.braze.com",
    "US-08": "https://dashboard-08.braze.com",
    "US-10": "https://dashboard.us-10.braze.com",
    "EU-01": "https://dashboard-01.braze.eu",
    "EU-02": "https://dashboard-02.braze.eu",
}
#: Instances whose dashboard host the fact sheet does not give.
UNDOCUMENTED = ["AU-01", "ID-01", "JP-01", "KR-01"]


def test_every_instance_is_either_documented_or_known_to_be_undocumented() -> None:
    assert sorted(INSTANCES) == sorted([*DOCUMENTED_DASHBOARDS, *UNDOCUMENTED])


@pytest.mark.parametrize(("instance", "dashboard"), DOCUMENTED_DASHBOARDS.items())
def test_a_documented_instance_links_to_its_dashboard(instance: str, dashboard: str) -> None:
    assert dashboard_url_of(instance, ID) == f"{dashboard}{PAGE}{ID}"


@pytest.mark.parametrize(("instance", "dashboard"), DOCUMENTED_DASHBOARDS.items())
def test_the_instance_given_by_its_rest_host_or_url_links_to_the_same_page(
    instance: str, dashboard: str
) -> None:
    rest_url = INSTANCES[instance]
    host = rest_url.removeprefix("https://")
    expected = f"{dashboard}{PAGE}{ID}"

    for given in (rest_url, f"{rest_url}/", host, host.upper(), instance.lower()):
        assert dashboard_url_of(given, ID) == expected, given


@pytest.mark.parametrize("instance", UNDOCUMENTED)
def test_an_instance_without_a_documented_dashboard_has_no_link(instance: str) -> None:
    assert dashboard_url_of(instance, ID) is None
    assert dashboard_url_of(INSTANCES[instance], ID) is None


@pytest.mark.parametrize(
    "custom",
    [
        "https://braze-proxy.example.com",
        "http://127.0.0.1:8080",
        "https://rest.iad-01.braze.com/proxied",  # a path: not Braze's endpoint itself
        "https://rest.iad-01.braze.com:8443",
        "https://dashboard-01.braze.com",  # a dashboard is not a REST endpoint
    ],
)
def test_a_custom_rest_url_has_no_link(custom: str) -> None:
    assert dashboard_url_of(custom, ID) is None


def test_the_id_is_escaped_in_the_path() -> None:
    assert dashboard_url_of("US-01", "ab<c>é") == (
        f"https://dashboard-01.braze.com{PAGE}ab%3Cc%3E%C3%A9"
    )


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_an_id_no_call_would_take_is_refused(bad_id: str) -> None:
    with pytest.raises(BrazeConfigError, match="Invalid integration id"):
        dashboard_url_of("US-01", bad_id)


def test_an_id_is_refused_for_a_custom_url_too() -> None:
    with pytest.raises(BrazeConfigError, match="Invalid integration id"):
        dashboard_url_of("https://braze-proxy.example.com", "a/b")


def test_an_endpoint_the_clients_refuse_is_refused() -> None:
    with pytest.raises(BrazeConfigError, match="not a Braze instance"):
        dashboard_url_of("US-09", ID)


def test_both_clients_give_the_page_of_their_instance() -> None:
    expected = f"https://dashboard-02.braze.eu{PAGE}{ID}"
    with BrazeCDIClient("a-rest-api-key-for-links", "EU-02") as client:
        assert client.dashboard_url(ID) == expected

    async def of_async_client() -> str | None:
        async with AsyncBrazeCDIClient("a-rest-api-key-for-links", "EU-02") as client:
            return client.dashboard_url(ID)

    assert asyncio.run(of_async_client()) == expected


def test_a_client_of_a_custom_url_gives_no_page() -> None:
    with BrazeCDIClient("a-rest-api-key-for-links", "https://braze-proxy.example.com") as client:
        assert client.dashboard_url(ID) is None
