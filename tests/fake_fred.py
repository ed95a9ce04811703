"""A local stand-in for the FRED API (``/fred/series/observations``) on 127.0.0.1.

It answers the way api.stlouisfed.org does for the requests fredapi 0.5.2 makes (no
``file_type``, so XML):

* ``200`` with ``<observations ...><observation realtime_start=".." realtime_end=".."
  date="YYYY-MM-DD" value="5.45"/>...</observations>``, a holiday's value being ``"."``;
  observations outside ``observation_start``/``observation_end`` are left out, as FRED does;
* ``400`` with ``<error code="400" message="Bad Request.  The value for variable api_key is not
  registered.  Read https://fred.stlouisfed.org/docs/api/api_key.html for more information."/>``
  for an unknown key (FRED's wording), and ``400`` "series does not exist" for an unknown series.

``delay_seconds`` makes every answer wait (interruptibly: :meth:`close` releases it), to test the
caller's deadline. ``requests`` records each request's query parameters.
"""

from __future__ import annotations

import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import quoteattr

BAD_KEY_MESSAGE = ("Bad Request.  The value for variable api_key is not registered.  "
                   "Read https://fred.stlouisfed.org/docs/api/api_key.html for more information.")


class FakeFred:
    def __init__(self, series: dict[str, dict[date, float | None]], *, api_key: str,
                 delay_seconds: float = 0.0, realtime: date = date(2024, 5, 13)) -> None:
        self.series = series
        self.api_key = api_key
        self.delay_seconds = delay_seconds
        self.realtime = realtime
        self.requests: list[dict[str, str]] = []
        self._release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                fake._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def root_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/fred"

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeFred":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.requests.append(q)
        if self.delay_seconds:
            self._release.wait(self.delay_seconds)
        if url.path != "/fred/series/observations":
            return self._send(handler, 404, '<error code="404" message="Not Found"/>')
        if q.get("api_key") != self.api_key:
            return self._send(handler, 400, f'<error code="400" message={quoteattr(BAD_KEY_MESSAGE)}/>')
        sid = q.get("series_id", "")
        if sid not in self.series:
            msg = "Bad Request.  The series does not exist."
            return self._send(handler, 400, f'<error code="400" message={quoteattr(msg)}/>')
        start = date.fromisoformat(q.get("observation_start", "1776-07-04"))
        end = date.fromisoformat(q.get("observation_end", "9999-12-31"))
        rows = [(d, v) for d, v in sorted(self.series[sid].items()) if start <= d <= end]
        rt = self.realtime.isoformat()
        body = "".join(
            f'  <observation realtime_start="{rt}" realtime_end="{rt}" date="{d.isoformat()}" '
            f'value="{"." if v is None else repr(v)}"/>\n' for d, v in rows)
        doc = (f'<observations realtime_start="{rt}" realtime_end="{rt}" observation_start="{start}" '
               f'observation_end="{end}" units="lin" output_type="1" file_type="xml" '
               f'order_by="observation_date" sort_order="asc" count="{len(rows)}" offset="0" '
               f'limit="100000">\n{body}</observations>')
        self._send(handler, 200, doc)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, xml: str) -> None:
        data = ('<?xml version="1.0" encoding="utf-8" ?>\n' + xml + "\n").encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "text/xml; charset=UTF-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
