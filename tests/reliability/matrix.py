"""The fault matrix: each fault Braze or the network can throw at each operation, and the outcome
it must end with, through both clients over real loopback HTTP.

A cell passes when the operation ends inside its deadline with its expected outcome: success
with exactly one job started (or the full listing), or the documented typed error; and never
with two jobs started for one call. ``test_matrix.py`` runs every cell; the table of expected
outcomes is kept in ``docs/reliability.md``. After changing the matrix, regenerate the page's
table with::

    uv run python -m tests.reliability.matrix
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import re
import sys
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest

from braze_cdi import (
    AsyncBrazeCDIClient,
    BrazeAPIError,
    BrazeCDIClient,
    BrazeCDIError,
    BrazeServerError,
    BrazeTransportError,
    Integration,
    RetryPolicy,
    SyncAlreadyRunning,
    SyncJob,
    SyncResult,
    SyncTimeout,
)
from braze_cdi._rate_limit import EndpointKind
from braze_cdi.testing import FakeClock, FakeIntegration

from .fakes import ScriptedBraze, vanish_once_listed

# --- the parameters every cell shares --------------------------------------------------------

CLIENTS = ("sync", "async")
#: Each operation, and the endpoints its faults are aimed at.
OPERATIONS: dict[str, tuple[EndpointKind, ...]] = {
    "trigger_sync": ("trigger",),
    "list_integrations": ("list",),
    "list_sync_jobs": ("status",),
    "sync_and_wait": ("trigger", "status"),
    "sync_many": ("trigger", "status"),
}
ASYNC_ONLY = {"sync_many"}

RETRY = RetryPolicy(
    max_attempts=5, initial_delay=1.0, max_delay=30.0, max_duration=120.0, jitter=False
)
TIMEOUT = 600.0  # virtual seconds a sync_and_wait may take
POLL = 10.0
MAX_POLL = 60.0
DURATION = 25.0  # virtual seconds each triggered job runs
HTTP_TIMEOUT = 5.0  # real seconds per request ...
SHORT_HTTP_TIMEOUT = 0.4  # ... and in the rows whose fault is about time
REAL_LIMIT = 20.0  # no cell may take longer than this in real time
SYNCED_WITH_THE_TARGET = 2  # integrations sync_many runs beside the one the faults aim at

DOCS = Path(__file__).parents[2] / "docs" / "reliability.md"
BEGIN, END = "<!-- fault matrix: begin -->", "<!-- fault matrix: end -->"
REGENERATE = "uv run python -m tests.reliability.matrix"


@dataclass
class Scene:
    """A FakeBraze on a virtual clock: twelve integrations (two pages), ``target`` with twelve
    past jobs (two pages); every triggered job runs ``DURATION`` virtual seconds."""

    clock: FakeClock = field(default_factory=FakeClock)
    fake: ScriptedBraze = field(init=False)
    target: FakeIntegration = field(init=False)
    others: list[FakeIntegration] = field(init=False)

    def __post_init__(self) -> None:
        self.fake = ScriptedBraze(clock=self.clock)
        self.target = self.fake.add_integration(
            name="target", history=12, history_duration=DURATION, duration=DURATION
        )
        # No history: their polls keep to POLL, so the pauses they add to the shared virtual
        # clock while sync_many runs them beside the target stay short.
        self.others = [self.fake.add_integration(duration=DURATION) for _ in range(11)]

    @property
    def synced(self) -> list[FakeIntegration]:
        """The integrations ``sync_many`` syncs: the target first."""
        return [self.target, *self.others[:SYNCED_WITH_THE_TARGET]]

    def inject(self, kinds: tuple[EndpointKind, ...], **fault: Any) -> None:
        """The same fault once per endpoint kind, aimed at the target (lists have no target)."""
        for kind in kinds:
            aim = None if kind == "list" else self.target.integration_id
            self.fake.inject(kind, integration_id=aim, **fault)


Arrange = Callable[[Scene, tuple[EndpointKind, ...]], None]
Check = Callable[[Scene, str, Any], None]


@dataclass(frozen=True)
class Expect:
    """A cell's outcome: success, or exactly this error class; ``jobs`` the trigger started."""

    error: type[BrazeCDIError] | None = None
    jobs: int | None = 1  # None: a listing, which starts none
    note: str = ""

    def __str__(self) -> str:
        outcome = "ok" if self.error is None else f"`{self.error.__name__}`"
        jobs = "" if self.jobs is None else f", {self.jobs} job{'s' * (self.jobs != 1)}"
        return f"{outcome}{jobs}{f' ({self.note})' if self.note else ''}"


