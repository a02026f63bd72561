"""Small fake endpoints that speak the cimhub profile, to test the suite itself.

A `FakeEndpoint` answers 61968-100 messages POSTed to any path, as application/xml or
inside a SOAP 1.1 Envelope, with the hub's own hardened parser, schemas and reply
renderer; subclasses say what each (noun, verb) does. `Breakage` makes one answer
deliberately wrong (a wrong Header/Verb, a missing CorrelationID, a swapped error code) so
a test can prove the suite notices; `BreakingProxy` puts such faults in front of a real
endpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from lxml import etree

from cimhub.conformance.observed import (
    RequestHeader,
    child,
    children,
    request_header,
    soap_body,
)
from cimhub.errors import CimHubError, MessageTooLargeError
from cimhub.message import parser
from cimhub.message.envelope import Envelope
from cimhub.message.reply import Outcome
from cimhub.simulator import cim_endpoint

MAX_BYTES = 2 * 1024 * 1024
Handler = Callable[[Envelope], Outcome]


@dataclass(frozen=True, slots=True)
class Breakage:
    """Deliberate faults in replies. Empty: a well-behaved endpoint."""

    wrong_verb_for: frozenset[str] = frozenset()  # request verbs answered with that verb
    drop_echoed_correlation: bool = False  # drop CorrelationID when the request set one
    swap_codes: dict[str, str] = field(default_factory=dict)  # reply code → wrong code

    def __bool__(self) -> bool:
        return bool(self.wrong_verb_for or self.drop_echoed_correlation or self.swap_codes)


def mangle(reply: bytes, request: RequestHeader | None, breakage: Breakage) -> bytes:
    """The reply with the breakage's faults put in (a SOAP reply's Body child likewise)."""
    if not breakage or request is None:
        return reply
    root = etree.fromstring(reply, etree.XMLParser(resolve_entities=False, no_network=True))
    inner = soap_body(root)
    message = root if inner is None else next(iter(inner), None)
    header = child(message, "Header")
    if header is None:
        return reply
    verb = child(header, "Verb")
    if verb is not None and request.verb in breakage.wrong_verb_for:
        verb.text = request.verb
    correlation = child(header, "CorrelationID")
    if correlation is not None and breakage.drop_echoed_correlation and request.correlation_id:
        header.remove(correlation)
    for error in children(child(message, "Reply"), "Error"):
        code = child(error, "code")
        if code is not None and code.text in breakage.swap_codes:
            code.text = breakage.swap_codes[code.text]
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


class FakeEndpoint:
    """Answers messages with the handlers of `routes`; anything else is 1.8."""

    limits = parser.Limits(MAX_BYTES, 64)

    def __init__(self, breakage: Breakage = Breakage()) -> None:
        self.breakage = breakage
        self.received: list[Envelope] = []
        self.lock = threading.Lock()

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {}

    def answer(self, path: str, raw: bytes) -> tuple[int, str, bytes]:
        """(HTTP status, content type, body) for one POSTed message."""
        status, content_type, body = self._answer(raw)
        return status, content_type, mangle(body, request_header(raw), self.breakage)

    def _answer(self, raw: bytes) -> tuple[int, str, bytes]:
        """Hardened parse, SOAP unwrapping, XSD validation, the route: as the simulated
        head-end reads what it is sent (``cimhub.simulator.cim_endpoint``)."""
        routes = {key: partial(self._recorded, route) for key, route in self.routes().items()}
        return cim_endpoint.answer(raw, routes, self.limits)

    def _recorded(self, handler: Handler, envelope: Envelope) -> Outcome:
        with self.lock:
            self.received.append(envelope)
            return handler(envelope)

    def _refusal(self, error: CimHubError, soap: bool) -> tuple[int, str, bytes]:
        return cim_endpoint.refusal(error, soap)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Listen on a free loopback port in a thread; yield the base URL."""
        endpoint = self

        class Requests(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BYTES:
                    status, kind, body = endpoint._refusal(
                        MessageTooLargeError(f"{length} bytes"), "soap" in self.path
                    )
                    self.close_connection = True
                else:
                    try:
                        status, kind, body = endpoint.answer(self.path, self.rfile.read(length))
                    except ConnectionAbortedError:  # a fake playing a crashed endpoint
                        self.close_connection = True
                        return
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Requests)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name="cimhub-fake", daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


class BreakingProxy(FakeEndpoint):
    """Forwards every message to a real endpoint and puts the breakage into its replies."""

    def __init__(self, target_base: str, breakage: Breakage) -> None:
        super().__init__(breakage)
        self.target_base = target_base.rstrip("/")
        self.client = httpx.Client(timeout=60)

    @contextmanager
    def serve(self) -> Iterator[str]:
        with self.client, super().serve() as base:
            yield base

    def _forward(self, path: str, raw: bytes) -> tuple[int, str, bytes]:
        response = self.client.post(
            self.target_base + path,
            content=raw,
            headers={"Content-Type": "application/xml", "SOAPAction": '""'},
        )
        kind = response.headers.get("content-type", "application/xml")
        return response.status_code, kind, response.content

    def answer(self, path: str, raw: bytes) -> tuple[int, str, bytes]:
        status, kind, body = self._forward(path, raw)
        try:
            return status, kind, mangle(body, request_header(raw), self.breakage)
        except etree.XMLSyntaxError:
            return status, kind, body
