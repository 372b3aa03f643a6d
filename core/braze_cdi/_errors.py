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
adds what to do about it, its ``hint``: a ``Hint`` whose settings each surface spells its own
way (``if_running="attach"`` in Python, ``--if-running attach`` on the command line,
``if_running: attach`` in YAML); ``error.describe(surface)`` is the whole line for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

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
    "Hint",
    "IntegrationNotFound",
    "InvalidIntegrationId",
    "Setting",
    "Surface",
    "SyncAlreadyRunning",
    "SyncFailed",
    "SyncTimeout",
]

Surface = Literal["python", "cli", "yaml"]
"""Where a hint is read: Python code (and Prefect), the ``braze-cdi`` command, a YAML file (the
Dagster component)."""


@dataclass(frozen=True)
class Setting:
    """An argument a hint tells the user to set, by its Python name, and the value to give.

    Examples:
        >>> from braze_cdi import Setting
        >>> attach = Setting("if_running", "attach")
        >>> attach.spelled("python"), attach.spelled("cli"), attach.spelled("yaml")
        ('if_running="attach"', '--if-running attach', 'if_running: attach')
        >>> Setting("request_timeout").spelled("cli")
        '--request-timeout'
    """

    name: str
    value: str | None = None

    def spelled(self, surface: Surface = "python") -> str:
        """The setting as ``surface`` writes it."""
        if surface == "cli":
            flag = "--" + self.name.replace("_", "-")
            return flag if self.value is None else f"{flag} {self.value}"
        if surface == "yaml":
            return f"{self.name}:" if self.value is None else f"{self.name}: {self.value}"
        return f"{self.name}=" if self.value is None else f'{self.name}="{self.value}"'


class Hint(str):
    """What to do about an error. ``text`` holds a ``{}`` for each of ``settings``, which are
    spelled as the surface that shows the hint spells them. The hint itself is the string
    Python code reads.

    Examples:
        >>> from braze_cdi import Hint, Setting
        >>> hint = Hint(
        ...     "Use {} or {} to not fail here.",
        ...     (Setting("if_running", "wait"), Setting("if_running", "attach")),
        ... )
        >>> hint
        'Use if_running="wait" or if_running="attach" to not fail here.'
        >>> hint.render("cli")
        'Use --if-running wait or --if-running attach to not fail here.'
    """

    text: str
    settings: tuple[Setting, ...]

    def __new__(cls, text: str, settings: tuple[Setting, ...] = ()) -> Hint:
        hint = super().__new__(cls, _spell(text, settings, "python"))
        hint.text, hint.settings = text, tuple(settings)
        return hint

    def render(self, surface: Surface = "python") -> str:
        """The hint as ``surface`` shows it."""
        return _spell(self.text, self.settings, surface)

    def __reduce__(self) -> tuple[object, ...]:
        return (Hint, (self.text, self.settings))


def _spell(text: str, settings: tuple[Setting, ...], surface: Surface) -> str:
    # A hint without settings is plain text, braces and all.
    return text.format(*(s.spelled(surface) for s in settings)) if settings else text


