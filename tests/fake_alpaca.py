"""A local fake of the Alpaca trading API (``GET /v2/positions``, ``GET /v2/account``).

It is a real HTTP server on 127.0.0.1 (an ephemeral port) in a background thread, so alpaca-py's
own request code runs end to end: URL building, auth headers, status handling, JSON decoding.
Authentication is checked like Alpaca does, through the ``APCA-API-KEY-ID`` and
``APCA-API-SECRET-KEY`` headers; a wrong pair gets 401 with Alpaca's error body.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

UNAUTHORIZED_BODY = {"code": 40110000, "message": "request is not authorized"}


class FakeAlpaca:
    """Serve ``positions`` and ``account`` to clients holding ``api_key``/``secret_key``.

    ``status`` forces every answer to that HTTP status (with an Alpaca-style error body);
    ``delay_s`` holds every answer back that long (to test client timeouts). ``requests`` records
    ``(method, path, headers)`` of every request received.
    """

    def __init__(self, positions: Any, account: Any, *, api_key: str, secret_key: str,
                 status: int | None = None, delay_s: float = 0.0) -> None:
        self.positions = positions
        self.account = account
        self.api_key = api_key
        self.secret_key = secret_key
        self.status = status
        self.delay_s = delay_s
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first (use it as a context manager)"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakeAlpaca":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                fake.requests.append(("GET", self.path, dict(self.headers.items())))
                if fake.delay_s:
                    fake._release.wait(fake.delay_s)
                if (self.headers.get("APCA-API-KEY-ID") != fake.api_key
                        or self.headers.get("APCA-API-SECRET-KEY") != fake.secret_key):
                    self._send(401, UNAUTHORIZED_BODY)
                elif fake.status is not None:
                    self._send(fake.status, {"code": fake.status * 100000, "message": "internal failure"})
                elif self.path == "/v2/positions":
                    self._send(200, fake.positions)
                elif self.path == "/v2/account":
                    self._send(200, fake.account)
                else:
                    self._send(404, {"code": 40410000, "message": "endpoint not found"})

            def _send(self, status: int, body: Any) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    # The timeout tests' client gives up before the delayed answer: record it.
                    fake.abandoned += 1

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

        #: Answers the client had already abandoned (timed out) when they were written.
        self.abandoned = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        # a short poll interval keeps shutdown() (which waits for the next poll) fast
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-alpaca", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release.set()
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
