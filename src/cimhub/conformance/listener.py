"""Where the runner receives asynchronous replies: a small HTTP server whose URL fills
``{{REPLY_ADDRESS}}`` in case files (a request's ``Header/ReplyAddress``).

The system under test POSTs its ResponseMessage there — bare, or inside a SOAP 1.1
Envelope — and gets HTTP 200. Replies are matched to requests by ``Header/CorrelationID``.
Bodies are untrusted: parsed by the hub's hardened parser, capped in size.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lxml import etree

from cimhub.conformance.observed import parse_untrusted, soap_body, text

MAX_BODY = 64 * 1024 * 1024
PATH = "/cimhub-conformance/replies"


class ReplyListener:
    """Collects POSTed replies; ``wait_for(correlation)`` hands one over."""

    def __init__(self, listen: str = "127.0.0.1:0") -> None:
        host, _, port = listen.rpartition(":") if ":" in listen else (listen, "", "0")
        self._replies: dict[str, tuple[bytes, etree._Element]] = {}
        self._arrived = threading.Condition()
        self._server = ThreadingHTTPServer((host or "127.0.0.1", int(port or 0)), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="conformance-replies", daemon=True
        )
        self._thread.start()
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}{PATH}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name for it
                size = int(self.headers.get("Content-Length") or 0)
                if size > MAX_BODY:
                    self.send_error(413)
                    return
                listener._received(self.rfile.read(size))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:  # keep the runner's output clean
                pass

        return Handler

    def _received(self, body: bytes) -> None:
        try:
            root = parse_untrusted(body)
        except ValueError:
            return  # not a reply at all: nothing to match it with
        inner = soap_body(root)
        message = inner[0] if inner else root
        correlation = text(message, "Header", "CorrelationID")
        if correlation:
            with self._arrived:
                self._replies[correlation] = (body, message)
                self._arrived.notify_all()

    def wait_for(self, correlation: str, timeout: float) -> tuple[bytes, etree._Element] | None:
        """The reply carrying ``correlation``, once it has arrived (None after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while correlation not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._arrived.wait(left)
            return self._replies.pop(correlation)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
