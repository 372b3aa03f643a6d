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
        self.send_response_only(response.status_code, response.reason_phrase)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "content-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(response.content)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read ``fake.requests`` instead."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # fan-out tests open many connections at once
    fake: FakeBraze

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that timed out or dropped the connection is part of the tests, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def serve(fake: FakeBraze, host: str, port: int) -> Iterator[str]:
    server = _Server((host, port), _Handler)
    server.fake = fake
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        bound_host, bound_port = str(server.server_address[0]), server.server_address[1]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
