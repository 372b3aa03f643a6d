"""Braze's dashboard hosts, and the dashboard page of an integration: the link a person follows
from a result, a table or an error to the integration in Braze.
"""

from __future__ import annotations

from urllib.parse import quote

from ._config import INSTANCES, check_integration_id, resolve_rest_endpoint

__all__ = ["DASHBOARD_HOSTS", "dashboard_url"]

DASHBOARD_HOSTS: dict[str, str] = {
    **{f"US-0{n}": f"https://dashboard-0{n}.braze.com" for n in range(1, 9)},
    "US-10": "https://dashboard.us-10.braze.com",
    "EU-01": "https://dashboard-01.braze.eu",
    "EU-02": "https://dashboard-02.braze.eu",
}
"""The dashboard of each instance whose dashboard host is known (Braze's "API and SDK endpoints"
page). AU-01, ID-01, JP-01 and KR-01 are left out on purpose: this package has not confirmed
their dashboard hosts, and a guessed link would lead nowhere. US-01 also answers on
``https://dashboard.braze.com``."""

# Braze's REST endpoint of each of those instances, to recognize one however it was given.
_DASHBOARD_OF_ENDPOINT = {INSTANCES[name]: host for name, host in DASHBOARD_HOSTS.items()}
_INTEGRATION_PAGE = "/integrations/cloud_data_ingestion/"


def dashboard_url(rest_endpoint: str, integration_id: str) -> str | None:
    """The page of an integration in the Braze dashboard, or ``None`` where it is not known.

    Args:
        rest_endpoint: The REST endpoint of the integration's instance, as the clients take it:
            an instance name (``US-01``), a host or a URL.
        integration_id: The integration's id, checked as every call checks it.

    Returns:
        ``https://<dashboard host>/integrations/cloud_data_ingestion/<integration_id>`` for
        an instance whose dashboard host is known; ``None`` for the other instances (AU-01,
        ID-01, JP-01, KR-01) and for any other REST URL (a proxy, a test server).

    Raises:
        BrazeConfigError: the endpoint or the id is invalid, as the clients would refuse it.

    Examples:
        >>> from braze_cdi import dashboard_url
        >>> dashboard_url("EU-02", "5d1c0c1e")
        'https://dashboard-02.braze.eu/integrations/cloud_data_ingestion/5d1c0c1e'
        >>> dashboard_url("rest.iad-03.braze.com", "abc")
        'https://dashboard-03.braze.com/integrations/cloud_data_ingestion/abc'
        >>> dashboard_url("http://127.0.0.1:8080", "abc") is None
        True
    """
    host = _DASHBOARD_OF_ENDPOINT.get(resolve_rest_endpoint(rest_endpoint))
    check_integration_id(integration_id)
    if host is None:
        return None
    # The check refused what would change the path; what remains is escaped, not trusted.
    return f"{host}{_INTEGRATION_PAGE}{quote(integration_id, safe='')}"
