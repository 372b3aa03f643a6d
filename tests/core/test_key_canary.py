"""The canary: a server echoes the API key into every header and body field the client reads,
and the key appears in 0 bytes of what the client produces -- errors (their causes, contexts
and tracebacks with frame locals), log records of every logger at DEBUG, results and reprs.

Nor does any 8-character piece of it: redacting after cutting a message would leave 28 of 30.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import socket
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import pytest

import braze_cdi
from braze_cdi import (
    AsyncBrazeCDIClient,
    BrazeCDIClient,
    BrazeCDIError,
    BrazeConfigError,
    RetryPolicy,
)
from braze_cdi.testing import FakeBraze, FakeClock

PACKAGE = str(Path(braze_cdi.__file__).parent)
KEY = "sk-live-0123456789abcdef0123456789abcdef"
PIECES = {KEY[i : i + 8].lower() for i in range(len(KEY) - 7)}


def leaks(text: str) -> list[str]:
    """Every 8-character piece of the key in ``text``, in any case."""
    lowered = text.lower()
    return sorted(piece for piece in PIECES if piece in lowered)


def test_the_canary_finds_a_planted_key() -> None:
    assert leaks(f"... {KEY[5:13].upper()} ...") == [KEY[5:13].lower()]
    assert leaks("nothing here") == []


# What a hostile server echoes: every header the client reads, and every field of its JSON.
ECHO_HEADERS = {
    "X-Echo": f"Bearer {KEY}",
    "Link": f'<https://x/{KEY}?cursor={KEY}>; rel="prev", <junk {KEY}>',
    "X-RateLimit-Limit": KEY,
    "X-RateLimit-Remaining": KEY,
    "X-RateLimit-Reset": KEY,
    "Retry-After": KEY,
    "Date": KEY,
    "Content-Type": f"application/json; charset={KEY}",
}
CUT_POINT = "x" * 290  # messages are cut at 300 characters: the key straddles the cut


def _echoing_item(**fields: Any) -> dict[str, Any]:
    return {KEY: KEY, "echo": [KEY, {"deep": KEY.upper()}], **fields}


INTEGRATION = _echoing_item(
    integration_id="a1b2c3",
    integration_name=KEY,
    integration_type=KEY,
    integration_status=KEY,
    app_group_id=KEY,
    contact_emails=[KEY],
    warehouse_type=KEY,
    last_job_status=KEY,
)
JOB = _echoing_item(
    job_status=KEY, sync_start_time="2026-01-01T00:00:00Z", rows_synced=1, rows_failed_with_errors=0
)


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return {"results": [item], "message": f"{CUT_POINT}{KEY}", "errors": [KEY]}


def _scenarios(fake: FakeBraze) -> dict[str, Callable[[Any], Any]]:
    users = fake.add_integration(name="users", duration=1e6)

    def fault(endpoint: str, then: Callable[[Any], Any], **shape: Any) -> Callable[[Any], Any]:
        def run(client: Any) -> Any:
            headers = {**ECHO_HEADERS, **shape.pop("headers", {})}
            fake.inject(endpoint, headers=headers, times=50, **shape)
            return then(client)

        return run

    listing = lambda c: c.list_integrations()  # noqa: E731
    jobs = lambda c: c.list_sync_jobs(users.integration_id)  # noqa: E731
    trigger = lambda c: c.trigger_sync(users.integration_id)  # noqa: E731
    sync = lambda c: c.sync_and_wait(users.integration_id, max_wait=5, poll_interval=1)  # noqa: E731
    html = f"<title>{CUT_POINT}{KEY}</title><h1>{KEY}</h1>"
    return {
        "page of echoes": fault("list", listing, status=200, body=_page(INTEGRATION)),
        "jobs of echoes": fault("status", jobs, status=200, body=_page(JOB)),
        "wait on an echoed status": fault("status", sync, status=200, body=_page(JOB)),
        "next cursor is the key": fault(
            "list",
            listing,
            status=200,
            body=_page(INTEGRATION),
            headers={**ECHO_HEADERS, "Link": f"</cdi/integrations?cursor={KEY}>; rel=next"},
        ),
        "500 past the cut": fault("trigger", trigger, status=500, body=_page(INTEGRATION)),
        "401": fault("list", listing, status=401, body={"message": f"Invalid API key {KEY}"}),
        "403": fault("trigger", trigger, status=403, body={"error": KEY, "detail": KEY}),
        "429": fault("list", listing, status=429, body={"message": f"{CUT_POINT}{KEY}"}),
        "html 502": fault("trigger", trigger, status=502, body=html),
        "plain text 400": fault("status", jobs, status=400, body=f"{CUT_POINT}{KEY.upper()}"),
        "json string 404": fault("trigger", trigger, status=404, body=f'"{KEY}"'),
        "dropped": fault("list", listing, drop=True),
    }


SCENARIOS = list(_scenarios(FakeBraze()))


def _everything_about(outcome: Any) -> list[str]:
    """Every text a user, a log or a crash report can get from a call's outcome."""
    texts = [str(outcome), repr(outcome)]
    if isinstance(outcome, BaseException):
        texts += [repr(vars(outcome)), str(pickle.loads(pickle.dumps(outcome)))]
        texts += traceback.TracebackException(
            type(outcome), outcome, _from_the_client(outcome.__traceback__), capture_locals=True
        ).format(chain=True)
        chained = outcome.__cause__ or outcome.__context__
        while chained is not None:  # formatted above too, unless suppressed: read each anyway
            texts += [repr(chained), *traceback.format_exception(chained)]
            chained = chained.__cause__ or chained.__context__
    elif isinstance(outcome, list):
        texts += [item.model_dump_json() for item in outcome]
    return texts