def listed(note: str = "") -> Expect:
    return Expect(jobs=None, note=note)


def refused(error: type[BrazeCDIError], note: str = "", *, jobs: int | None = 0) -> Expect:
    return Expect(error, jobs=jobs, note=note)


@dataclass(frozen=True)
class Fault:
    """One row: how to arrange the fault, and each operation's expected outcome (a missing
    operation is not applicable: the fault cannot happen on its endpoints)."""

    name: str
    arrange: Arrange
    expect: Mapping[str, Expect]
    http_timeout: float = HTTP_TIMEOUT
    checks: tuple[Check, ...] = ()

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")[:40]


# --- the faults ------------------------------------------------------------------------------


def _each(**fault: Any) -> Arrange:
    def arrange(scene: Scene, kinds: tuple[EndpointKind, ...]) -> None:
        scene.inject(kinds, **fault)

    return arrange


def _broken_2xx(body: str) -> Arrange:
    """A 200 whose body is broken. Braze did what a 2xx says: a trigger started its job."""

    def arrange(scene: Scene, kinds: tuple[EndpointKind, ...]) -> None:
        for kind in kinds:
            scene.inject((kind,), status=200, body=body, takes_effect=kind == "trigger")

    return arrange


BRAZE_AHEAD = 3600.0
RESET_IN = 17


def _rate_limited(scene: Scene, kinds: tuple[EndpointKind, ...]) -> None:
    # Braze's clock is an hour ahead of ours: only its Date header makes the reset meaningful.
    braze_now = scene.clock.time() + BRAZE_AHEAD
    scene.inject(
        kinds,
        status=429,
        body={"message": "API rate limit exceeded"},
        headers={
            "Date": formatdate(braze_now, usegmt=True),
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(braze_now) + RESET_IN),
        },
    )


def _waited_for_the_reset(scene: Scene, operation: str, outcome: Any) -> None:
    assert float(RESET_IN) in scene.clock.sleeps


def _job_in_progress(scene: Scene, kinds: tuple[EndpointKind, ...]) -> None:
    if "trigger" in kinds:
        # Braze's own schedule started a job it does not list yet: the trigger is refused.
        scene.fake.start_job(scene.target.integration_id, duration=30.0, job_appears_after=15.0)
    else:
        scene.inject(kinds, status=429, body={"message": "Another job is in progress"})


def _unknown_status(scene: Scene, kinds: tuple[EndpointKind, ...]) -> None:
    if "trigger" in kinds:
        scene.target.running_status = "warming_up"
    else:
        scene.fake.start_job(scene.target.integration_id, duration=1e6, running_status="queued")


def _kept_unknown_status(scene: Scene, operation: str, outcome: Any) -> None:
    if operation == "list_integrations":
        [target] = [i for i in outcome if i.integration_id == scene.target.integration_id]
        assert target.last_job_status == "queued"
    elif operation == "list_sync_jobs":
        assert "queued" in [job.job_status for job in outcome]


def _vanishing_job(scene: Scene, kinds: tuple[EndpointKind, ...]) -> None:
    if "trigger" in kinds:
        # It must still be running when first listed: in sync_many the other syncs' pauses move
        # the shared virtual clock too, and a job seen finished before it vanishes just succeeds.
        scene.target.duration = 1e6
        scene.fake.script.append(vanish_once_listed(scene.fake, scene.target.integration_id))
    else:
        scene.target.jobs[-1].hidden = True  # the newest past job


def _kept_the_last_job_seen(scene: Scene, operation: str, outcome: Any) -> None:
    error = outcome[0] if operation == "sync_many" else outcome
    if isinstance(error, SyncTimeout):
        assert error.job is not None and error.job.job_status == "running"
        assert error.handle is not None and error.handle.triggered


def _skewed(skew: float) -> Arrange:
    def arrange(scene: Scene, kinds: tuple[EndpointKind, ...]) -> None:
        scene.fake.clock_skew = skew
        if "trigger" in kinds:
            # A job that has just ended: a client trusting its own clock could take it for its own.
            scene.fake.start_job(scene.target.integration_id, duration=0.0, outcome="error")

    return arrange


