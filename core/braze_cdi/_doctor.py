"""The doctor: what ``diagnose`` checks of a key, its endpoint and its workspace, and the report
it returns, a fix for each problem.

```
check        what is looked at                                     how
endpoint     the name resolves, connects, holds TLS, answers HTTP  the integration list, read once
key          Braze accepts it; on a 401, which instance does       the same answer; find_instance
permission   cdi.integration_list, cdi.integration_job_status      a read each; cdi.integration_sync
                                                                   is never checked (no trigger)
rate_window  what other clients use of each window                 X-RateLimit-* of the answers
clock        this machine's clock against Braze's                  the Date of the first answer
integration  paused, last job error/config_error, schedule overdue  the integration list
```

Every request is a harmless read, and one attempt only: the doctor reports what it sees now
rather than retrying until a passing fault is gone. It never triggers a sync.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Literal, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from ._errors import (
    BrazeAPIError,
    BrazeAuthenticationError,
    BrazeCDIError,
    BrazePermissionError,
    BrazeServerError,
)
from ._exchange import NoAnswer
from ._listing import Pages
from ._models import Integration, JobStatus, SyncJob
from ._protocol import (
    PERMISSIONS,
    Call,
    Op,
    Outcome,
    Page,
    braze_date,
    error_for,
    header_number,
    integrations_call,
    jobs_call,
    read_page,
    transport_error,
)
from ._rate_limit import EndpointKind
from ._retry import Context, send_once

__all__ = [
    "BUSY_SHARE",
    "CLOCK_TOLERANCE",
    "PAUSED_STATUSES",
    "SCHEDULE_GRACE",
    "Check",
    "Diagnosis",
    "Finding",
    "RateWindow",
    "Verdict",
    "diagnose",
]

M = TypeVar("M", bound=BaseModel)

Check = Literal["endpoint", "key", "permission", "rate_window", "clock", "integration"]
"""What a finding is about, in the order the doctor reports them."""

Verdict = Literal["ok", "problem", "not_checked"]
"""``problem``: something is wrong (the doctor exits 1); ``not_checked``: the doctor could not
tell, and says why."""

BUSY_SHARE = 0.5
"""A rate window is busy when other clients use at least this share of it: the workspace's
syncs then wait for the client-side budget or meet 429s."""

CLOCK_TOLERANCE = 30.0
"""Seconds this machine's clock may differ from Braze's before it is a problem."""

SCHEDULE_GRACE = timedelta(minutes=30)
"""How long past its ``next_scheduled_run`` an integration's schedule may be before it counts as
stuck."""

PAUSED_STATUSES = frozenset({"paused", "inactive"})
"""The ``integration_status`` values (in any case) taken to mean the schedule does not run.
Braze documents the field but not its values; its examples say ``active``."""

_CALLS: dict[EndpointKind, str] = {
    "list": "integration-list",
    "status": "job-status",
    "trigger": "trigger",
}
_USES: dict[EndpointKind, str] = {
    "list": "to list integrations",
    "status": "to find and follow each sync's job",
    "trigger": "to trigger syncs",
}


class Finding(BaseModel):
    """One thing the doctor checked, what it found, and what to do about it.

    A ``problem`` always has a ``fix``, one sentence. A ``not_checked`` finding says why the
    doctor could not tell, and its ``fix`` (if any) how to find out.

    Examples:
        >>> from braze_cdi import Finding
        >>> finding = Finding(
        ...     check="clock",
        ...     verdict="problem",
        ...     summary="Braze's clock is 120 s ahead of this machine's.",
        ...     fix="Synchronise this machine's clock with NTP.",
        ... )
        >>> finding.ok
        False
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    check: Check
    verdict: Verdict
    summary: str = Field(description="What was found, in one sentence.")
    fix: str | None = Field(None, description="What to do about it, in one sentence.")
    subject: str | None = Field(
        None,
        description="What within the check the finding is about: the endpoint's failing step "
        "(DNS, connect, TLS, HTTP), the instance that accepts the key, a permission, a rate "
        "window's endpoint, an integration id.",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        """False for a problem only."""
        return self.verdict != "problem"

    @model_validator(mode="after")
    def _problem_has_a_fix(self) -> Finding:
        if self.verdict == "problem" and not self.fix:
            raise ValueError("a problem needs its fix")
        return self


class RateWindow(BaseModel):
    """One of Braze's rate-limit windows, as the ``X-RateLimit-*`` headers of the doctor's last
    answer from its endpoint told it. Braze counts every key of the workspace in it.

    Examples:
        >>> from braze_cdi import RateWindow
        >>> window = RateWindow(endpoint="list", limit=50, remaining=9, own_calls=1)
        >>> window.other_calls, window.busy
        (40, True)
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    endpoint: EndpointKind
    limit: int = Field(description="Calls Braze allows in the window (X-RateLimit-Limit).")
    remaining: int = Field(description="Calls left in it (X-RateLimit-Remaining).")
    resets_at: datetime | None = Field(
        None, description="When the window resets, in Braze's clock (X-RateLimit-Reset)."
    )
    own_calls: int = Field(description="The doctor's own calls counted in the window.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def other_calls(self) -> int:
        """Calls of other clients of the workspace in the window."""
        return max(0, self.limit - self.remaining - self.own_calls)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def busy(self) -> bool:
        """Other clients use ``BUSY_SHARE`` of the window or more."""
        return self.other_calls >= BUSY_SHARE * self.limit


class Diagnosis(BaseModel):
    """What ``diagnose`` found: every finding in order, and what it measured.

    ``ok`` is True when no finding is a problem. ``model_dump(mode="json")`` is what
    ``braze-cdi doctor --json`` prints.

    Examples:
        >>> from braze_cdi import BrazeCDIClient
        >>> from braze_cdi.testing import FakeBraze
        >>> fake = FakeBraze()
        >>> _ = fake.add_integration(name="users", history=1, integration_status="paused")
        >>> with BrazeCDIClient(fake.api_key, "US-01", transport=fake) as client:
        ...     report = client.diagnose()
        >>> report.ok
        False
        >>> [(problem.check, problem.summary) for problem in report.problems]
        [('integration', "Integration users (...) is paused: Braze's schedule does not run it.")]
        >>> print(report.problems[0].fix)
        Resume it in the Braze dashboard (Data Settings > Cloud Data Ingestion) if it should ...
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    rest_endpoint: str
    findings: tuple[Finding, ...]
    rate_windows: tuple[RateWindow, ...] = ()
    clock_offset_seconds: float | None = Field(
        None,
        description="Seconds Braze's clock is ahead of this machine's (negative: behind), from "
        "its Date header; None when no answer had one.",
    )
    key_instance: str | None = Field(
        None,
        description="The instance that accepted the key when the endpoint refused it, found "
        "with find_instance.",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        """True when no finding is a problem."""
        return all(finding.ok for finding in self.findings)

    @property
    def problems(self) -> tuple[Finding, ...]:
        """The findings that are problems, in order."""
        return tuple(finding for finding in self.findings if not finding.ok)


# --- the checks ---------------------------------------------------------------------------


def diagnose(
    ctx: Context, rest_endpoint: str, *, instances: Mapping[str, str] | None = None
) -> Op[Diagnosis]:
    """Run every check against ``rest_endpoint`` (the client's, resolved).

    ``instances`` (name to REST endpoint, resolved), when given, are sent the key in turn after
    a 401, until one accepts it.
    """
    answers = _Answers(ctx)
    call = integrations_call()
    first = yield from answers.read(call, Integration)
    if isinstance(first, NoAnswer):
        return answers.diagnosis(rest_endpoint, [_unreachable(rest_endpoint, first)])
    if isinstance(first, BrazeCDIError) and _not_the_api(first):
        return answers.diagnosis(rest_endpoint, [_not_answering(rest_endpoint, first)])
    findings = [_reached(rest_endpoint)]
    if isinstance(first, BrazeAuthenticationError):
        found = None
        if instances is not None:
            found = yield from _find_instance(ctx, rest_endpoint, instances)
        findings += [_key_refused(rest_endpoint, instances, found), answers.clock_finding()]
        key_instance = None if found is None else found[0]
        return answers.diagnosis(rest_endpoint, findings, key_instance=key_instance)
    findings.append(Finding(check="key", verdict="ok", summary=f"{rest_endpoint} accepts the key."))
    health: list[Finding]
    if isinstance(first, BrazeCDIError):  # 403, 429, or the client-side budget
        findings += [
            _permission("list", first, "listing the integrations"),
            _not_checked_permission("status", "the integration list could not be read"),
        ]
        health = [
            Finding(
                check="integration",
                verdict="not_checked",
                summary="The integrations could not be checked: their list could not be read.",
            )
        ]
    else:
        integrations, unread = yield from _every_integration(answers, call, first)
        findings += [
            _permission("list", None, "listing the integrations"),
            (yield from _jobs_permission(answers, integrations)),
        ]
        health = _health_findings(integrations, unread, answers.braze_now())
    findings += [_sync_not_checked(), *answers.windows_findings(), answers.clock_finding(), *health]
    return answers.diagnosis(rest_endpoint, findings)


def _attempt(ctx: Context, call: Call) -> Op[Outcome]:
    """One attempt at ``call``, within the client-side budget and the policy's duration."""
    return (yield from send_once(ctx, call, ctx.clock.monotonic() + ctx.retry.max_duration))


@dataclass
class _Answers:
    """Reads for the doctor, noting what each answer says beyond its body: Braze's clock, and
    its rate windows."""

    ctx: Context
    clock_offset: float | None = None
    windows: dict[EndpointKind, RateWindow] = field(default_factory=dict)

    def read(self, call: Call, model: type[M]) -> Op[Page[M] | NoAnswer | BrazeCDIError]:
        """One attempt at ``call``: its page, no answer at all, or the error Braze's answer
        means."""
        ctx = self.ctx
        try:
            outcome = yield from _attempt(ctx, call)
        except BrazeCDIError as error:  # the client-side budget would hold it past the deadline
            return error
        if isinstance(outcome, Exception):
            outcome = NoAnswer.of(outcome, ctx.redact)
        if isinstance(outcome, NoAnswer):
            return outcome
        self._note(call.kind, outcome)
        if not outcome.is_success:
            return error_for(call, outcome, ctx.redact)
        try:
            return read_page(call, outcome, model, ctx.redact)
        except BrazeCDIError as error:
            return error

    def _note(self, endpoint: EndpointKind, response: httpx.Response) -> None:
        date = braze_date(response)
        if self.clock_offset is None and date is not None:
            self.clock_offset = round(date.timestamp() - self.ctx.clock.time(), 3)
        limit, remaining, reset = (
            header_number(response, f"x-ratelimit-{name}")
            for name in ("limit", "remaining", "reset")
        )
        if limit is None or remaining is None:
            return
        resets_at = _instant(reset)
        before = self.windows.get(endpoint)
        own = before.own_calls if before is not None and before.resets_at == resets_at else 0
        self.windows[endpoint] = RateWindow(
            endpoint=endpoint,
            limit=int(limit),
            remaining=int(remaining),
            resets_at=resets_at,
            own_calls=own + (response.status_code != 429),  # a refused call is not counted
        )

    def braze_now(self) -> datetime:
        """Braze's time now, as well as its Date header tells it."""
        now = self.ctx.clock.time() + (self.clock_offset or 0.0)
        return datetime.fromtimestamp(now, tz=timezone.utc)

    def windows_findings(self) -> list[Finding]:
        if not self.windows:
            return [
                Finding(
                    check="rate_window",
                    verdict="not_checked",
                    summary="Braze's answers carried no X-RateLimit-* headers: how much of the "
                    "rate windows other clients use cannot be seen.",
                )
            ]
        return [_window_finding(window) for window in self.windows.values()]

    def clock_finding(self) -> Finding:
        offset = self.clock_offset
        if offset is None:
            return Finding(
                check="clock",
                verdict="not_checked",
                summary="Braze's answer carried no Date header: the offset of this machine's "
                "clock is unknown.",
            )
        if abs(offset) <= CLOCK_TOLERANCE:
            return Finding(
                check="clock",
                verdict="ok",
                summary=f"This machine's clock is within {max(1, round(abs(offset)))} s of "
                "Braze's (its Date header).",
            )
        side = "ahead of" if offset > 0 else "behind"
        return Finding(
            check="clock",
            verdict="problem",
            summary=f"Braze's clock is {abs(offset):.0f} s {side} this machine's: syncs go by "
            "Braze's clock, but freshness checks and since= compare Braze's job times with this "
            "machine's.",
            fix="Synchronise this machine's clock with NTP (for example chrony or "
            "systemd-timesyncd).",
        )

    def diagnosis(
        self, rest_endpoint: str, findings: list[Finding], *, key_instance: str | None = None
    ) -> Diagnosis:
        return Diagnosis(
            rest_endpoint=rest_endpoint,
            findings=tuple(findings),
            rate_windows=tuple(self.windows.values()),
            clock_offset_seconds=self.clock_offset,
            key_instance=key_instance,
        )


# --- reaching the endpoint ------------------------------------------------------------------

Step = Literal["DNS", "connect", "TLS", "HTTP"]

_STEP_FIXES: dict[Step, str] = {
    "DNS": "Check the REST endpoint against Braze's list of instances (or give the instance "
    "name, such as US-01), and that this machine's DNS resolves public names.",
    "connect": "Check that this machine may reach the host on port 443: a firewall, a missing "
    "proxy setting (HTTPS_PROXY) or the network is in the way.",
    "TLS": "Something intercepts TLS (a proxy: trust its CA with SSL_CERT_FILE) or this "
    "machine's CA certificates are missing or out of date.",
    "HTTP": "The connection was made but no answer came in time; run the doctor again, and "
    "raise the request timeout if it persists.",
}


def _step(failure: NoAnswer) -> Step:
    """Which step of reaching the endpoint failed."""
    cause = failure.cause or failure.kind
    if issubclass(cause, socket.gaierror):
        return "DNS"
    if issubclass(cause, ssl.SSLError):
        return "TLS"
    if issubclass(failure.kind, httpx.ConnectError | httpx.ConnectTimeout):
        return "connect"
    return "HTTP"


def _unreachable(rest_endpoint: str, failure: NoAnswer) -> Finding:
    host, step = _host(rest_endpoint), _step(failure)
    detail = " ".join(failure.detail.split())[:200].rstrip(".") or failure.kind.__name__
    said = {
        "DNS": f"The name {host} does not resolve (DNS: {detail})",
        "connect": f"{host} resolves, but no connection to it opens ({detail})",
        "TLS": f"{host} accepts a connection, but the TLS handshake fails ({detail})",
        "HTTP": f"{host} accepts a connection, but no answer comes ({detail})",
    }[step]
    return Finding(
        check="endpoint",
        verdict="problem",
        subject=step,
        summary=f"{said}; nothing else could be checked.",
        fix=_STEP_FIXES[step],
    )


def _not_the_api(error: BrazeCDIError) -> bool:
    """An answer that is not Braze's API speaking: a 5xx, an undocumented status, an unreadable
    body."""
    return isinstance(error, BrazeServerError) or type(error) is BrazeAPIError


def _not_answering(rest_endpoint: str, error: BrazeCDIError) -> Finding:
    fix = (
        "Braze, or a proxy before it, is failing: check status.braze.com (and the proxy), then "
        "run the doctor again."
        if isinstance(error, BrazeServerError)
        else "Check that the REST endpoint is your instance's REST API (such as "
        "https://rest.iad-01.braze.com, or US-01), not a dashboard or a proxy's page."
    )
    return Finding(
        check="endpoint",
        verdict="problem",
        subject="HTTP",
        summary=f"{_host(rest_endpoint)} answers, but not as Braze's CDI API ({error.message}); "
        "nothing else could be checked.",
        fix=fix,
    )


def _reached(rest_endpoint: str) -> Finding:
    host = _host(rest_endpoint)
    over = "over TLS" if rest_endpoint.startswith("https:") else "over plain HTTP (loopback)"
    return Finding(
        check="endpoint",
        verdict="ok",
        summary=f"{host} resolves and answers {over}.",
    )


def _host(rest_endpoint: str) -> str:
    return urlsplit(rest_endpoint).netloc or rest_endpoint


# --- the key and its instance -------------------------------------------------------------


def _find_instance(
    ctx: Context, rest_endpoint: str, instances: Mapping[str, str]
) -> Op[tuple[str, str] | None]:
    """The first instance that accepts the key (a 403 accepts it too: the key is known there)."""
    probing = replace(ctx, budgets={})  # other instances' workspaces are not this one's
    for name, url in instances.items():
        if url == rest_endpoint:
            continue
        call = Call("list", "GET", f"{url}/cdi/integrations")
        outcome = yield from _attempt(probing, call)
        if isinstance(outcome, httpx.Response) and (
            outcome.is_success or outcome.status_code == 403
        ):
            return name, url
    return None


def _key_refused(
    rest_endpoint: str, instances: Mapping[str, str] | None, found: tuple[str, str] | None
) -> Finding:
    refused = f"{rest_endpoint} refuses the key (401)"
    if instances is None:
        return Finding(
            check="key",
            verdict="problem",
            summary=f"{refused}: it is wrong or revoked, or a key of another Braze instance.",
            fix="Check the key and the REST endpoint; find_instance (--find-instance) names the "
            "key's instance by sending the key to every Braze instance.",
        )
    if found is not None:
        name, url = found
        return Finding(
            check="key",
            verdict="problem",
            subject=name,
            summary=f"{refused}, but {name} ({url}) accepts it: the key belongs to that "
            "instance (the key was sent to Braze's instances in turn to find it).",
            fix=f"Set the REST endpoint to {name}.",
        )
    tried = sum(url != rest_endpoint for url in instances.values())
    return Finding(
        check="key",
        verdict="problem",
        summary=f"{refused}, and so does every other Braze instance it was sent to ({tried}).",
        fix="Create a new REST API key in the Braze dashboard (Settings > APIs and Identifiers) "
        "with the cdi.* permissions, and use it.",
    )


# --- permissions --------------------------------------------------------------------------


def _permission(endpoint: EndpointKind, error: BrazeCDIError | None, what: str) -> Finding:
    permission = PERMISSIONS[endpoint]
    if error is None:
        return Finding(
            check="permission",
            verdict="ok",
            subject=permission,
            summary=f"The key has {permission} ({_USES[endpoint]}): {what} worked.",
        )
    if isinstance(error, BrazePermissionError):
        return Finding(
            check="permission",
            verdict="problem",
            subject=permission,
            summary=f"The key lacks {permission}, needed {_USES[endpoint]}: Braze answered 403 "
            f"to {what}.",
            fix=f"Create a REST API key with {permission} (Braze cannot add a permission to an "
            "existing key) and use it.",
        )
    return _not_checked_permission(endpoint, error.message.rstrip("."))


def _not_checked_permission(endpoint: EndpointKind, why: str) -> Finding:
    return Finding(
        check="permission",
        verdict="not_checked",
        subject=PERMISSIONS[endpoint],
        summary=f"{PERMISSIONS[endpoint]} ({_USES[endpoint]}) could not be checked: {why}.",
        fix="Run the doctor again.",
    )


def _jobs_permission(answers: _Answers, integrations: list[Integration]) -> Op[Finding]:
    if not integrations:
        return _not_checked_permission("status", "the workspace has no integration to read")
    integration = integrations[0]
    call = jobs_call(integration.integration_id)
    read = yield from answers.read(call, SyncJob)
    if isinstance(read, NoAnswer):
        read = transport_error(call, read, answers.ctx.redact)
    error = read if isinstance(read, BrazeCDIError) else None
    return _permission("status", error, f"reading the jobs of integration {_label(integration)}")


def _sync_not_checked() -> Finding:
    # Made when used, not at import: the first Finding builds the model's validator.
    return Finding(
        check="permission",
        verdict="not_checked",
        subject=PERMISSIONS["trigger"],
        summary=f"{PERMISSIONS['trigger']} ({_USES['trigger']}) cannot be checked without "
        "triggering a sync, and the doctor never triggers one.",
        fix="See the key's permissions in the Braze dashboard (Settings > APIs and "
        "Identifiers); a trigger without it fails with 403, naming it.",
    )


# --- the rate windows ---------------------------------------------------------------------


def _window_finding(window: RateWindow) -> Finding:
    summary = (
        f"Other clients of the workspace use {window.other_calls} of the {window.limit} "
        f"{_CALLS[window.endpoint]} calls of Braze's current rate window ({window.remaining} "
        f"left after the doctor's own {window.own_calls})."
    )
    if not window.busy:
        return Finding(check="rate_window", verdict="ok", subject=window.endpoint, summary=summary)
    return Finding(
        check="rate_window",
        verdict="problem",
        subject=window.endpoint,
        summary=summary,
        fix="Every key of the workspace shares this limit: spread out or pause what else calls "
        "Braze's CDI endpoints, or ask Braze to raise the limit.",
    )


def _instant(epoch: float | None) -> datetime | None:
    try:
        return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):  # a header no clock can read
        return None


# --- the integrations ---------------------------------------------------------------------


def _every_integration(
    answers: _Answers, call: Call, first: Page[Integration]
) -> Op[tuple[list[Integration], BrazeCDIError | NoAnswer | None]]:
    """Every integration, and what stopped the listing early (or None)."""
    integrations, current, pages = list(first.items), first, Pages()
    while True:
        try:
            cursor = pages.next(call, current)
        except BrazeCDIError as error:
            return integrations, error
        if cursor is None:
            return integrations, None
        call = integrations_call(cursor)
        read = yield from answers.read(call, Integration)
        if not isinstance(read, Page):
            return integrations, read
        integrations += read.items
        current = read


def _health_findings(
    integrations: list[Integration], unread: BrazeCDIError | NoAnswer | None, now: datetime
) -> list[Finding]:
    findings = [finding for integration in integrations for finding in _health(integration, now)]
    if unread is not None:
        why = unread.message if isinstance(unread, BrazeCDIError) else unread.detail
        findings.append(
            Finding(
                check="integration",
                verdict="not_checked",
                summary=f"Only the first {len(integrations)} integrations could be read "
                f"({' '.join(why.split())[:200].rstrip('.')}).",
                fix="Run the doctor again.",
            )
        )
    elif not findings:
        summary = (
            f"All {len(integrations)} integrations are active, no last job failed and no "
            "scheduled run is overdue."
            if integrations
            else "The workspace has no CDI integration."
        )
        findings.append(Finding(check="integration", verdict="ok", summary=summary))
    return findings


def _health(integration: Integration, now: datetime) -> Iterator[Finding]:
    label, subject = _label(integration), integration.integration_id
    status = integration.integration_status
    paused = (status or "").lower() in PAUSED_STATUSES
    if paused:
        yield Finding(
            check="integration",
            verdict="problem",
            subject=subject,
            summary=f"Integration {label} is {status}: Braze's schedule does not run it.",
            fix="Resume it in the Braze dashboard (Data Settings > Cloud Data Ingestion) if it "
            "should sync, or take it out of the pipeline.",
        )
    last = integration.last_job_status
    if last in (JobStatus.ERROR, JobStatus.CONFIG_ERROR):
        started = integration.last_job_start_time
        when = "" if started is None else f" (started {started.isoformat(timespec='seconds')})"
        yield Finding(
            check="integration",
            verdict="problem",
            subject=subject,
            summary=f"The last job of integration {label} ended {last}{when}.",
            fix="Fix the integration's configuration in the Braze dashboard (warehouse "
            "credentials, table or schema), then sync again."
            if last == JobStatus.CONFIG_ERROR
            else "Read the job's error in the integration's sync history in the Braze dashboard, "
            "fix what it names, then sync again.",
        )
    due = integration.next_scheduled_run
    if not paused and due is not None and now - due > SCHEDULE_GRACE:
        yield Finding(
            check="integration",
            verdict="problem",
            subject=subject,
            summary=f"The run of integration {label} scheduled for "
            f"{due.isoformat(timespec='seconds')} is {_duration(now - due)} overdue by Braze's "
            "clock: its schedule looks stuck.",
            fix="Check the integration's schedule in the Braze dashboard and ask Braze support if "
            "runs stay overdue; a triggered sync catches up meanwhile.",
        )


def _label(integration: Integration) -> str:
    name = integration.integration_name
    return f"{name} ({integration.integration_id})" if name else integration.integration_id


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