def _from_the_client(tb: TracebackType | None) -> TracebackType | None:
    """The traceback from the first frame of braze_cdi on: the test's own frames hold the
    key, as a user's would."""
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith(PACKAGE):
        tb = tb.tb_next
    return tb


def _call(mode: str, url: str, clock: FakeClock, run: Callable[[Any], Any]) -> Any:
    options: dict[str, Any] = {
        "clock": clock,
        "request_timeout": 2.0,
        "retry": RetryPolicy(max_attempts=2, initial_delay=0.01, jitter=False),
    }
    if mode == "sync":
        with BrazeCDIClient(KEY, url, **options) as client:
            try:
                outcome = run(client)
                return list(outcome) if hasattr(outcome, "__iter__") else outcome
            except BrazeCDIError as error:
                return error

    async def go() -> Any:
        async with AsyncBrazeCDIClient(KEY, url, **options) as client:
            try:
                outcome = run(client)
                if hasattr(outcome, "__aiter__"):
                    return [item async for item in outcome]
                return await outcome
            except BrazeCDIError as error:
                return error

    return asyncio.run(go())


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_an_echoing_server_gets_the_key_into_nothing(
    scenario: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    fake = FakeBraze(api_key=KEY, clock=clock)
    run = _scenarios(fake)[scenario]
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx's, httpcore's

    with fake.serve() as url:
        outcome = _call(mode, url, clock, run)

    texts = _everything_about(outcome)
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.__dict__) for record in caplog.records]
    assert caplog.records, "nothing was logged: the check would be empty"
    assert [piece for text in texts for piece in leaks(text)] == []


# --- A status line and headers no HTTP library would build: a raw socket -----------------


@contextmanager
def _raw_server(answer: bytes) -> Iterator[str]:
    """A loopback server that answers every request with ``answer`` as it is."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                received = b""
                while b"\r\n\r\n" not in received:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    received += chunk
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


RAW_ANSWERS = {
    "reason phrase": f"HTTP/1.1 503 {KEY}\r\nContent-Length: 0\r\n\r\n",
    "header values": (
        f"HTTP/1.1 200 OK\r\nX-Echo: {KEY}\r\nLink: <{KEY}>; rel=next\r\n"
        f"Content-Length: 2\r\n\r\n{{}}"
    ),
    "malformed header": f"HTTP/1.1 200 OK\r\n{KEY} no colon\r\nContent-Length: 0\r\n\r\n",
    "malformed status line": f"HTTP/1.1 2{KEY}\r\n\r\n",
    "truncated body": f"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{{{KEY}",
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("shape", list(RAW_ANSWERS))
def test_a_raw_hostile_answer_gets_the_key_into_nothing(
    shape: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    with _raw_server(RAW_ANSWERS[shape].encode()) as url:
        outcome = _call(mode, url, FakeClock(), lambda c: c.list_integrations())

    assert isinstance(outcome, BrazeCDIError)
    texts = _everything_about(outcome)
    texts += [record.getMessage() for record in caplog.records]
    assert [piece for text in texts for piece in leaks(text)] == []


# --- Constructors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: BrazeCDIClient(KEY, "US-09"),
        lambda: BrazeCDIClient(KEY, "https://rest.iad-01.braze.com", request_timeout=-1),
        lambda: BrazeCDIClient(KEY, "http://example.com"),
        lambda: BrazeCDIClient(f"{KEY}\n", "US-01"),
        lambda: BrazeCDIClient(KEY[:8], "US-01"),
        lambda: BrazeCDIClient(KEY, "US-01", retry="patient"),  # type: ignore[arg-type]
    ],
    ids=["instance", "timeout", "plain http", "newline", "too short", "retry"],
)
def test_a_failing_constructor_keeps_the_key_out_of_its_frames(build: Callable[[], Any]) -> None:
    with pytest.raises(BrazeCDIError) as raised:
        build()

    assert [piece for text in _everything_about(raised.value) for piece in leaks(text)] == []


def test_from_env_keeps_the_key_out_of_its_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRAZE_API_KEY", KEY)
    monkeypatch.setenv("BRAZE_REST_ENDPOINT", "US-09")

    with pytest.raises(BrazeConfigError) as raised:
        BrazeCDIClient.from_env()

    assert [piece for text in _everything_about(raised.value) for piece in leaks(text)] == []
    assert os.environ["BRAZE_API_KEY"] == KEY  # nothing of ours changed the environment


def test_a_key_too_short_to_redact_is_refused_up_front() -> None:
    with pytest.raises(BrazeConfigError, match="shorter than 16 characters"):
        BrazeCDIClient("e", "US-01")


def test_the_repr_of_a_half_built_client_works() -> None:
    client = BrazeCDIClient.__new__(BrazeCDIClient)

    assert repr(client) == "BrazeCDIClient(rest_endpoint=None)"


def test_a_key_echoed_as_the_next_cursor_is_redacted_from_the_logged_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = "Kf7-0UBZKCMDIjp{Pw.S4-beDuVtgjuG+xIa"  # httpx sends "{" as %7B in the query
    fake = FakeBraze(api_key=key)
    fake.add_integration(name="users")
    fake.inject("list", headers={"Link": f'</cdi/integrations?cursor={quote(key)}>; rel="next"'})
    caplog.set_level(logging.DEBUG)

    with fake.serve() as url, BrazeCDIClient(key, url) as client, pytest.raises(BrazeCDIError):
        list(client.list_integrations())  # the fake refuses the cursor it never gave

    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "cursor=**********" in logged
    assert key[:16].lower() not in logged.lower() and key[-16:].lower() not in logged.lower()
