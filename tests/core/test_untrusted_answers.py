"""Every answer is hostile until proven otherwise: what a broken proxy or an attacker sends ends
as a typed error, within the call's deadline, in bounded memory, and without a second sync."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import tracemalloc
from typing import Any

import httpx
import pytest

from braze_cdi import (
    AsyncBrazeCDIClient,
    BrazeAPIError,
    BrazeCDIClient,
    BrazeCDIError,
    BrazeConfigError,
    BrazeTransportError,
    RetryPolicy,
    SyncHandle,
    SyncTimeout,
)
from braze_cdi.testing import FakeBraze
from tests.core.conftest import Api

#: One attempt per call, so a test sees the first answer's error.
ONCE = RetryPolicy(max_attempts=1)


# --- 1. An undecodable answer to a trigger follows the unknown-outcome rule ----------------


def test_trigger_with_a_corrupt_gzip_body_starts_exactly_one_sync(
    api: Api, fake: FakeBraze
) -> None:
    users = fake.add_integration(name="users", duration=0.1)
    fake.inject(
        "trigger",
        status=202,
        body=b"\x1f\x8b\x08\x00 this is not gzip",
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        raw=True,
        takes_effect=True,
    )

    result = api.call("sync_and_wait", users.integration_id, poll_interval=0.05)

    assert result.triggered
    assert users.triggered_jobs == 1
    assert fake.count("trigger") == 1


def test_bare_trigger_with_a_corrupt_body_is_typed_and_not_retryable(
    api: Api, fake: FakeBraze
) -> None:
    users = fake.add_integration(name="users")
    fake.inject(
        "trigger",
        status=202,
        body=b"\x1f\x8b\x08\x00 corrupt",
        headers={"Content-Encoding": "gzip"},
        raw=True,
        takes_effect=True,
    )

    with pytest.raises(BrazeTransportError) as raised:
        api.call("trigger_sync", users.integration_id)

    assert "DecodingError" in raised.value.message
    assert raised.value.retryable is False  # the trigger may have started a job
    assert users.triggered_jobs == 1


def test_a_well_formed_gzip_answer_is_read(api: Api, fake: FakeBraze) -> None:
    fake.add_integration(name="users")
    page = {"results": [{"integration_id": "abc", "integration_name": "zipped"}]}
    fake.inject(
        "list",
        status=200,
        body=gzip.compress(json.dumps(page).encode()),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        raw=True,
    )

    [integration] = api.items("list_integrations")

    assert integration.integration_name == "zipped"


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip, gzip", "compress"])
def test_a_content_coding_not_asked_for_is_a_typed_error(
    api: Api, fake: FakeBraze, coding: str
) -> None:
    fake.inject("list", status=200, body=b"{}", headers={"Content-Encoding": coding}, raw=True)
    api.options["retry"] = ONCE

    with pytest.raises(BrazeTransportError, match="content coding"):
        api.items("list_integrations")


# --- 5. Each exchange is bounded as a whole: time and size ----------------------------------


def test_a_trickling_answer_ends_within_the_retry_deadline(api: Api, fake: FakeBraze) -> None:
    fake.inject("list", trickle=0.2, times=100)  # the real page, a byte every 0.2 s
    api.options["retry"] = RetryPolicy(max_attempts=3, initial_delay=0.0, max_duration=1.0)

    began = time.monotonic()
    with pytest.raises(BrazeTransportError) as raised:
        api.items("list_integrations")
    took = time.monotonic() - began

    assert "ReadTimeout" in raised.value.message
    assert took < 1.0 + 5.0  # the deadline, with slack for a loaded machine: not 60 bytes x 0.2 s


def test_trickled_headers_end_within_the_exchange_timeout(api: Api, fake: FakeBraze) -> None:
    fake.inject("list", trickle=0.1, trickle_headers=True, times=100)
    api.options.update(retry=ONCE, request_timeout=0.5)

    began = time.monotonic()
    with pytest.raises(BrazeTransportError, match="Timeout"):
        api.items("list_integrations")

    assert time.monotonic() - began < 0.5 + 5.0  # not the ~20 s the headers would take


def test_a_sync_and_wait_never_outlives_its_timeout_on_a_trickling_poll(
    api: Api, fake: FakeBraze
) -> None:
    users = fake.add_integration(name="users", duration=60)
    fake.inject("status", trickle=0.5, times=1000)

    began = time.monotonic()
    with pytest.raises(SyncTimeout, match="before its trigger was sent"):
        api.call("sync_and_wait", users.integration_id, poll_interval=0.1, max_wait=1.0)

    assert time.monotonic() - began < 1.0 + 5.0
    assert users.triggered_jobs == 0  # the look before the trigger ran out of time


def test_a_wait_never_outlives_its_timeout_on_trickling_polls(api: Api, fake: FakeBraze) -> None:
    users = fake.add_integration(name="users", duration=60)
    handle = api.call("start_sync", users.integration_id)
    fake.inject("status", trickle=0.5, times=1000)

    began = time.monotonic()
    with pytest.raises(SyncTimeout, match="the last poll failed") as raised:
        api.call("wait_for_sync", handle, poll_interval=0.1, max_wait=1.0)

    assert time.monotonic() - began < 1.0 + 5.0
    assert raised.value.handle == handle  # the sync goes on: wait for it again later
    assert users.triggered_jobs == 1


def _peak_memory_listing(api: Api) -> tuple[BrazeCDIError, int]:
    """The error listing integrations ends with, and the most memory it took meanwhile."""
    api.options["retry"] = ONCE
    tracemalloc.start()
    try:
        with pytest.raises(BrazeTransportError) as raised:
            api.items("list_integrations")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return raised.value, peak


def test_an_endless_answer_is_refused_past_the_body_cap_in_bounded_memory(
    api: Api, fake: FakeBraze
) -> None:
    fake.inject("list", endless=True, times=100)

    error, peak = _peak_memory_listing(api)

    assert "longer than 1,048,576 bytes" in error.message
    assert peak < 16 * 2**20


def test_a_compression_bomb_is_refused_without_inflating_it(api: Api, fake: FakeBraze) -> None:
    bomb = gzip.compress(b"[" + b" " * (200 * 2**20) + b"]")  # 200 MiB inflated, ~200 KiB sent
    fake.inject("list", status=200, body=bomb, headers={"Content-Encoding": "gzip"}, raw=True)

    error, peak = _peak_memory_listing(api)

    assert "longer than 1,048,576 bytes" in error.message
    assert peak < 16 * 2**20


# --- 6. Malformed answers are typed ---------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,  # deeper than any parser's recursion
        b'{"results": [{"integration_id": "a", "x": ' + b"[" * 40 + b"]" * 40 + b"}]}",
        b'{"results": [{"integration_id": "a", "rows": 1' + b"1" * 5000 + b"}]}",
        b'{"results": "not a list"}',
        b'{"results": [42]}',
        b"\xff\xfe not utf-8",
        b"",
    ],
    ids=[
        "deep",
        "nested-item",
        "huge-int",
        "results-not-list",
        "item-not-object",
        "bytes",
        "empty",
    ],
)
def test_a_malformed_page_is_a_typed_retryable_error(
    api: Api, fake: FakeBraze, body: bytes
) -> None:
    fake.inject(
        "list", status=200, body=body, headers={"Content-Type": "application/json"}, raw=True
    )
    api.options["retry"] = ONCE

    with pytest.raises(BrazeAPIError, match="not the documented JSON") as raised:
        api.items("list_integrations")

    assert raised.value.retryable


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "٣"},  # Arabic-Indic three: int() and float() take it
        {"Retry-After": "nan"},
        {"Retry-After": "inf"},
        {"Retry-After": "1e999"},
        {"Retry-After": "-5"},
        {"Retry-After": "Fri, 31 Dec 99999 23:59:59 GMT"},
        {"X-RateLimit-Reset": "²", "Date": "Mon, 01 Jan 2024 00:00:00 GMT"},
        {"X-RateLimit-Reset": "99999999999999999999", "Date": "Mon, 01 Jan 2024 00:00:00 GMT"},
        {"X-RateLimit-Reset": "1704067260", "Date": "Mon, 01 Jan 10000 00:00:00 GMT"},
        {"X-RateLimit-Remaining": "\u0661"},  # Arabic-Indic one
        {"Date": "Tue, 99 Foo 2024 99:99:99 GMT"},
        {"Date": "x" * 10_000},
    ],
)
def test_odd_rate_limit_headers_never_escape_untyped(
    api: Api, fake: FakeBraze, headers: dict[str, str]
) -> None:
    fake.add_integration(name="users")
    fake.inject("list", status=429, body={"message": "API rate limit exceeded"}, headers=headers)
    api.options["retry"] = RetryPolicy(max_attempts=2, initial_delay=0.01, max_duration=5.0)

    began = time.monotonic()
    [integration] = api.items("list_integrations")  # waited at most the window, then read it

    assert integration.integration_name == "users"
    assert time.monotonic() - began < 60 + 5


def test_a_reason_phrase_from_the_server_is_never_quoted(api: Api, fake: FakeBraze) -> None:
    fake.inject("list", status=418, body=b"", raw=True)
    api.options["retry"] = ONCE

    with pytest.raises(BrazeAPIError) as raised:
        api.items("list_integrations")

    assert "418 I'm a teapot" in raised.value.message


# --- 7. Message extraction is linear -------------------------------------------------------


def test_an_adversarial_html_page_yields_a_clipped_message(api: Api, fake: FakeBraze) -> None:
    page = b"<title>" * 150_000 + b"Bad gateway</title>"  # unclosed tags: quadratic for a regex
    fake.inject("list", status=502, body=page, headers={"Content-Type": "text/html"}, raw=True)
    api.options["retry"] = ONCE

    with pytest.raises(BrazeCDIError) as raised:
        api.items("list_integrations")

    assert raised.value.status_code == 502
    assert len(raised.value.message) < 400


# --- 8. Ids that a URL would normalize ------------------------------------------------------


@pytest.mark.parametrize("integration_id", [".", "...", "...."])
def test_an_id_made_only_of_dots_is_refused_before_any_request(
    api: Api, fake: FakeBraze, integration_id: str
) -> None:
    for method in ("trigger_sync", "latest_sync_job", "start_sync", "sync_and_wait"):
        with pytest.raises(BrazeConfigError, match="dots"):
            api.call(method, integration_id)
    assert fake.requests == []


# --- 9. Lists that never end ---------------------------------------------------------------


def _endless_pages(fresh_items: bool) -> httpx.MockTransport:
    served = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal served
        served += 1
        name = f"page-{served}" if fresh_items else "the same page"
        return httpx.Response(
            200,
            json={"results": [{"integration_id": name}], "message": "success"},
            headers={"Link": f'</cdi/integrations?cursor=c{served}>; rel="next"'},
        )

    return httpx.MockTransport(answer)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_fresh_cursor_on_the_same_page_is_a_loop(mode: str) -> None:
    with pytest.raises(BrazeAPIError, match="same next page twice"):
        _list_all(mode, _endless_pages(fresh_items=False))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_list_that_never_ends_stops_at_the_page_cap(mode: str) -> None:
    with pytest.raises(BrazeAPIError, match="past 10,000 pages"):
        _list_all(mode, _endless_pages(fresh_items=True))


def _list_all(mode: str, transport: httpx.MockTransport) -> list[Any]:
    options: dict[str, Any] = {"transport": transport, "rate_limits": None}
    if mode == "sync":
        with BrazeCDIClient("a-rest-api-key-for-loops", "US-01", **options) as client:
            return list(client.list_integrations())

    async def go() -> list[Any]:
        async with AsyncBrazeCDIClient("a-rest-api-key-for-loops", "US-01", **options) as client:
            return [item async for item in client.list_integrations()]

    return asyncio.run(go())


# --- 10. The async client across event loops, and closed during a wait -----------------------


def test_the_async_client_works_from_a_second_event_loop(fake: FakeBraze, url: str) -> None:
    fake.add_integration(name="users")
    client = AsyncBrazeCDIClient(fake.api_key, url)

    async def names() -> list[str | None]:
        return [i.integration_name async for i in client.list_integrations()]

    assert asyncio.run(names()) == ["users"]
    assert asyncio.run(names()) == ["users"]  # a new loop: the first loop's connections are gone
    asyncio.run(client.aclose())


def test_closing_the_async_client_during_a_wait_ends_it_typed_with_the_handle(
    fake: FakeBraze, url: str
) -> None:
    users = fake.add_integration(name="users", duration=60)

    async def close_during_wait() -> BaseException:
        client = AsyncBrazeCDIClient(fake.api_key, url)
        wait = asyncio.create_task(client.sync_and_wait(users.integration_id, poll_interval=0.05))
        while fake.count("status") < 3:
            await asyncio.sleep(0.01)
        await client.aclose()
        with pytest.raises(BrazeCDIError) as raised:
            await wait
        return raised.value

    error = asyncio.run(close_during_wait())

    assert isinstance(error, BrazeConfigError)
    assert "closed" in error.message
    assert isinstance(error.handle, SyncHandle) and error.handle.triggered
    assert users.triggered_jobs == 1


def test_a_closed_sync_client_raises_a_typed_error(fake: FakeBraze, url: str) -> None:
    client = BrazeCDIClient(fake.api_key, url)
    client.close()

    with pytest.raises(BrazeConfigError, match="closed"):
        list(client.list_integrations())
    assert fake.requests == []


@pytest.mark.parametrize(
    ("link", "problem"),
    [
        ('<http://[::1/cdi/integrations?cursor=a>; rel="next"', "not a URL"),
        ('</cdi/integrations?page=2>; rel="next"', "without a cursor"),
        ("<" + "x" * 10_000 + '>; rel="next"', "longer than"),
    ],
)
def test_a_link_header_that_names_no_usable_next_page_is_typed(
    api: Api, fake: FakeBraze, link: str, problem: str
) -> None:
    fake.add_integration(name="users")
    fake.inject("list", headers={"Link": link})

    with pytest.raises(BrazeAPIError, match=problem) as raised:
        api.items("list_integrations")

    assert link not in str(raised.value)


def test_header_values_that_are_not_ascii_are_read_as_absent(api: Api, fake: FakeBraze) -> None:
    users = fake.add_integration(name="users", duration=0.0)
    odd = {"X-RateLimit-Remaining": "\u0661", "Retry-After": "\u0663", "X-Echo": "caf\u00e9"}
    fake.inject("trigger", status=429, body={"message": "API rate limit exceeded"}, headers=odd)

    api.call("trigger_sync", users.integration_id)  # waited the backoff, then triggered

    assert users.triggered_jobs == 1
    assert fake.count("trigger") == 2