def _not_resent(scene: Scene, operation: str, outcome: Any) -> None:
    if operation == "sync_many":
        assert scene.fake.count("trigger") == len(scene.synced)
    elif "trigger" in OPERATIONS[operation]:
        assert scene.fake.count("trigger") == 1
    else:
        assert scene.fake.count(OPERATIONS[operation][0]) == 2  # two pages, each read once


def _resent_after_checking(times: int) -> Check:
    """The trigger was sent again after each unknown outcome: never blindly, always after a look
    at the job list."""

    def check(scene: Scene, operation: str, outcome: Any) -> None:
        if operation not in ("sync_and_wait", "sync_many"):
            return
        target = scene.target.integration_id
        kinds = [r.kind for r in scene.fake.requests if r.integration_id == target]
        triggers = [at for at, kind in enumerate(kinds) if kind == "trigger"]
        assert len(triggers) == times + 1
        for before, after in itertools.pairwise(triggers):
            assert "status" in kinds[before:after]

    return check


def _named_the_proxys_page(scene: Scene, operation: str, outcome: Any) -> None:
    if operation == "trigger_sync":
        assert "502 Bad Gateway" in outcome.message


# --- answers no server should send: the untrusted-answer rows --------------------------------

TRICKLE = 0.1  # real seconds between two bytes of a trickled body: well inside each read's
# timeout, so only the bound on the whole exchange (SHORT_HTTP_TIMEOUT) can end it
CORRUPT_GZIP = b"\x1f\x8b\x08\x00 this is not gzip"
BOMB_INFLATED = 64 * 2**20  # bytes a compression bomb inflates to
DEEP = 100  # levels of nesting in a deeply nested body (the core reads at most 32)
FAR_FUTURE = "Fri, 31 Dec 9999 23:59:59 GMT"  # a real date, past what the core accepts


@functools.cache
def _bomb() -> bytes:
    """Valid JSON (an empty results list padded with spaces) inflating to ``BOMB_INFLATED``
    bytes, gzipped to about a thousandth of that; built once, never held inflated."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    spaces = b" " * 2**20
    parts = [squeeze.compress(b'{"results": [')]
    parts += [squeeze.compress(spaces) for _ in range(BOMB_INFLATED // len(spaces))]
    parts += [squeeze.compress(b"]}"), squeeze.flush()]
    return b"".join(parts)


def _raw_2xx(body: Callable[[], bytes], **headers: str) -> Arrange:
    """A 200 that goes out exactly as given: a trigger's job did start."""

    def arrange(scene: Scene, kinds: tuple[EndpointKind, ...]) -> None:
        for kind in kinds:
            scene.inject(
                (kind,),
                status=200,
                body=body(),
                headers={"Content-Type": "application/json", **headers},
                raw=True,
                takes_effect=kind == "trigger",
            )

    return arrange


def _deep_json() -> bytes:
    nested = "[" * DEEP + "]" * DEEP
    return f'{{"results": [{{"integration_id": "x", "nested": {nested}}}]}}'.encode()


def _arabic_indic(number: int) -> str:
    """``number`` in Arabic-Indic digits (``int()`` reads them); FakeBraze sends them as UTF-8."""
    return "".join(chr(0x0660 + int(digit)) for digit in str(number))


def _odd_numbers(scene: Scene, kinds: tuple[EndpointKind, ...]) -> None:
    # Each would mislead a lax parser: a pause of nan seconds, an endless reset.
    scene.inject(
        kinds,
        status=429,
        body={"message": "API rate limit exceeded"},
        headers={
            "Retry-After": "nan",
            "X-RateLimit-Limit": "inf",
            "X-RateLimit-Remaining": "-0",
            "X-RateLimit-Reset": "1e999",
        },
    )


def _foreign_digits(scene: Scene, kinds: tuple[EndpointKind, ...]) -> None:
    # Read with int(), "1 call left" would pass this 429 for "Another job is in progress", and
    # the reset would be 17 s away. Only ASCII digits are numbers: the pause is the backoff.
    braze_now = scene.clock.time()
    scene.inject(
        kinds,
        status=429,
        body={"message": "API rate limit exceeded"},
        headers={
            "Date": formatdate(braze_now, usegmt=True),
            "X-RateLimit-Limit": _arabic_indic(50),
            "X-RateLimit-Remaining": _arabic_indic(1),
            "X-RateLimit-Reset": _arabic_indic(int(braze_now) + RESET_IN),
        },
    )


