"""FakeBraze's wire faults (``raw``, ``trickle``, ``trickle_headers``, ``endless``) reach a
client as bytes on the wire: over loopback HTTP and through the transport, sync and async.

Read with plain httpx, not the braze_cdi clients: these tests are about the fake. Every loop
over a body is bounded, so that a fault that misbehaves fails a test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from braze_cdi.testing import FakeBraze, FakeClock

CORRUPT_GZIP = b"not gzip at all"
MB = 1 << 20
LIST = "/cdi/integrations"


def _auth(fake: FakeBraze) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.api_key}"}


def _read(chunks: Iterator[bytes], limit: int) -> bytes:
    """The first ``limit`` bytes or fewer: never more, however long the body is."""
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) >= limit:
            break
    return bytes(data[:limit])


def _count(chunks: Iterator[bytes], limit: int) -> tuple[int, bytes]:
    """How many bytes came (stopping past ``limit``), and the first 64 KiB of them."""
    size, head = 0, b""
    for chunk in chunks:
        if len(head) < 65536:
            head += chunk[: 65536 - len(head)]
        size += len(chunk)
        if size > limit:
            break
    return size, head


@pytest.fixture
def served(fake: FakeBraze, url: str) -> Iterator[tuple[str, httpx.Client]]:
    with httpx.Client(base_url=url, headers=_auth(fake), timeout=10.0) as http:
        yield url, http


def _handlers() -> set[threading.Thread]:
    """The threads of the loopback servers, one per connection."""
    return {t for t in threading.enumerate() if "process_request_thread" in t.name}


def _ended(threads: set[threading.Thread]) -> Callable[[], bool]:
    return lambda: not any(thread.is_alive() for thread in threads)


def _wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "it never happened"
        time.sleep(0.01)


def _still_serves(http: httpx.Client) -> None:
    response = http.get(LIST)
    assert response.status_code == 200
    assert response.json()["message"] == "success"


# --- raw -------------------------------------------------------------------------------------


def test_raw_corrupt_gzip_goes_out_undecoded_over_http(
    fake: FakeBraze, served: tuple[str, httpx.Client]
) -> None:
    _, http = served
    fake.inject(
        "list", status=200, body=CORRUPT_GZIP, headers={"Content-Encoding": "gzip"}, raw=True
    )

    with http.stream("GET", LIST) as response:
        raw = _read(response.iter_raw(), MB)

    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-length"] == str(len(CORRUPT_GZIP))
    assert "content-type" not in response.headers and "date" not in response.headers
    assert raw == CORRUPT_GZIP
    assert fake.requests[-1].status == 200
    _still_serves(http)


def test_raw_corrupt_gzip_fails_to_decode_where_httpx_decodes(
    fake: FakeBraze, served: tuple[str, httpx.Client]
) -> None:
    _, http = served
    fake.inject("list", body=CORRUPT_GZIP, headers={"Content-Encoding": "gzip"}, raw=True)
    with pytest.raises(httpx.DecodingError):
        http.get(LIST)
    _still_serves(http)


def test_raw_keeps_the_content_encoding_of_the_real_answer(
    fake: FakeBraze, served: tuple[str, httpx.Client]
) -> None:
    _, http = served
    fake.add_integration(name="users")
    fake.inject("list", headers={"Content-Encoding": "gzip"}, raw=True)

    with http.stream("GET", LIST) as response:
        raw = _read(response.iter_raw(), MB)

    assert response.headers["content-encoding"] == "gzip"  # a label the body does not match
    assert response.headers["content-type"] == "application/json"  # the real answer's
    assert json.loads(raw)["results"][0]["integration_name"] == "users"


def test_without_raw_a_content_encoding_header_is_not_sent(
    fake: FakeBraze, served: tuple[str, httpx.Client]
) -> None:
    _, http = served
    fake.inject("list", headers={"Content-Encoding": "gzip", "X-Extra": "yes"})
    response = http.get(LIST)
    assert "content-encoding" not in response.headers
    assert response.headers["x-extra"] == "yes"
    assert response.json()["message"] == "success"


def test_raw_framing_of_its_own_goes_out_as_given(
    fake: FakeBraze, served: tuple[str, httpx.Client]
) -> None:
    _, http = served
    fake.inject("list", body=b"short", headers={"Content-Length": "1000"}, raw=True)
    with pytest.raises(httpx.RemoteProtocolError):  # the body ends before its length
        http.get(LIST)
    _still_serves(http)


def test_raw_trigger_takes_effect_and_answers_corrupt_gzip(
    fake: FakeBraze, served: tuple[str, httpx.Client]
) -> None:
    _, http = served
    users = fake.add_integration(name="users")
    body = b"\x1f\x8b corrupt"
    fake.inject(
        "trigger",
        status=202,
        body=body,
        headers={"Content-Encoding": "gzip"},
        raw=True,
        takes_effect=True,
    )

    with http.stream("POST", f"{LIST}/{users.integration_id}/sync") as response:
        raw = _read(response.iter_raw(), MB)

    assert (response.status_code, response.headers["content-encoding"], raw) == (202, "gzip", body)
    assert users.triggered_jobs == 1
    assert fake.requests[-1].status == 202


def test_a_raw_body_is_bytes_or_text() -> None:
    fake = FakeBraze()
    with pytest.raises(TypeError):
        fake.inject("list", body={"message": "success"}, raw=True)
    with pytest.raises(ValueError, match="trickle"):
        fake.inject("list", trickle=-1.0)


@pytest.mark.parametrize("body", [CORRUPT_GZIP, CORRUPT_GZIP.decode()], ids=["bytes", "str"])
def test_raw_through_the_transport(body: bytes | str) -> None:
    fake = FakeBraze()
    fake.inject("list", body=body, headers={"Content-Encoding": "gzip"}, raw=True, times=2)
    with httpx.Client(transport=fake, base_url="https://fake.test") as http:
        with http.stream("GET", LIST) as response:
            raw = _read(response.iter_raw(), MB)
        with pytest.raises(httpx.DecodingError):
            http.get(LIST)
    assert raw == CORRUPT_GZIP
    assert response.headers["content-encoding"] == "gzip"
    assert "content-type" not in response.headers


def test_raw_through_the_async_transport() -> None:
    fake = FakeBraze()
    fake.inject("list", body=CORRUPT_GZIP, headers={"Content-Encoding": "gzip"}, raw=True)

    async def read() -> tuple[httpx.Response, bytes]:
        async with (
            httpx.AsyncClient(transport=fake, base_url="https://fake.test") as http,
            http.stream("GET", LIST) as response,
        ):
            return response, b"".join([chunk async for chunk in response.aiter_raw()])

    response, raw = asyncio.run(read())
    assert (raw, response.headers["content-encoding"]) == (CORRUPT_GZIP, "gzip")


def test_plain_answers_through_the_transport_are_read_at_once_or_streamed() -> None:
    fake = FakeBraze()
    fake.add_integration(name="users")
    with httpx.Client(transport=fake, base_url="https://fake.test", headers=_auth(fake)) as http:
        with http.stream("GET", LIST) as response:
            raw = _read(response.iter_bytes(), MB)
        at_once = http.get(LIST)
    assert json.loads(raw)["results"][0]["integration_name"] == "users"
    assert response.headers["content-length"] == str(len(raw))
    assert at_once.json()["results"][0]["integration_name"] == "users"

    async def read() -> bytes:
        async with (
            httpx.AsyncClient(transport=fake, base_url="https://fake.test") as http,
            http.stream("GET", LIST, headers=_auth(fake)) as response,
        ):
            return b"".join([chunk async for chunk in response.aiter_bytes()])

    assert json.loads(asyncio.run(read()))["results"][0]["integration_name"] == "users"


# --- trickle ---------------------------------------------------------------------------------


def test_trickle_over_http_sends_one_byte_at_a_time(
    fake: FakeBraze, served: tuple[str, httpx.Client]
) -> None:
    _, http = served
    fake.inject("list", status=200, body=b"12345", raw=True, trickle=0.05)

    started = time.monotonic()
    with http.stream("GET", LIST) as response:
        raw = _read(response.iter_raw(), MB)
    took = time.monotonic() - started

    assert raw == b"12345"
    assert response.headers["content-length"] == "5"
    assert took >= 5 * 0.05 * 0.95
    _still_serves(http)


def test_trickle_headers_over_http_is_a_slowloris(
    fake: FakeBraze, served: tuple[str, httpx.Client]
) -> None:
    _, http = served
    fake.inject("list", status=200, body=b"ok", raw=True, trickle=0.01, trickle_headers=True)
    head = len(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")

    started = time.monotonic()
    with http.stream("GET", LIST) as response:
        headers_took = time.monotonic() - started
        raw = _read(response.iter_raw(), MB)

    assert raw == b"ok"
    assert headers_took >= head * 0.01 * 0.95


def test_a_client_leaving_a_trickle_does_not_hurt_the_server(
    fake: FakeBraze, served: tuple[str, httpx.Client], capfd: pytest.CaptureFixture[str]
) -> None:
    url, http = served
    fake.inject("list", trickle=0.02)  # the real answer, trickled
    before = _handlers()
    with (
        httpx.Client(headers=_auth(fake), timeout=10.0) as other,
        other.stream("GET", url + LIST) as response,
    ):
        chunks = response.iter_raw()  # held: a dropped iterator closes the connection
        assert len(_read(chunks, 3)) == 3
        trickling = _handlers() - before
    assert trickling
    _wait_until(_ended(trickling))  # its next byte met a closed connection
    _still_serves(http)
    assert "Traceback" not in capfd.readouterr().err


def test_trickle_through_the_transport_on_the_fakes_clock() -> None:
    clock = FakeClock()
    fake = FakeBraze(clock=clock)
    fake.inject("list", body=b"12345", raw=True, trickle=0.5, trickle_headers=True)
    began = clock.monotonic()
    with (
        httpx.Client(transport=fake, base_url="https://fake.test") as http,
        http.stream("GET", LIST) as response,
    ):
        assert clock.monotonic() == began  # the headers are not trickled in-process
        chunks = list(response.iter_raw())
    assert chunks == [b"1", b"2", b"3", b"4", b"5"]
    assert clock.monotonic() - began == pytest.approx(2.5)


def test_trickle_through_the_async_transport_on_the_fakes_clock() -> None:
    clock = FakeClock()
    fake = FakeBraze(clock=clock)
    fake.inject("list", body=b"12345", raw=True, trickle=0.5)

    async def read() -> list[bytes]:
        async with (
            httpx.AsyncClient(transport=fake, base_url="https://fake.test") as http,
            http.stream("GET", LIST) as response,
        ):
            return [chunk async for chunk in response.aiter_raw()]

    began = clock.monotonic()
    assert asyncio.run(read()) == [b"1", b"2", b"3", b"4", b"5"]
    assert clock.monotonic() - began == pytest.approx(2.5)


def test_trickle_through_the_transport_in_real_time() -> None:
    fake = FakeBraze()
    fake.inject("list", body=b"12345", raw=True, trickle=0.05)
    started = time.monotonic()
    with httpx.Client(transport=fake, base_url="https://fake.test") as http:
        assert http.get(LIST).content == b"12345"
    assert time.monotonic() - started >= 5 * 0.05 * 0.95


def test_a_trickle_slower_than_the_read_timeout_times_out_in_process() -> None:
    clock = FakeClock()
    fake = FakeBraze(clock=clock)
    fake.inject("list", body=b"12345", raw=True, trickle=10.0)
    began = clock.monotonic()
    with (
        httpx.Client(transport=fake, base_url="https://fake.test", timeout=5.0) as http,
        pytest.raises(httpx.ReadTimeout),
    ):
        http.get(LIST)
    assert clock.monotonic() - began == pytest.approx(5.0)


# --- endless ---------------------------------------------------------------------------------


def test_endless_over_http_streams_the_real_page_then_filler(
    fake: FakeBraze, served: tuple[str, httpx.Client], capfd: pytest.CaptureFixture[str]
) -> None:
    url, http = served
    users = fake.add_integration(name="users", history=2)
    path = f"{LIST}/{users.integration_id}/job_sync_status"
    page = http.get(path).content  # the real answer, for comparison
    fake.inject("status", endless=True)
    before = _handlers()

    with (
        httpx.Client(base_url=url, headers=_auth(fake), timeout=10.0) as other,
        other.stream("GET", path) as response,
    ):
        chunks = response.iter_raw()  # held: a dropped iterator closes the connection
        size, head = _count(chunks, 3 * MB)
        streaming = _handlers() - before
    assert streaming
    _wait_until(_ended(streaming))  # the server saw the client leave, and stopped

    assert size > 3 * MB
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers
    assert head.startswith(page)
    assert head[len(page) :] == b"x" * (len(head) - len(page))
    assert fake.requests[-1].status == 200
    _still_serves(http)  # the client closed mid-stream: the server goes on
    assert "Traceback" not in capfd.readouterr().err


def test_endless_replacing_the_answer_over_http(
    fake: FakeBraze, served: tuple[str, httpx.Client]
) -> None:
    _, http = served
    fake.inject("list", status=200, body="[", raw=True, endless=True)
    with http.stream("GET", LIST) as response:
        head = _read(response.iter_raw(), 4)
    assert head == b"[xxx"
    _still_serves(http)


def test_endless_trickle_over_http_stops_when_the_client_leaves(
    fake: FakeBraze, served: tuple[str, httpx.Client], capfd: pytest.CaptureFixture[str]
) -> None:
    url, http = served
    fake.inject("list", body=b"[", raw=True, endless=True, trickle=0.01)
    before = _handlers()
    with (
        httpx.Client(headers=_auth(fake), timeout=10.0) as other,
        other.stream("GET", url + LIST) as response,
    ):
        chunks = response.iter_raw()  # held: a dropped iterator closes the connection
        assert _read(chunks, 5) == b"[xxxx"
        streaming = _handlers() - before
    assert streaming
    _wait_until(_ended(streaming))
    _still_serves(http)
    assert "Traceback" not in capfd.readouterr().err


def test_endless_over_async_http(fake: FakeBraze, url: str) -> None:
    fake.inject("list", endless=True)

    async def read() -> int:
        async with (
            httpx.AsyncClient(base_url=url, headers=_auth(fake), timeout=10.0) as http,
            http.stream("GET", LIST) as response,
        ):
            size = 0
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > 2 * MB:
                    break
            return size

    assert asyncio.run(read()) > 2 * MB


def test_an_endless_answer_ends_when_the_server_stops() -> None:
    fake = FakeBraze()
    fake.inject("list", body=b"[", raw=True, endless=True, trickle=0.001)
    with ExitStack() as serving, httpx.Client(headers=_auth(fake), timeout=10.0) as http:
        url = serving.enter_context(fake.serve())
        with http.stream("GET", url + LIST) as response:
            chunks = response.iter_raw()
            assert _read(chunks, 1) == b"["
            serving.close()  # the server stops while the answer is still going out
            with pytest.raises(httpx.RemoteProtocolError):  # what was sent, then the end
                _count(chunks, 10 * MB)


def test_endless_through_the_transport() -> None:
    fake = FakeBraze()
    fake.add_integration(name="users")
    fake.inject("list", endless=True)
    with (
        httpx.Client(transport=fake, base_url="https://fake.test", headers=_auth(fake)) as http,
        http.stream("GET", LIST) as response,
    ):
        size, head = _count(response.iter_raw(), 5 * MB)
    assert size > 5 * MB
    assert head.startswith(b'{"results": [{')
    assert head.endswith(b"x" * 1000)
    assert response.headers["transfer-encoding"] == "chunked"


def test_endless_trickle_through_the_async_transport_on_the_fakes_clock() -> None:
    clock = FakeClock()
    fake = FakeBraze(clock=clock)
    fake.inject("list", status=200, body=b"[", raw=True, endless=True, trickle=0.25)

    async def read() -> bytes:
        async with (
            httpx.AsyncClient(transport=fake, base_url="https://fake.test") as http,
            http.stream("GET", LIST) as response,
        ):
            return bytes(await _aread(response, 1000))

    began = clock.monotonic()
    assert asyncio.run(read()) == b"[" + b"x" * 999
    assert clock.monotonic() - began == pytest.approx(1000 * 0.25)


async def _aread(response: httpx.Response, limit: int) -> bytearray:
    data = bytearray()
    async for chunk in response.aiter_raw():
        data += chunk
        if len(data) >= limit:
            break
    return data
