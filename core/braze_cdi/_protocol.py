"""The CDI protocol without I/O: what to send, and what Braze's answers mean.

Operations are generators. They yield effects (`Send` a call, `Sleep`, `Emit` an item of a
listing, `Notify` the subscribers of an event), receive the outcome of each `Send` (the answer,
or how the exchange failed) and return their result. The sync and async clients only carry
effects out, so every decision is written once, here and in the modules that build on it.
"""

from __future__ import annotations

import functools
import hashlib
import json
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
    BrazeConfigError,
    BrazePermissionError,
    BrazeRateLimited,
    BrazeServerError,
    BrazeTransportError,
    Hint,
    IntegrationNotFound,
    InvalidIntegrationId,
    Setting,
    SyncAlreadyRunning,
)
from ._exchange import ClientClosed, NoAnswer, ResponseTooLarge
from ._models import SyncHandle
from ._rate_limit import EndpointKind
from .events import SyncEvent

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

PERMISSIONS: dict[EndpointKind, str] = {
    "trigger": "cdi.integration_sync",
    "list": "cdi.integration_list",
    "status": "cdi.integration_job_status",
}


@dataclass(frozen=True)
class Call:
    """One request to a CDI endpoint, before it has a host or credentials.

    ``path`` is relative to the client's REST endpoint; a whole URL sends the call to another
    host (the doctor's search for the instance of a key, and only that).
    """

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
    deadline: float | None = None  # a monotonic time the exchange must end by


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Emit:
    item: Any


@dataclass(frozen=True)
class Notify:
    """Hand ``event`` to the call's subscribers (logging first); nothing comes back."""

    event: SyncEvent


@dataclass(frozen=True)
class BeforeTrigger:
    """Hand ``record`` to the call's ``before_trigger`` hook before the trigger is sent: the
    hook persists it, so a later attempt can resume with it. What comes back: whether a hook
    kept it (a trigger whose outcome stays unknown is then retryable). An exception the hook
    raises is raised by the call, and the trigger is not sent."""

    record: SyncHandle


Effect = Send | Sleep | Emit | Notify | BeforeTrigger
# What a driver hands back for a `Send`: the answer, its body read whole within the bounds of
# `_exchange`, or how the exchange failed (never raised: an outcome like another). Tests of the
# operations may hand back the exception itself.
Outcome = httpx.Response | NoAnswer | Exception
Op = Generator[Effect, Any, T]
Redact = Callable[[str], str]


# --- Reading successful answers -------------------------------------------------------------


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    next_cursor: Cursor | None
    date: datetime | None  # Braze's clock when it answered (its Date header)
    digest: bytes = b""  # of the body, to tell a page met before


MAX_JSON_DEPTH = 32
"""How deeply an answer's JSON may nest; Braze's nests three levels."""

_MAX_LINK_LENGTH = 8192


def read_page(call: Call, response: httpx.Response, model: type[M], redact: Redact) -> Page[M]:
    """The items of one page and the cursor of the next, if there is one."""
    body = read_json(response, redact)
    results = body.get("results") if isinstance(body, dict) else None
    problem = "no results list" if not isinstance(results, list) else None
    items: list[M] = []
    if problem is None:
        try:
            items = [model.model_validate(item) for item in results]  # type: ignore[union-attr]
        except ValidationError as exc:
            problem = _summary(exc)
    if problem is not None:
        raise unreadable(call, response, problem)
    digest = hashlib.blake2b(response.content, digest_size=16).digest()
    return Page(items, next_cursor(call, response), braze_date(response), digest)


class _Unreadable(Exception):
    pass


def read_json(response: httpx.Response, redact: Redact) -> object:
    """The body's JSON with the key redacted from every string, or ``None`` when the body is
    not JSON, nests deeper than ``MAX_JSON_DEPTH`` or holds a number Python refuses.

    No frame that could appear in a traceback holds the raw parsed value.
    """
    try:
        return _clean(json.loads(response.content), redact, MAX_JSON_DEPTH)
    except (ValueError, RecursionError, _Unreadable):
        pass
    return None


def _clean(value: object, redact: Redact, depth: int) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | dict) and depth <= 0:
        raise _Unreadable
    if isinstance(value, list):
        return [_clean(item, redact, depth - 1) for item in value]
    if isinstance(value, dict):
        return {redact(key): _clean(item, redact, depth - 1) for key, item in value.items()}
    return value