def _waited_the_backoff(scene: Scene, operation: str, outcome: Any) -> None:
    assert RETRY.backoff(1) in scene.clock.sleeps, scene.clock.sleeps
    assert all(0.0 <= pause <= MAX_POLL for pause in scene.clock.sleeps), scene.clock.sleeps


def _first_page(scene: Scene, kind: EndpointKind) -> dict[str, Any]:
    """The first page Braze would list now, as FakeBraze renders it."""
    fake, now = scene.fake, scene.clock.time()
    if kind == "list":
        items = [i.to_json(now, fake.clock_skew) for i in fake.integrations.values()]
    else:
        jobs = [j for j in scene.target.jobs if now >= j.listed_from and not j.hidden]
        jobs.sort(key=lambda job: job.start, reverse=True)
        items = [job.to_json(now, fake.clock_skew) for job in jobs]
    return {"results": items[: fake.page_size], "message": "success"}


def _fresh_cursor_same_page(scene: Scene, kinds: tuple[EndpointKind, ...]) -> None:
    """Every answer of a list hands out a cursor never seen before, and the same first page."""
    served = itertools.count(1)
    paths: dict[str, EndpointKind] = {
        "/cdi/integrations": "list",
        f"/cdi/integrations/{scene.target.integration_id}/job_sync_status": "status",
    }

    def link(path: str) -> str:
        return f'<{path}?cursor=fresh-{next(served)}>; rel="next"'

    if "trigger" in kinds:
        scene.inject(("trigger",), headers={"Link": link("/cdi/integrations")})

    def step(request: httpx.Request) -> None:
        kind = paths.get(request.url.path)
        if kind in kinds:
            scene.inject(
                (kind,),
                status=200,
                body=_first_page(scene, kind),
                headers={"Link": link(request.url.path)},
            )

    scene.fake.script.append(step)


def _stopped_at_the_second_copy(scene: Scene, operation: str, outcome: Any) -> None:
    if operation in ("list_integrations", "list_sync_jobs"):
        assert "same next page" in outcome.message, outcome.message
        assert scene.fake.count(OPERATIONS[operation][0]) == 2


def _said(reason: str) -> Check:
    """The bare trigger's error names what made the answer unreadable."""

    def check(scene: Scene, operation: str, outcome: Any) -> None:
        if operation == "trigger_sync":
            assert reason in outcome.message, outcome.message

    return check


HTML_502 = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)
NOT_RESENT = "not resent"
FINAL = "not resent, not retryable"
RETRIED = "retried"
TRIGGER_CHECKED = "resent once the job list showed no new job"

