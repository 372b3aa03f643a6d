"""The CDI protocol without I/O: what to send, and what Braze's answers mean.

Operations are generators. They yield effects (`Send` a call, `Sleep`, `Emit` an item of a
listing), receive the outcome of each (an ``httpx.Response`` or the ``httpx.TransportError``
raised instead) and return their result. The sync and async clients only carry effects out, so
every decision is written once, here and in the modules that build on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from ._errors import (
    BrazeAPIError,
    BrazeAuthenticationError,
    BrazeCDIError,
    BrazePermissionError,
    BrazeRateLimited,
    BrazeServerError,
    BrazeTransportError,
    IntegrationNotFound,
    InvalidIntegrationId,
    SyncAlreadyRunning,
)
from ._rate_limit import EndpointKind

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

PERMISSIONS: dict[EndpointKind, str] = {
    "trigger": "cdi.integration_sync",
    "list": "cdi.integration_list",
    "status": "cdi.integration_job_status",
}


@dataclass(frozen=True)
class Call:
    """One request to a CDI endpoint, before it has a host or credentials."""

    kind: EndpointKind
    method: str
    path: str
    integration_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        target = f" of integration {self.integration_id}" if self.integration_id else ""
        return {
            "trigger": f"Triggering a sync{target}",
            "list": "Listing integrations",
            "status": f"Listing the sync jobs{target}",
        }[self.kind]


def trigger_call(integration_id: str) -> Call:
    return Call(
        "trigger", "POST", f"/cdi/integrations/{_quote(integration_id)}/sync", integration_id
    )


def integrations_call(cursor: str | None = None) -> Call:
    return Call("list", "GET", "/cdi/integrations", params=_cursor(cursor))


def jobs_call(integration_id: str, cursor: str | None = None) -> Call:
    path = f"/cdi/integrations/{_quote(integration_id)}/job_sync_status"
    return Call("status", "GET", path, integration_id, _cursor(cursor))


def _quote(integration_id: str) -> str:
    return quote(integration_id, safe="")


def _cursor(cursor: str | None) -> dict[str, str]:
    return {} if cursor is None else {"cursor": cursor}


@dataclass(frozen=True)
class Send:
    call: Call


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Emit:
    item: Any


Effect = Send | Sleep | Emit
Outcome = httpx.Response | httpx.TransportError
Op = Generator[Effect, Any, T]


# --- Reading successful answers -------------------------------------------------------------


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    next_cursor: str | None
    date: datetime | None  # Braze's clock when it answered (its Date header)


def read_page(call: Call, response: httpx.Response, model: type[M]) -> Page[M]:
    """The items of one page and the cursor of the next, if there is one."""
    try:
        body = response.json()
        results = body["results"]
        if not isinstance(results, list):
            raise TypeError("results is not a list")
        items = [model.model_validate(item) for item in results]
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise BrazeAPIError(
            f"{call} returned a body that is not the documented JSON ({_summary(exc)}).",
            status_code=response.status_code,
            hint="This is usually a proxy or a passing fault; the call is retried.",
            retryable=True,
        ) from None
    return Page(items, next_cursor(call, response), braze_date(response))


def next_cursor(call: Call, response: httpx.Response) -> str | None:
    """The ``cursor`` of the ``rel="next"`` link, taken from its query string only (Braze's own
    example has a typo in the path)."""
    link = response.headers.get("link")
    if not link:
        return None
    for part in link.split(","):
        target, _, rest = part.partition(";")
        if re.search(r'rel\s*=\s*"?next"?', rest):
            cursors = parse_qs(urlsplit(target.strip().strip("<>")).query).get("cursor")
            if not cursors or not cursors[0]:
                raise BrazeAPIError(
                    f"{call}: Braze's Link header names a next page without a cursor ({link!r}).",
                    status_code=response.status_code,
                    hint="The remaining pages cannot be read; please report this.",
                )
            cursor: str = cursors[0]
            return cursor
    return None


def _summary(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}"
    return str(exc) or type(exc).__name__


# --- Reading errors -------------------------------------------------------------------------


def error_for(call: Call, response: httpx.Response, redact: Callable[[str], str]) -> BrazeCDIError:
    """The typed error for a non-2xx answer, keeping Braze's message."""
    status = response.status_code
    said = braze_message(response)
    message = redact(said or f"{status} {response.reason_phrase}".strip())
    what = f"{call}: Braze answered {message!r}."
    text = (said or "").lower()
    kwargs: dict[str, Any] = {"status_code": status}
    if status == 400 and "integration" in text and "id" in text:
        return InvalidIntegrationId(what, hint="Check the id in the Braze dashboard.", **kwargs)
    if status == 401:
        return BrazeAuthenticationError(
            what,
            hint="Check the API key, and that the REST endpoint is your workspace's instance: "
            "Braze also answers 401 to a key of another instance.",
            **kwargs,
        )
    if status == 403:
        permission = PERMISSIONS[call.kind]
        return BrazePermissionError(
            what,
            permission=permission,
            hint=f"This call needs a REST API key with the {permission} permission "
            "(permissions cannot be added to an existing key: create a new one).",
            **kwargs,
        )
    if status == 404 and call.integration_id is not None:
        return IntegrationNotFound(
            what, hint="Check the integration id and the workspace of the key.", **kwargs
        )
    if status == 429:
        if call.kind == "trigger" and _job_in_progress(text, response):
            return SyncAlreadyRunning(
                what,
                hint="Wait for the running job to end, or adopt it (if_running 'wait' or "
                "'attach').",
                **kwargs,
            )
        return BrazeRateLimited(
            what,
            retry_after=rate_limit_wait(response),
            hint="The workspace's rate limit for this endpoint is used up; "
            "it resets within a minute.",
            **kwargs,
        )
    if status >= 500:
        return BrazeServerError(
            what, hint="A fault on Braze's side or in a proxy; usually passing.", **kwargs
        )
    return BrazeAPIError(what, **kwargs)


