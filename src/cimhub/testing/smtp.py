"""A small SMTP server in a thread that keeps what it is sent: tests of the SMTP sender.

Speaks just enough RFC 5321 for ``smtplib``: EHLO/HELO, MAIL, RCPT, DATA (dot-unstuffed),
RSET, NOOP, QUIT. Each message is kept as (sender, recipients, raw bytes).
"""

from __future__ import annotations

import socketserver
import threading
from email import message_from_bytes
from email.message import Message

from cimhub.testing.server import free_port


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[tuple[str, list[str], bytes]] = []
        self._changed = threading.Condition()
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())

            def handle(self) -> None:
                self.reply("220 cimhub-test ESMTP")
                sender, rcpts = "", []
                while line := self.rfile.readline():
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        self.reply("250 cimhub-test")
                    elif verb == b"MAIL":
                        sender, rcpts = line.decode().split(":", 1)[1].strip(), []
                        self.reply("250 OK")
                    elif verb == b"RCPT":
                        rcpts.append(line.decode().split(":", 1)[1].strip())
                        self.reply("250 OK")
                    elif verb == b"DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        outer._keep(sender, rcpts, self._data())
                        self.reply("250 OK queued")
                    elif verb == b"QUIT":
                        self.reply("221 bye")
                        return
                    else:  # RSET, NOOP and anything else
                        self.reply("250 OK")

            def _data(self) -> bytes:
                lines = []
                while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    lines.append(line[1:] if line.startswith(b"..") else line)
                return b"".join(lines)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _keep(self, sender: str, rcpts: list[str], raw: bytes) -> None:
        with self._changed:
            self.messages.append((sender, rcpts, raw))
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Message]:
        """Wait (bounded) until ``count`` messages arrived; the parsed messages."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.messages) >= count, timeout)
            return [message_from_bytes(raw) for _, _, raw in self.messages]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SmtpServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