FAULTS: list[Fault] = [
    Fault(
        "503 burst (3 in a row)",
        _each(status=503, times=3),
        {
            "trigger_sync": refused(BrazeServerError, FINAL),
            "list_integrations": listed(RETRIED),
            "list_sync_jobs": listed(RETRIED),
            "sync_and_wait": Expect(note=TRIGGER_CHECKED),
            "sync_many": Expect(note=TRIGGER_CHECKED),
        },
        checks=(_resent_after_checking(3),),
    ),
    Fault(
        "HTML 502 from a proxy",
        _each(status=502, body=HTML_502),
        {
            "trigger_sync": refused(BrazeServerError, f"{FINAL}; names the page's title"),
            "list_integrations": listed(RETRIED),
            "list_sync_jobs": listed(RETRIED),
            "sync_and_wait": Expect(note=TRIGGER_CHECKED),
            "sync_many": Expect(note=TRIGGER_CHECKED),
        },
        checks=(_named_the_proxys_page, _resent_after_checking(1)),
    ),
    Fault(
        "dropped connection",
        _each(drop=True),
        {
            "trigger_sync": refused(BrazeTransportError, FINAL),
            "list_integrations": listed(RETRIED),
            "list_sync_jobs": listed(RETRIED),
            "sync_and_wait": Expect(note=TRIGGER_CHECKED),
            "sync_many": Expect(note=TRIGGER_CHECKED),
        },
        checks=(_resent_after_checking(1),),
    ),
    Fault(
        "read timeout; the trigger's job did start",
        _each(delay=SHORT_HTTP_TIMEOUT + 0.1, takes_effect=True),
        {
            "trigger_sync": refused(BrazeTransportError, FINAL, jobs=1),
            "list_integrations": listed(RETRIED),
            "list_sync_jobs": listed(RETRIED),
            "sync_and_wait": Expect(note="its job found in the list; not resent"),
            "sync_many": Expect(note="its job found in the list; not resent"),
        },
        checks=(_resent_after_checking(0),),
        http_timeout=SHORT_HTTP_TIMEOUT,
    ),
    Fault(
        f"429 rate limit, X-RateLimit-Reset {RESET_IN} s after Braze's Date",
        _rate_limited,
        {
            "trigger_sync": Expect(note=f"waited {RESET_IN} s"),
            "list_integrations": listed(f"waited {RESET_IN} s"),
            "list_sync_jobs": listed(f"waited {RESET_IN} s"),
            "sync_and_wait": Expect(note=f"waited {RESET_IN} s"),
            "sync_many": Expect(note=f"waited {RESET_IN} s"),
        },
        checks=(_waited_for_the_reset,),
    ),
    Fault(
        '429 "Another job is in progress"',
        _job_in_progress,
        {
            "trigger_sync": refused(SyncAlreadyRunning),
            "list_integrations": listed("read as a rate limit; retried"),
            "list_sync_jobs": listed("read as a rate limit; retried"),
            "sync_and_wait": Expect(note="waited for the running job, then triggered"),
            "sync_many": Expect(note="waited for the running job, then triggered"),
        },
    ),
    Fault(
        "200 with malformed JSON",
        _broken_2xx('{"results": [{"integration_id": '),
        {
            "trigger_sync": Expect(note="a 2xx is enough"),
            "list_integrations": listed(RETRIED),
            "list_sync_jobs": listed(RETRIED),
            "sync_and_wait": Expect(),
            "sync_many": Expect(),
        },
    ),
    Fault(
        "200 with an empty body",
        _broken_2xx(""),
        {
            "trigger_sync": Expect(note="a 2xx is enough"),
            "list_integrations": listed(RETRIED),
            "list_sync_jobs": listed(RETRIED),
            "sync_and_wait": Expect(),
            "sync_many": Expect(),
        },
    ),
    Fault(
        "unknown job_status",
        _unknown_status,
        {
            "list_integrations": listed("kept as a string"),
            "list_sync_jobs": listed("kept as a string"),
            "sync_and_wait": Expect(note="not taken as finished"),
            "sync_many": Expect(note="not taken as finished"),
        },
        checks=(_kept_unknown_status,),
    ),
    Fault(
        "the job vanishes from the list",
        _vanishing_job,
        {
            "list_sync_jobs": listed("lists what Braze lists"),
            "sync_and_wait": refused(SyncTimeout, "keeps the last job seen", jobs=1),
            "sync_many": refused(SyncTimeout, "keeps the last job seen", jobs=1),
        },
        checks=(_kept_the_last_job_seen,),
    ),
    Fault(
        "Link header without a usable cursor",
        _each(headers={"Link": '</cdi/integrations?page=2>; rel="next"'}),
        {
            "trigger_sync": Expect(note="header ignored"),
            "list_integrations": refused(BrazeAPIError, jobs=None),
            "list_sync_jobs": refused(BrazeAPIError, jobs=None),
            "sync_and_wait": refused(BrazeAPIError, "before triggering"),
            "sync_many": refused(BrazeAPIError, "before triggering"),
        },
    ),
    Fault(
        "Braze's clock 1 h ahead",
        _skewed(+3600.0),
        {
            "trigger_sync": Expect(),
            "list_integrations": listed(),
            "list_sync_jobs": listed(),
            "sync_and_wait": Expect(),
            "sync_many": Expect(),
        },
    ),
    Fault(
        "Braze's clock 1 h behind",
        _skewed(-3600.0),
        {
            "trigger_sync": Expect(),
            "list_integrations": listed(),
            "list_sync_jobs": listed(),
            "sync_and_wait": Expect(),
            "sync_many": Expect(),
        },
    ),
    Fault(
        "slow responses, just inside the timeout",
        _each(delay=SHORT_HTTP_TIMEOUT * 0.6, times=2),
        {
            "trigger_sync": Expect(note=NOT_RESENT),
            "list_integrations": listed("each page read once"),
            "list_sync_jobs": listed("each page read once"),
            "sync_and_wait": Expect(note=NOT_RESENT),
            "sync_many": Expect(note=NOT_RESENT),
        },
        http_timeout=SHORT_HTTP_TIMEOUT,
        checks=(_not_resent,),
    ),
    Fault(
        "200 whose gzip body is corrupt; the trigger's job did start",
        _raw_2xx(lambda: CORRUPT_GZIP, **{"Content-Encoding": "gzip"}),
        {
            "trigger_sync": refused(
                BrazeTransportError,
                f"{FINAL}: a 2xx that cannot be read is an unknown outcome",
                jobs=1,
            ),
            "list_integrations": listed(RETRIED),
            "list_sync_jobs": listed(RETRIED),
            "sync_and_wait": Expect(note="its job found in the list; not resent"),
            "sync_many": Expect(note="its job found in the list; not resent"),
        },
        checks=(_said("DecodingError"), _resent_after_checking(0)),
    ),
    Fault(
        f"body trickled a byte every {TRICKLE:g} s, past the {SHORT_HTTP_TIMEOUT:g} s an "
        "exchange may take; the trigger's job did start",
        _each(trickle=TRICKLE),
        {
            "trigger_sync": refused(BrazeTransportError, FINAL, jobs=1),
            "list_integrations": listed(f"cut at {SHORT_HTTP_TIMEOUT:g} s; retried"),
            "list_sync_jobs": listed(f"cut at {SHORT_HTTP_TIMEOUT:g} s; retried"),
            "sync_and_wait": Expect(note="its job found in the list; not resent"),
            "sync_many": Expect(note="its job found in the list; not resent"),
        },
        http_timeout=SHORT_HTTP_TIMEOUT,
        checks=(_said("ReadTimeout"), _resent_after_checking(0)),
    ),
    Fault(
        "endless body; the trigger's job did start",
        _each(endless=True),
        {
            "trigger_sync": refused(BrazeTransportError, f"{FINAL}; read up to 1 MiB", jobs=1),
            "list_integrations": listed("read up to 1 MiB; retried"),
            "list_sync_jobs": listed("read up to 1 MiB; retried"),
            "sync_and_wait": Expect(note="its job found in the list; not resent"),
            "sync_many": Expect(note="its job found in the list; not resent"),
        },
        checks=(_said("ResponseTooLarge"), _resent_after_checking(0)),
    ),
    Fault(
        f"200 with a gzip bomb ({BOMB_INFLATED // 2**20} MiB inflated, over the 1 MiB cap); "
        "the trigger's job did start",
        _raw_2xx(_bomb, **{"Content-Encoding": "gzip"}),
        {
            "trigger_sync": refused(BrazeTransportError, f"{FINAL}; inflated up to 1 MiB", jobs=1),
            "list_integrations": listed("inflated up to 1 MiB; retried"),
            "list_sync_jobs": listed("inflated up to 1 MiB; retried"),
            "sync_and_wait": Expect(note="its job found in the list; not resent"),
            "sync_many": Expect(note="its job found in the list; not resent"),
        },
        checks=(_said("ResponseTooLarge"), _resent_after_checking(0)),
    ),
    Fault(
        f"200 with JSON nested {DEEP} deep (the cap is 32)",
        _raw_2xx(_deep_json),
        {
            "trigger_sync": Expect(note="a 2xx is enough"),
            "list_integrations": listed(RETRIED),
            "list_sync_jobs": listed(RETRIED),
            "sync_and_wait": Expect(),
            "sync_many": Expect(),
        },
    ),
    Fault(
        "429 with Retry-After nan, X-RateLimit-Reset 1e999, X-RateLimit-Remaining -0",
        _odd_numbers,
        {
            "trigger_sync": Expect(note="headers ignored; waited the backoff"),
            "list_integrations": listed("headers ignored; waited the backoff"),
            "list_sync_jobs": listed("headers ignored; waited the backoff"),
            "sync_and_wait": Expect(note="headers ignored; waited the backoff"),
            "sync_many": Expect(note="headers ignored; waited the backoff"),
        },
        checks=(_waited_the_backoff,),
    ),
    Fault(
        "429 with X-RateLimit-* in Arabic-Indic digits (UTF-8 on the wire)",
        _foreign_digits,
        {
            "trigger_sync": Expect(note="headers ignored; waited the backoff"),
            "list_integrations": listed("headers ignored; waited the backoff"),
            "list_sync_jobs": listed("headers ignored; waited the backoff"),
            "sync_and_wait": Expect(note="headers ignored; waited the backoff"),
            "sync_many": Expect(note="headers ignored; waited the backoff"),
        },
        checks=(_waited_the_backoff,),
    ),
    Fault(
        f"Date header out of range ({FAR_FUTURE})",
        _each(headers={"Date": FAR_FUTURE}),
        {
            "trigger_sync": Expect(note="ignored"),
            "list_integrations": listed("ignored"),
            "list_sync_jobs": listed("ignored"),
            "sync_and_wait": Expect(note="ignored; its job found"),
            "sync_many": Expect(note="ignored; its job found"),
        },
        checks=(_not_resent,),
    ),
    Fault(
        "Link header with a fresh cursor and the same page each time",
        _fresh_cursor_same_page,
        {
            "trigger_sync": Expect(note="header ignored"),
            "list_integrations": refused(
                BrazeAPIError, "stopped at the page's second copy", jobs=None
            ),
            "list_sync_jobs": refused(
                BrazeAPIError, "stopped at the page's second copy", jobs=None
            ),
            "sync_and_wait": Expect(note="newest first: one page was enough"),
            "sync_many": Expect(note="newest first: one page was enough"),
        },
        checks=(_stopped_at_the_second_copy,),
    ),
]