class BrazeCDIError(Exception):
    """Base class of every braze-cdi error.

    Attributes:
        message: What happened, with Braze's own words when Braze answered.
        status_code: The HTTP status of Braze's answer, or ``None`` when there was none.
        hint: What to do about it, a ``Hint`` (or ``None``); ``str(error)`` ends with it,
            spelled for Python, and ``describe(surface)`` spells it for another surface.
        retryable: Whether the same call may succeed if tried again later. Orchestrators retry
            a step only when this is True.
        handle: When the error ended a wait for a sync that was started (or adopted), the
            ``SyncHandle`` to wait for it again with ``wait_for_sync``: Braze has no cancel
            call, so the sync goes on. ``SyncFailed`` carries the handle of the job that
            failed (``handle.triggered``: whether the call triggered it). ``None`` otherwise.

    Examples:
        >>> from braze_cdi import BrazeCDIClient, BrazeCDIError
        >>> try:
        ...     BrazeCDIClient("my-rest-api-key-1234", "US-09")
        ... except BrazeCDIError as error:
        ...     print(type(error).__name__, error.retryable)
        ...     print(error)
        BrazeConfigError False
        'US-09' is not a Braze instance. Valid instances: US-01, US-02, ..., KR-01.
    """

    retryable: bool = False
    handle: SyncHandle | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        hint: Hint | str | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        if retryable is not None:
            self.retryable = retryable
        self.hint = hint  # the setter makes a str a Hint

    @property
    def hint(self) -> Hint | None:
        return self._hint

    @hint.setter
    def hint(self, hint: Hint | str | None) -> None:
        self._hint = Hint(hint) if isinstance(hint, str) and not isinstance(hint, Hint) else hint
        Exception.__init__(self, str(self))  # ``args`` and ``repr`` follow the new hint

    def describe(self, surface: Surface = "python") -> str:
        """The error in one sentence or two, its hint spelled for ``surface``.

        Examples:
            >>> from braze_cdi import Hint, Setting, SyncAlreadyRunning
            >>> attach = Setting("if_running", "attach")
            >>> error = SyncAlreadyRunning("Another job is in progress.", status_code=429)
            >>> error.hint = Hint("Adopt it with {}.", (attach,))
            >>> error.describe("cli")
            '429: Another job is in progress. Adopt it with --if-running attach.'
        """
        status = f"{self.status_code}: " if self.status_code is not None else ""
        hint = f" {self._hint.render(surface)}" if self._hint else ""
        return f"{status}{self.message}{hint}"

    def __str__(self) -> str:
        return self.describe()

    def __reduce__(self) -> tuple[object, ...]:
        # Keep errors picklable (orchestrators ship them between processes).
        return (_rebuild, (type(self), self.__dict__))


def _rebuild(cls: type[BrazeCDIError], state: dict[str, object]) -> BrazeCDIError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, str(error))
    return error


class BrazeConfigError(BrazeCDIError, ValueError):
    """The configuration or an argument is invalid; no request was sent.

    Raised by the constructors and methods before any request: a missing or malformed key, an
    unknown instance, plain ``http://`` to a host that is not loopback, an integration id that
    would break the URL, a bad option. Never retryable. Also a ``ValueError``.

    Examples:
        >>> from braze_cdi import BrazeCDIClient, BrazeConfigError
        >>> try:
        ...     BrazeCDIClient("my-rest-api-key-1234", "http://rest.iad-01.braze.com")
        ... except BrazeConfigError as error:
        ...     print(error)
        Refusing plain http to rest.iad-01.braze.com: the API key would travel unencrypted. ...
    """


class BrazeAPIError(BrazeCDIError):
    """Braze answered, with an error status or a body that cannot be read.

    The subclasses are the answers Braze documents. This class itself stands for the others:
    a 400 such as "Invalid cursor", a redirect (never followed), a 2xx whose body is not the
    documented JSON (retryable: usually a proxy or a passing fault), a ``Link`` header that
    names no next cursor.

    Examples:
        >>> from braze_cdi import BrazeAPIError, BrazeCDIClient
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> _ = fake.inject("list", status=400, body={"message": "Invalid cursor"})
        >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        ...     try:
        ...         list(client.list_integrations())
        ...     except BrazeAPIError as error:
        ...         print(error.status_code, error.retryable, error.message)
        400 False Listing integrations: Braze answered 'Invalid cursor'.
    """


class BrazeAuthenticationError(BrazeAPIError):
    """401: Braze did not accept the API key.

    Either the key is wrong, or it belongs to a workspace of another instance: Braze answers
    401 to a key sent to the wrong REST endpoint. Never retried.

    Examples:
        >>> from braze_cdi import BrazeAuthenticationError, BrazeCDIClient
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> with BrazeCDIClient("not-the-workspace-key", "US-01", transport=fake) as client:
        ...     try:
        ...         list(client.list_integrations())
        ...     except BrazeAuthenticationError as error:
        ...         print(error)
        401: Listing integrations: Braze answered 'Invalid API key'. Check the API key, ...
    """


