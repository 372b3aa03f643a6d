"""Checks on what a user passes in, done before any request is sent."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

from ._errors import BrazeConfigError

__all__ = ["INSTANCES", "check_integration_id", "resolve_rest_endpoint"]

INSTANCES: dict[str, str] = {
    **{f"US-0{n}": f"https://rest.iad-0{n}.braze.com" for n in range(1, 9)},
    "US-10": "https://rest.us-10.braze.com",
    "EU-01": "https://rest.fra-01.braze.eu",
    "EU-02": "https://rest.fra-02.braze.eu",
    "AU-01": "https://rest.au-01.braze.com",
    "ID-01": "https://rest.id-01.braze.com",
    "JP-01": "https://rest.jp-01.braze.com",
    "KR-01": "https://rest.kr-01.braze.com",
}
"""Braze's instances and their REST endpoints (Braze's "API overview" page):
``rest_endpoint="US-03"`` means ``INSTANCES["US-03"]``. There is no US-09."""

_INSTANCE_SHAPE = re.compile(r"[A-Za-z]{2}-\d{1,2}")
_MAX_ID_LENGTH = 128
_ENDPOINT_HINT = (
    "Give the REST endpoint of your workspace's instance: a URL such as "
    "https://rest.iad-01.braze.com, a host, or an instance name such as US-01."
)


def resolve_rest_endpoint(value: object) -> str:
    """Turn a URL, a host or an instance name into the base URL to call."""
    if not isinstance(value, str) or not value.strip():
        raise BrazeConfigError("The REST endpoint is missing.", hint=_ENDPOINT_HINT)
    text = value.strip()
    if _INSTANCE_SHAPE.fullmatch(text):
        try:
            return INSTANCES[text.upper()]
        except KeyError:
            raise BrazeConfigError(
                f"{text!r} is not a Braze instance.",
                hint=f"Valid instances: {', '.join(INSTANCES)}.",
            ) from None
    if "://" not in text:
        text = f"https://{text}"
    try:
        url = urlsplit(text)
        host, port = url.hostname, url.port
    except ValueError as exc:
        raise BrazeConfigError(
            f"{value!r} is not a valid URL: {exc}.", hint=_ENDPOINT_HINT
        ) from None
    if url.scheme not in ("https", "http") or not host:
        raise BrazeConfigError(f"{value!r} is not an http(s) URL.", hint=_ENDPOINT_HINT)
    if url.username is not None or url.password is not None or url.query or url.fragment:
        raise BrazeConfigError(
            f"The REST endpoint {url.scheme}://{host} must not carry credentials, a query or a "
            "fragment.",
            hint=_ENDPOINT_HINT,
        )
    if url.scheme == "http" and not _is_loopback(host):
        raise BrazeConfigError(
            f"Refusing plain http to {host}: the API key would travel unencrypted.",
            hint="Use https (plain http is allowed only for a loopback test server).",
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{url.scheme}://{netloc}{url.path.rstrip('/')}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_integration_id(value: object) -> str:
    """Refuse an id that would break or change the URL path; return it unchanged otherwise.

    Braze documents no shape for the id (its examples use UUIDs), so only what is unsafe in a
    path is refused.
    """
    if not isinstance(value, str):
        raise BrazeConfigError(f"An integration id must be a string, not {type(value).__name__}.")
    problem = _id_problem(value)
    if problem:
        raise BrazeConfigError(
            f"Invalid integration id {_shorten(value)!r}: {problem}.",
            hint="Copy the id from the integration's page in the Braze dashboard "
            "(…/integrations/cloud_data_ingestion/<integration_id>).",
        )
    return value


def _id_problem(value: str) -> str | None:
    if not value:
        return "it is empty"
    if len(value) > _MAX_ID_LENGTH:
        return f"it is {len(value)} characters long (at most {_MAX_ID_LENGTH})"
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        return "it contains a control character"
    if any(c.isspace() for c in value):
        return "it contains whitespace"
    if not value.strip("."):
        return "it is made only of dots, which a URL path reads as a directory"
    for bad in ("/", "\\", "..", "?", "#", "%"):
        if bad in value:
            return f"it contains {bad!r}"
    return None


def _shorten(value: str) -> str:
    return value if len(value) <= 40 else f"{value[:37]}..."