def unreadable(call: Call, response: httpx.Response, problem: str) -> BrazeAPIError:
    return BrazeAPIError(
        f"{call} returned a body that is not the documented JSON ({problem}).",
        status_code=response.status_code,
        hint="This is usually a proxy or a passing fault; the call is retried.",
        retryable=True,
    )


class Cursor(str):
    """A next-page cursor: sent back exactly as the server gave it, and never shown (the
    server chose its text, so a repr in a traceback's frame must not quote it)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Cursor(...)"


def next_cursor(call: Call, response: httpx.Response) -> Cursor | None:
    """The ``cursor`` of the ``rel="next"`` link, taken from its query string only (Braze's own
    example has a typo in the path). The header's value is never quoted, nor held by the frame
    that raises: a server may echo anything into it."""
    found = _next_link(response.headers.get("link"))
    if isinstance(found, _LinkProblem):
        raise _bad_link(call, response, found.problem)
    return found


@dataclass(frozen=True)
class _LinkProblem:
    problem: str


def _next_link(link: str | None) -> Cursor | _LinkProblem | None:
    if not link:
        return None
    if len(link) > _MAX_LINK_LENGTH:
        return _LinkProblem(f"is longer than {_MAX_LINK_LENGTH} characters")
    for part in link.split(","):
        target, _, rest = part.partition(";")
        if re.search(r'rel\s*=\s*"?next"?', rest):
            try:
                cursors = parse_qs(urlsplit(target.strip().strip("<>")).query).get("cursor")
            except ValueError:  # urlsplit refuses some shapes, such as an unclosed "["
                return _LinkProblem("names a next page that is not a URL")
            if not cursors or not cursors[0]:
                return _LinkProblem("names a next page without a cursor")
            return Cursor(cursors[0])
    return None


def _bad_link(call: Call, response: httpx.Response, problem: str) -> BrazeAPIError:
    return BrazeAPIError(
        f"{call}: Braze's Link header {problem}.",
        status_code=response.status_code,
        hint="The remaining pages cannot be read; please report this.",
    )


def _summary(exc: ValidationError) -> str:
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"][:4])
    return f"{where[:100]}: {first['msg'][:200]}"


# --- Reading errors -------------------------------------------------------------------------


def error_for(call: Call, response: httpx.Response, redact: Redact) -> BrazeCDIError:
    """The typed error for a non-2xx answer, keeping Braze's message."""
    status = response.status_code
    said = braze_message(response, redact)
    # The standard phrase, never the server's own status line.
    message = said or f"{status} {httpx.codes.get_reason_phrase(status)}".strip()
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
                hint=Hint(
                    "Wait for the running job to end, or adopt it ({} or {}).",
                    (Setting("if_running", "wait"), Setting("if_running", "attach")),
                ),
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
    remaining = header_number(response, "x-ratelimit-remaining")
    return remaining is not None and remaining > 0 and "retry-after" not in response.headers


_HTML_MESSAGE_TAGS = ("title", "h1")
_MAX_HTML_SCAN = 65536


def braze_message(response: httpx.Response, redact: Redact) -> str | None:
    """Braze's words in an error body, wherever its JSON puts them; an HTML page's title.

    Redacted before it is cut, so no part of an echoed key survives; linear in the body.
    """
    body = read_json(response, redact)
    if body is None:
        return _html_message(response, redact)
    if isinstance(body, str):
        return _clip(body)
    if not isinstance(body, dict):
        return None
    parts = [body.get(key) for key in ("message", "error", "detail")]
    errors = body.get("errors")
    if isinstance(errors, list):
        parts += [e.get("message") if isinstance(e, dict) else e for e in errors[:20]]
    words = [p for p in parts if isinstance(p, str) and p and p.lower() != "success"]
    return _clip("; ".join(dict.fromkeys(words))) if words else None


def _html_message(response: httpx.Response, redact: Redact) -> str | None:
    # str.find, not a regex: a page of unclosed tags must not cost quadratic time.
    page = redact(response.content[:_MAX_HTML_SCAN].decode("utf-8", "replace"))
    lowered = page.lower()
    for tag in _HTML_MESSAGE_TAGS:
        start = lowered.find(f"<{tag}>")
        if start < 0:
            continue
        start += len(tag) + 2
        end = lowered.find(f"</{tag}>", start)
        if end >= 0:
            return _clip(page[start:end]) or None
    return None


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text[: limit * 4].split())
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