def cells() -> list[tuple[Fault, str, str]]:
    """Every (fault, operation, client) that applies."""
    return [
        (fault, operation, client)
        for fault in FAULTS
        for operation in OPERATIONS
        if operation in fault.expect
        for client in CLIENTS
        if not (client == "sync" and operation in ASYNC_ONLY)
    ]


# --- running a cell --------------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    """How a cell's call ended: its return value or the exception it raised."""

    outcome: Any
    real_seconds: float
    virtual_seconds: float


def run(scene: Scene, url: str, fault: Fault, operation: str, client: str) -> Ran:
    """Call ``operation`` once through a fresh client of the given kind, as a script would."""
    options: dict[str, Any] = {
        "retry": RETRY,
        "request_timeout": fault.http_timeout,
        "clock": scene.clock,
    }
    target = scene.target.integration_id
    wait = {"poll_interval": POLL, "max_wait": TIMEOUT, "max_poll_interval": MAX_POLL}
    began_real, began = time.monotonic(), scene.clock.monotonic()
    outcome: Any
    try:
        if client == "sync":
            with BrazeCDIClient(scene.fake.api_key, url, **options) as sync_client:
                outcome = {
                    "trigger_sync": lambda: sync_client.trigger_sync(target),
                    "list_integrations": lambda: list(sync_client.list_integrations()),
                    "list_sync_jobs": lambda: list(sync_client.list_sync_jobs(target)),
                    "sync_and_wait": lambda: sync_client.sync_and_wait(target, **wait),
                }[operation]()
        else:
            outcome = asyncio.run(_run_async(scene, url, options, operation, wait))
    except Exception as error:  # the cell checks what it was
        outcome = error
    return Ran(outcome, time.monotonic() - began_real, scene.clock.monotonic() - began)


