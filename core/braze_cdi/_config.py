"""Checks on what a user passes in, done before any request is sent."""

from __future__ import annotations

import functools
import inspect
import ipaddress
import re
import sys
import unicodedata
import warnings
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from ._errors import BrazeConfigError

__all__ = [
    "INSTANCES",
    "RENAMED_GO_IN",
    "accept_renamed",
    "check_integration_id",
    "renamed_keywords",
    "renamed_message",
    "resolve_rest_endpoint",
]

P = ParamSpec("P")
R = TypeVar("R")

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


# --- renamed options: the old name works, with a DeprecationWarning, for one minor release ----

RENAMED_GO_IN = "0.2.0"
"""The release without the deprecated names of ``accept_renamed``'s renames."""


def renamed_message(old: str, new: str, *, of: str | None = None) -> str:
    """The one-line notice for a deprecated name, as each surface spells its names.

    Examples:
        >>> from braze_cdi._config import renamed_message
        >>> renamed_message("--timeout", "--max-wait")
        '--timeout is deprecated: use --max-wait instead (--timeout goes in braze-cdi 0.2.0).'
    """
    where = f" in {of}" if of else ""
    return (
        f"{old} is deprecated{where}: use {new} instead ({old} goes in braze-cdi {RENAMED_GO_IN})."
    )


def accept_renamed(
    options: MutableMapping[str, Any],
    renames: Mapping[str, str],
    *,
    of: str | None = None,
    stacklevel: int = 1,
) -> None:
    """Move each deprecated option of ``options`` to its new name, in place.

    ``renames`` maps old names to new ones. Each old name given (a value that is not ``None``)
    emits a ``DeprecationWarning`` naming the new one; ``stacklevel`` counts as for
    ``warnings.warn`` from the caller of this function (1: the line that calls it). For the
    adapters' renamed fields too, so that every surface says the same.

    Raises:
        BrazeConfigError: an old name and its new name were both given.

    Examples:
        >>> import warnings
        >>> from braze_cdi import accept_renamed
        >>> options = {"timeout": 60.0}
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     accept_renamed(options, {"timeout": "max_wait"}, of="my_step")
        >>> options
        {'max_wait': 60.0}
        >>> print(caught[0].message)
        timeout is deprecated in my_step: use max_wait instead (timeout goes in braze-cdi 0.2.0).
    """
    for old, new in renames.items():
        if options.get(old) is None:
            options.pop(old, None)
            continue
        if options.get(new) is not None:
            where = f" to {of}" if of else ""
            raise BrazeConfigError(
                f"{old} and {new} were both given{where}: {old} is the deprecated name of {new}.",
                hint=f"Give only {new}.",
            )
        warnings.warn(
            renamed_message(old, new, of=of), DeprecationWarning, stacklevel=stacklevel + 1
        )
        options[new] = options.pop(old)


def renamed_keywords(**renames: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function or method to accept each old keyword (``old="new"``) for its new
    name, with ``accept_renamed``'s warning, pointed at the caller's line.

    The check runs when the function is called, before it runs: for a coroutine function,
    before the coroutine is made, so giving both names raises at once.
    """
    names = (*renames, *renames.values())

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        call: Callable[..., R] = function

        @functools.wraps(function)
        def accepting(*args: P.args, **kwargs: P.kwargs) -> R:
            # No local shows the arguments while they are checked or the function runs: the
            # traceback of a failing constructor, locals included, must not show an API key
            # given in plain text. Only the renamed options are read here.
            held = _Arguments(args, kwargs)
            del args, kwargs
            given = {name: held.kwargs.pop(name) for name in names if name in held.kwargs}
            if any(old in given for old in renames):
                name = function.__name__
                if name == "__init__" and held.args:
                    name = type(held.args[0]).__name__
                accept_renamed(given, renames, of=name, stacklevel=2)
            held.kwargs.update(given)
            return call(*held.args, **held.kwargs)

        if sys.version_info >= (3, 12) and inspect.iscoroutinefunction(function):
            inspect.markcoroutinefunction(accepting)  # still a coroutine function to inspect
        return accepting

    return decorate


class _Arguments:
    """A call's arguments, kept out of reprs (tracebacks that show locals call repr)."""

    __slots__ = ("args", "kwargs")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return "<arguments>"