class BrazePermissionError(BrazeAPIError):
    """403: the API key lacks the permission the call needs (``permission``).

    Each CDI endpoint needs its own permission: ``cdi.integration_sync`` (trigger),
    ``cdi.integration_list`` (list integrations), ``cdi.integration_job_status`` (list jobs).
    Permissions cannot be added to an existing key. Never retried.

    Examples:
        >>> from braze_cdi import BrazeCDIClient, BrazePermissionError
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users")
        >>> fake.add_key("a-listing-only-api-key", {"cdi.integration_list"})
        >>> with BrazeCDIClient("a-listing-only-api-key", "US-01", transport=fake) as client:
        ...     try:
        ...         client.trigger_sync(users.integration_id)
        ...     except BrazePermissionError as error:
        ...         print(error.status_code, error.permission)
        403 cdi.integration_sync
    """

    def __init__(self, message: str, *, permission: str, **kwargs: object) -> None:
        self.permission = permission
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class InvalidIntegrationId(BrazeAPIError):
    """400: Braze says the integration id is invalid ("Invalid integration ID").

    Braze checks the id's shape (its ids are UUIDs); an id that would break the URL is refused
    earlier, with ``BrazeConfigError``. Never retried.

    Examples:
        >>> from braze_cdi import BrazeCDIClient, InvalidIntegrationId
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        ...     try:
        ...         client.trigger_sync("users")
        ...     except InvalidIntegrationId as error:
        ...         print(error.message)
        Triggering a sync of integration users: Braze answered 'Invalid integration ID'.
    """


class IntegrationNotFound(BrazeAPIError):
    """404: no integration with that id in this workspace ("Integration not found").

    Often the id of another workspace, or a key of another workspace. Never retried.

    Examples:
        >>> from braze_cdi import BrazeCDIClient, IntegrationNotFound
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        ...     try:
        ...         client.trigger_sync("00000000-0000-0000-0000-000000000000")
        ...     except IntegrationNotFound as error:
        ...         print(error.status_code, error.hint)
        404 Check the integration id and the workspace of the key.
    """


class SyncAlreadyRunning(BrazeAPIError):
    """429 "Another job is in progress": the integration is syncing already.

    Braze runs one job per integration at a time. ``trigger_sync`` raises it as Braze answers;
    ``start_sync`` and ``sync_and_wait`` raise it only with ``if_running="fail"`` (then before
    any trigger, with ``status_code`` None, when the job list shows the running job). Braze
    uses the same status for its rate limit: the message tells them apart. Never retried.

    Examples:
        >>> from braze_cdi import BrazeCDIClient, SyncAlreadyRunning
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> users = fake.add_integration(name="users")
        >>> _ = fake.start_job(users.integration_id, duration=600)  # Braze's own schedule
        >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        ...     try:
        ...         client.trigger_sync(users.integration_id)
        ...     except SyncAlreadyRunning as error:
        ...         print(error.status_code, error.message)
        429 Triggering a sync of integration ...: Braze answered 'Another job is in progress'.
    """


class BrazeRateLimited(BrazeAPIError):
    """429: the workspace's rate limit for this endpoint is used up.

    ``retry_after`` is how many seconds Braze asked to wait, when it said so (``Retry-After``,
    or ``X-RateLimit-Reset`` measured against Braze's ``Date``). Retryable: every call waits
    that long (at most the limit's window) and tries again, as its ``RetryPolicy`` allows; it
    is raised when the attempts run out. Also raised without asking Braze when the client-side
    budget would let the call go only after its deadline.

    Examples:
        >>> from braze_cdi import BrazeCDIClient, BrazeRateLimited, RetryPolicy
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> _ = fake.inject("list", status=429, headers={"Retry-After": "12"})
        >>> client = BrazeCDIClient(
        ...     fake.api_key, "US-01", transport=fake, retry=RetryPolicy(max_attempts=1)
        ... )
        >>> try:
        ...     list(client.list_integrations())
        ... except BrazeRateLimited as error:
        ...     print(error.retryable, error.retry_after)
        True 12.0
    """

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class BrazeServerError(BrazeAPIError):
    """5xx: Braze, or a proxy in front of it, failed.

    Retryable: retried with backoff within the call. A trigger is the exception: a 5xx may
    come after Braze started the job, so ``start_sync`` looks at the job list before sending
    it again, and a trigger whose outcome stays unknown is raised with ``retryable`` False.

    Examples:
        >>> from braze_cdi import BrazeCDIClient, BrazeServerError
        >>> from braze_cdi.testing import FakeBraze, FakeClock
        >>> clock = FakeClock()  # the retries' pauses take no real time
        >>> fake = FakeBraze(clock=clock)
        >>> _ = fake.inject("list", status=503, times=5)
        >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake, clock=clock) as client:
        ...     try:
        ...         list(client.list_integrations())
        ...     except BrazeServerError as error:
        ...         print(error.status_code, error.retryable, fake.count("list"))
        503 True 5
    """

    retryable = True