async def _run_async(
    scene: Scene, url: str, options: dict[str, Any], operation: str, wait: dict[str, float]
) -> Any:
    target = scene.target.integration_id
    async with AsyncBrazeCDIClient(scene.fake.api_key, url, **options) as client:
        if operation == "trigger_sync":
            return await client.trigger_sync(target)
        if operation == "list_integrations":
            return [item async for item in client.list_integrations()]
        if operation == "list_sync_jobs":
            return [item async for item in client.list_sync_jobs(target)]
        if operation == "sync_and_wait":
            return await client.sync_and_wait(target, **wait)
        ids = [integration.integration_id for integration in scene.synced]
        return await client.sync_many(ids, max_concurrency=len(ids), **wait)


# --- checking a cell -------------------------------------------------------------------------


def check(scene: Scene, fault: Fault, operation: str, ran: Ran) -> None:
    """Assert everything a cell promises."""
    expect = fault.expect[operation]
    outcome = ran.outcome
    if operation == "sync_many":
        outcome, *others = outcome
        for result, integration in zip(others, scene.synced[1:], strict=True):
            _check_success(scene, "sync_and_wait", result, integration)
    if expect.error is None:
        _check_success(scene, operation, outcome, scene.target)
    else:
        assert type(outcome) is expect.error, f"expected {expect.error.__name__}, got {outcome!r}"
        if "trigger" in OPERATIONS[operation] and _may_have_started_a_job(scene):
            # The sync may go on at Braze: an orchestrator that retried could start a second.
            assert not outcome.retryable, f"retryable: {outcome!r}"
    assert scene.target.triggered_jobs == (expect.jobs or 0), "jobs the call started"
    assert all(i.triggered_jobs <= 1 for i in scene.fake.integrations.values()), "two syncs"
    _check_deadline(operation, ran)
    for extra in fault.checks:
        extra(scene, operation, ran.outcome)