def _job_in_progress(text: str, response: httpx.Response) -> bool:
    # Both 429s share a status: the message tells them apart; failing that, budget left means
    # the refusal was not about the rate limit.
    if "in progress" in text or "another job" in text:
        return True
    remaining = response.headers.get("x-ratelimit-remaining")
    return (
        bool(remaining and remaining.strip().isdigit() and int(remaining) > 0)
        and "retry-after" not in response.headers
    )


def braze_message(response: httpx.Response) -> str | None:
    """Braze's words in an error body, wherever its JSON puts them; an HTML page's title."""
    try:
        body = response.json()
    except ValueError:
        match = re.search(r"<title>(.*?)</title>|<h1>(.*?)</h1>", response.text, re.I | re.S)
        return _clip(" ".join(filter(None, match.groups()))) if match else None
    if isinstance(body, str):
        return _clip(body)
    if not isinstance(body, dict):
        return None
    parts = [body.get(key) for key in ("message", "error", "detail")]
    errors = body.get("errors")
    if isinstance(errors, list):
        parts += [e.get("message") if isinstance(e, dict) else e for e in errors]
    words = [p for p in parts if isinstance(p, str) and p and p.lower() != "success"]
    return _clip("; ".join(dict.fromkeys(words))) if words else None


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def transport_error(
    call: Call, exc: httpx.TransportError, redact: Callable[[str], str]
) -> BrazeTransportError:
    connected = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    detail = redact(str(exc)).rstrip(".") or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        hint = "Braze did not answer in time; raise timeout= if this persists."
    elif connected:
        hint = "The connection broke before Braze's answer arrived."
    else:
        hint = "Check the REST endpoint and network access to it."
    return BrazeTransportError(
        f"{call} failed: {type(exc).__name__}: {detail}.", connected=connected, hint=hint
    )


def rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds until Braze's window resets, measured in Braze's own clock (its Date header)."""
    headers = response.headers
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    reset, server_now = headers.get("x-ratelimit-reset"), _http_date(headers.get("date"))
    if retry_after is not None and server_now is not None:
        then = _http_date(retry_after)
        if then is not None:
            return max(0.0, then - server_now)
    if reset is None or server_now is None:
        return None
    try:
        return max(0.0, float(reset) - server_now)
    except ValueError:
        return None


def braze_date(response: httpx.Response) -> datetime | None:
    """When Braze answered, by its own clock (the Date header, to the second)."""
    seconds = _http_date(response.headers.get("date"))
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc)


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def rate_limit_exhausted(response: httpx.Response) -> bool:
    remaining: str = response.headers.get("x-ratelimit-remaining", "")
    return remaining.strip() == "0"


def may_have_reached_braze(error: BrazeCDIError) -> bool:
    """Whether a failed request may still have taken effect at Braze."""
    if isinstance(error, BrazeTransportError):
        return error.connected
    return isinstance(error, BrazeServerError)
