"""FakeBraze over real HTTP on loopback, with the standard library's threaded server."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from ._fake import FakeBraze


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Braze serves
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake.connections += 1

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host, port = str(self.server.server_address[0]), self.server.server_address[1]
        request = httpx.Request(
            self.command,
            f"http://{host}:{port}{self.path}",
            headers=self.headers.items(),
            content=body,
        )
        reply = self.server.fake.reply(request)
        if reply.delay:
            time.sleep(reply.delay)
        response = reply.response
        if response is None:  # a dropped connection: no answer at all
            self.close_connection = True
            return
        status = f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n".encode()
        head = status + b"".join(k + b": " + v + b"\r\n" for k, v in reply.wire_headers())
        head += b"\r\n"
        closing = response.headers.get("connection", "").lower() == "close"
        if closing or reply.endless or reply.self_framed:
            self.close_connection = True
        try:
            if reply.trickle and reply.trickle_headers:
                for i in range(len(head)):
                    self._send(head[i : i + 1], reply.trickle)
            else:
                self._send(head, 0.0)
            for chunk in reply.wire_body():
                if reply.endless:  # chunked, and never the last chunk
                    chunk = b"%x\r\n%s\r\n" % (len(chunk), chunk)  # noqa: PLW2901
                self._send(chunk, reply.trickle)
        except (ConnectionError, _Stopping):  # the client left, or the server stops
            self.close_connection = True

    def _send(self, data: bytes, pause: float) -> None:
        """Write ``data`` after ``pause`` seconds, unless the server stops first."""
        if self.server.stopping.wait(pause):
            raise _Stopping
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read ``fake.requests`` instead."""


class _Stopping(Exception):
    """The server is shutting down: an answer still going out (endless, trickled) ends."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # fan-out tests open many connections at once
    fake: FakeBraze
    stopping: threading.Event

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that timed out or dropped the connection is part of the tests, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def serve(fake: FakeBraze, host: str, port: int) -> Iterator[str]:
    server = _Server((host, port), _Handler)
    server.fake = fake
    server.stopping = threading.Event()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        bound_host, bound_port = str(server.server_address[0]), server.server_address[1]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