def _may_have_started_a_job(scene: Scene) -> bool:
    """Whether a trigger of the target started a job, or was answered in a way (a 5xx, no
    answer) that leaves it unknown."""
    return scene.target.triggered_jobs > 0 or any(
        request.kind == "trigger" and (request.status is None or request.status >= 500)
        for request in scene.fake.requests
        if request.integration_id == scene.target.integration_id
    )


def _check_success(
    scene: Scene, operation: str, outcome: Any, integration: FakeIntegration
) -> None:
    assert not isinstance(outcome, BaseException), f"expected success, got {outcome!r}"
    if operation == "trigger_sync":
        assert outcome is None and integration.triggered_jobs == 1
    elif operation == "list_integrations":
        assert all(isinstance(item, Integration) for item in outcome)
        assert [item.integration_id for item in outcome] == list(scene.fake.integrations)
    elif operation == "list_sync_jobs":
        assert all(isinstance(item, SyncJob) for item in outcome)
        now = scene.clock.time()
        listed = [j for j in integration.jobs if now >= j.listed_from and not j.hidden]
        assert sorted(_braze_start(scene, job) for job in outcome) == pytest.approx(
            sorted(job.start for job in listed), abs=1e-3
        )
    else:
        assert isinstance(outcome, SyncResult), f"expected a SyncResult, got {outcome!r}"
        assert outcome.triggered and outcome.job.finished
        [started] = [job for job in integration.jobs if job.triggered]
        assert _braze_start(scene, outcome.job) == pytest.approx(started.start, abs=1e-3), (
            "not its job"
        )


def _braze_start(scene: Scene, job: SyncJob) -> float:
    """A listed job's start, in the fake's own clock (before its skew)."""
    assert job.sync_start_time is not None
    return job.sync_start_time.timestamp() - scene.fake.clock_skew


def _check_deadline(operation: str, ran: Ran) -> None:
    deadline = TIMEOUT if operation in ("sync_and_wait", "sync_many") else RETRY.max_duration
    if operation == "sync_many":
        # The concurrent calls share one virtual clock: one call's pause moves everybody's
        # time, so a call's end may be noticed up to one pause after its deadline.
        deadline += MAX_POLL
    assert ran.virtual_seconds <= deadline, f"took {ran.virtual_seconds:.1f} virtual seconds"
    assert ran.real_seconds <= REAL_LIMIT, f"took {ran.real_seconds:.1f} real seconds"


# --- the table -------------------------------------------------------------------------------


def table(marks: Mapping[tuple[str, str], str] | None = None) -> str:
    """The matrix as a Markdown table of expected outcomes; ``marks`` are appended to cells."""
    marks = marks or {}
    header = ["fault", *(f"`{operation}`" for operation in OPERATIONS)]
    rows = [header, ["---"] * len(header)]
    for fault in FAULTS:
        row = [fault.name]
        for operation in OPERATIONS:
            expect = fault.expect.get(operation)
            cell = "n/a" if expect is None else str(expect)
            row.append(cell + marks.get((fault.name, operation), ""))
        rows.append(row)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def documented_table() -> str:
    """The table as ``docs/reliability.md`` holds it."""
    text = DOCS.read_text()
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def regenerate() -> None:
    text = DOCS.read_text()
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    DOCS.write_text(f"{before}{BEGIN}\n{table()}\n{END}{after}")


if __name__ == "__main__":
    regenerate()
    print(f"wrote the fault matrix into {DOCS}", file=sys.stderr)