_NOT_CONNECTED = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


def transport_error(
    call: Call, outcome: NoAnswer | Exception, redact: Redact, *, endpoint: str | None = None
) -> BrazeCDIError:
    """The typed error for an exchange that ended without a usable answer, naming the host
    it was sent to (``call.path`` when it is a whole URL, else ``endpoint``'s)."""
    failure = outcome if isinstance(outcome, NoAnswer) else NoAnswer.of(outcome, redact)
    kind = failure.kind
    if issubclass(kind, ClientClosed):
        return BrazeConfigError(
            f"{call} was not sent: the client was closed while the call was running.",
            hint="Close the client only after its calls have ended.",
        )
    # Only a connection never made proves the request did not reach Braze.
    connected = not issubclass(kind, _NOT_CONNECTED)
    if issubclass(kind, httpx.TimeoutException):
        hint: str | Hint = Hint(
            "Braze did not answer in time; raise {} if this persists.",
            (Setting("request_timeout"),),
        )
    elif issubclass(kind, ResponseTooLarge | httpx.DecodingError):
        hint = "The answer could not be read; usually a proxy or a passing fault."
    elif connected:
        hint = "The connection broke before Braze's answer arrived."
    else:
        hint = "Check the REST endpoint and network access to it."
    detail = _clip(failure.detail).rstrip(".") or "no detail"
    host = _host_of(call.path) or _host_of(endpoint)
    at = f" at {host}" if host else ""
    return BrazeTransportError(
        f"{call}{at} failed: {kind.__name__}: {detail}.", connected=connected, hint=hint
    )


def _host_of(url: str | None) -> str | None:
    """The host (and port) of a whole URL, never its credentials, path or query."""
    if not url or not url.lower().startswith(("http://", "https://")):
        return None
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None
    return netloc.rpartition("@")[2] or None


# Numbers in headers: ASCII digits only (``int`` and ``float`` also take other scripts' digits,
# "nan" and "inf"), and a sane number of them.
_NUMBER = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,9})?")
_LATEST = datetime(9999, 1, 1, tzinfo=timezone.utc).timestamp()


def header_number(response: httpx.Response, name: str) -> float | None:
    """A header holding a plain non-negative number, or ``None``."""
    value = response.headers.get(name)
    if value is None or not _NUMBER.fullmatch(value.strip()):
        return None
    return float(value.strip())


def rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds until Braze's window resets, measured in Braze's own clock (its Date header)."""
    retry_after = header_number(response, "retry-after")
    if retry_after is not None:
        return retry_after
    server_now = _http_date(response.headers.get("date"))
    then = _http_date(response.headers.get("retry-after"))
    if then is not None and server_now is not None:
        return max(0.0, then - server_now)
    reset = header_number(response, "x-ratelimit-reset")
    if reset is None or server_now is None or reset > _LATEST:
        return None
    return max(0.0, reset - server_now)


def braze_date(response: httpx.Response) -> datetime | None:
    """When Braze answered, by its own clock (the Date header, to the second)."""
    seconds = braze_epoch(response)
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc)


def braze_epoch(response: httpx.Response) -> float | None:
    """When Braze answered, in epoch seconds by its own clock (the Date header, truncated)."""
    return _http_date(response.headers.get("date"))


@functools.lru_cache(maxsize=16)  # answers of the same second share their Date
def _http_date(value: str | None) -> float | None:
    """An HTTP date as epoch seconds, or ``None`` for anything else (out of range included)."""
    if not value or len(value) > 64:
        return None
    try:
        moment = parsedate_to_datetime(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        seconds = moment.timestamp()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return seconds if 0 <= seconds < _LATEST else None


def rate_limit_exhausted(response: httpx.Response) -> bool:
    return header_number(response, "x-ratelimit-remaining") == 0


def may_have_reached_braze(error: BrazeCDIError) -> bool:
    """Whether a failed request may still have taken effect at Braze."""
    if isinstance(error, BrazeTransportError):
        return error.connected
    return isinstance(error, BrazeServerError)
