"""Every error braze-cdi raises, in one tree.

```
BrazeCDIError                      base class: catch this to catch everything below
├── BrazeConfigError               bad endpoint, integration id or key; raised before any request
├── BrazeAPIError                  Braze answered with an error status (or an unreadable body)
│   ├── BrazeAuthenticationError   401: wrong key, or a key of another instance
│   ├── BrazePermissionError       403: the key lacks the permission the call needs
│   ├── InvalidIntegrationId       400 "Invalid integration ID"
│   ├── IntegrationNotFound        404 "Integration not found"
│   ├── SyncAlreadyRunning         429 "Another job is in progress"
│   ├── BrazeRateLimited           429 rate limit (``retry_after`` says when to try again)
│   └── BrazeServerError           5xx, including an HTML page from a proxy
├── BrazeTransportError            no usable response: connection failure, timeout
├── SyncFailed                     the job ended ``error`` / ``config_error`` (or ``partial``)
└── SyncTimeout                    the wait ran out; ``job`` is the last job seen
```

Every error has ``status_code`` (or ``None``), ``message`` (Braze's own words where there were
any) and ``retryable`` (whether trying the same call again later may succeed). ``str(error)``
adds what to do about it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._models import SyncHandle, SyncJob

__all__ = [
    "BrazeAPIError",
    "BrazeAuthenticationError",
    "BrazeCDIError",
    "BrazeConfigError",
    "BrazePermissionError",
    "BrazeRateLimited",
    "BrazeServerError",
    "BrazeTransportError",
    "IntegrationNotFound",
    "InvalidIntegrationId",
    "SyncAlreadyRunning",
    "SyncFailed",
    "SyncTimeout",
]


class BrazeCDIError(Exception):
    """Base class of every braze-cdi error."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        hint: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.hint = hint
        if retryable is not None:
            self.retryable = retryable
        super().__init__(self.__str__())

    def __str__(self) -> str:
        status = f"{self.status_code}: " if self.status_code is not None else ""
        hint = f" {self.hint}" if self.hint else ""
        return f"{status}{self.message}{hint}"

    def __reduce__(self) -> tuple[object, ...]:
        # Keep errors picklable (orchestrators ship them between processes).
        return (_rebuild, (type(self), self.__dict__))


def _rebuild(cls: type[BrazeCDIError], state: dict[str, object]) -> BrazeCDIError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, str(error))
    return error


class BrazeConfigError(BrazeCDIError, ValueError):
    """The configuration or an argument is invalid; no request was sent."""


class BrazeAPIError(BrazeCDIError):
    """Braze answered, with an error status or a body that cannot be read."""


class BrazeAuthenticationError(BrazeAPIError):
    """401: Braze did not accept the API key."""


class BrazePermissionError(BrazeAPIError):
    """403: the API key lacks the permission the call needs (``permission``)."""

    def __init__(self, message: str, *, permission: str, **kwargs: object) -> None:
        self.permission = permission
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class InvalidIntegrationId(BrazeAPIError):
    """400: Braze says the integration id is invalid."""


class IntegrationNotFound(BrazeAPIError):
    """404: no integration with that id in this workspace."""


class SyncAlreadyRunning(BrazeAPIError):
    """429 "Another job is in progress": the integration is syncing already."""


class BrazeRateLimited(BrazeAPIError):
    """429: the workspace's rate limit for this endpoint is used up.

    ``retry_after`` is how many seconds Braze asked to wait, when it said so.
    """

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class BrazeServerError(BrazeAPIError):
    """5xx: Braze, or a proxy in front of it, failed."""

    retryable = True


class BrazeTransportError(BrazeCDIError):
    """No usable response: the connection failed or timed out.

    ``connected`` is False when no connection was made, so the request provably never
    reached Braze.
    """

    retryable = True

    def __init__(self, message: str, *, connected: bool, **kwargs: object) -> None:
        self.connected = connected
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class SyncFailed(BrazeCDIError):
    """The sync ended without success; ``job`` is the finished job as Braze reported it."""

    def __init__(self, message: str, *, integration_id: str, job: SyncJob) -> None:
        self.integration_id = integration_id
        self.job = job
        super().__init__(message)


class SyncTimeout(BrazeCDIError):
    """The wait ran out before the job finished.

    ``job`` is the last job seen (``None`` if it never appeared). Braze has no cancel call, so the
    sync may still be running: ``handle`` resumes the wait with ``wait_for_sync``.
    """

    def __init__(
        self,
        message: str,
        *,
        integration_id: str,
        job: SyncJob | None,
        handle: SyncHandle | None = None,
    ) -> None:
        self.integration_id = integration_id
        self.job = job
        self.handle = handle
        super().__init__(message)