class BrazeTransportError(BrazeCDIError):
    """No usable response: the connection failed or timed out.

    ``connected`` is False when no connection was made, so the request provably never
    reached Braze. Retryable, but a trigger is resent only when ``connected`` is False (see
    ``BrazeServerError``).

    Examples:
        >>> from braze_cdi import BrazeCDIClient, BrazeTransportError, RetryPolicy
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> _ = fake.inject("list", drop=True)  # the connection closes without an answer
        >>> client = BrazeCDIClient(
        ...     fake.api_key, "US-01", transport=fake, retry=RetryPolicy(max_attempts=1)
        ... )
        >>> try:
        ...     list(client.list_integrations())
        ... except BrazeTransportError as error:
        ...     print(error.connected, error.retryable)
        True True
    """

    retryable = True

    def __init__(self, message: str, *, connected: bool, **kwargs: object) -> None:
        self.connected = connected
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class SyncFailed(BrazeCDIError):
    """The sync ended without success; ``job`` is the finished job as Braze reported it.

    Raised by ``wait_for_sync`` and ``sync_and_wait`` when the job ends ``error`` or
    ``config_error``, or ``partial`` with ``fail_on_partial=True``. Not retryable: the sync ran,
    and running it again gives the same result until its cause is fixed. ``handle`` is where the
    job was found; ``handle.triggered`` says whether the call triggered it.

    Examples:
        >>> from braze_cdi import BrazeCDIClient, SyncFailed
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> events = fake.add_integration(name="events", duration=0.0, outcome="error")
        >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        ...     try:
        ...         client.sync_and_wait(events.integration_id)
        ...     except SyncFailed as error:
        ...         print(error.job.job_status, error.job.rows_synced, error.handle.triggered)
        error 0 True
    """

    def __init__(self, message: str, *, integration_id: str, job: SyncJob) -> None:
        self.integration_id = integration_id
        self.job = job
        super().__init__(message)


class SyncTimeout(BrazeCDIError):
    """The wait ran out before the job finished.

    ``job`` is the last job seen (``None`` if it never appeared). Braze has no cancel call, so the
    sync may still be running: ``handle`` resumes the wait with ``wait_for_sync``. Not
    retryable: triggering again would only meet the running job.

    Examples:
        >>> from braze_cdi import BrazeCDIClient, SyncTimeout
        >>> from braze_cdi.testing import FakeBraze, FakeClock
        >>> clock = FakeClock()  # an hour of waiting takes no real time
        >>> fake = FakeBraze(clock=clock)
        >>> users = fake.add_integration(name="users", duration=7200)
        >>> client = BrazeCDIClient(fake.api_key, "US-01", transport=fake, clock=clock)
        >>> try:
        ...     client.sync_and_wait(users.integration_id, max_wait=3600)
        ... except SyncTimeout as error:
        ...     print(error.job.job_status, error.handle.triggered)
        ...     handle = error.handle
        running True
        >>> client.wait_for_sync(handle, max_wait=7200).job_status  # later, the same job
        <JobStatus.SUCCESS: 'success'>
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
