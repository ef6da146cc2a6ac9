"""An HTTP tracker on 127.0.0.1 whose announce replies carry scripted warning messages.

It lists no peers. The ``n``-th announce (from 0) is answered with
``warnings[n]``, or with the last of them once the script runs out; a
``stopped`` announce gets no warning. :attr:`WarningTracker.sent` records the
warnings of the replies, in order.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from bitswarm.core.bencode import encode


class WarningTracker:
    def __init__(self, *warnings: str, interval: int = 1) -> None:
        self.warnings = warnings
        self.interval = interval
        self.sent: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/announce"

    def _reply(self, query: str) -> bytes:
        reply: dict[bytes, object] = {b"interval": self.interval, b"min interval": 0, b"peers": b""}
        if parse_qs(query).get("event") != ["stopped"]:
            with self._lock:
                warning = self.warnings[min(len(self.sent), len(self.warnings) - 1)]
                self.sent.append(warning)
            reply[b"warning message"] = warning.encode()
        return encode(reply)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = tracker._reply(urlsplit(self.path).query)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def __enter__(self) -> WarningTracker:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
