"""A real HTTP endpoint in a thread that records what it is sent: a billing system, an
async-reply address. ``fail_with`` makes it answer an error status instead."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cimhub.testing.server import free_port


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/cim"
        self.bodies: list[bytes] = []
        self.authorizations: list[str | None] = []  # the Authorization header of each body
        self.fail_with: int | None = None
        self.failures = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._changed:
                    status = receiver.fail_with
                    if status is None:
                        receiver.bodies.append(body)
                        receiver.authorizations.append(self.headers.get("Authorization"))
                    else:
                        receiver.failures += 1
                    receiver._changed.notify_all()
                self.send_response(status or 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[bytes]:
        """Wait (bounded) until at least ``count`` bodies arrived; return them all."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.bodies) >= count, timeout)
            return list(self.bodies)

    def wait_failures(self, count: int, timeout: float = 30.0) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self.failures >= count, timeout)
            return self.failures

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
