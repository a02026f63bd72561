"""How the runner reaches the system under test: HTTP POST, SOAP 1.1, AMQP request/reply.

HTTP posts the message as application/xml to the target URL. SOAP wraps it in a SOAP 1.1
Envelope and posts it to the service that takes it: found in the WSDLs when the targets
are WSDL URLs, or named after 61968-100 §8.3.4 under a service base URL (`Receive<Noun>`
for events, `Execute<Noun>` for requests, `Get<Noun>` for queries, `CIMHub` for generic
messages). Cases are XML, so messages are posted raw; zeep only reads WSDLs. AMQP is the
61968-100 JMS pattern on AMQP 0-9-1: the message is published to the target's queue with
``reply_to`` and ``correlation_id``, and the reply read from a private reply queue.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from lxml import etree

from cimhub.conformance.observed import Fault, Observed, child, parse_untrusted, soap_body, text
from cimhub.message import ns

SOAP_XML = "text/xml; charset=utf-8"
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>\s*")
_PRESENT = {"create", "change", "cancel", "close", "delete", "execute"}
_PAST = {"created", "changed", "canceled", "closed", "deleted", "executed"}
#: The queue a target URL without a ``#queue`` fragment publishes to (cimhub's own).
DEFAULT_AMQP_QUEUE = "cimhub.inbound"


class TransportUnavailable(Exception):
    """The transport cannot be used (not built yet, or its targets cannot be read)."""


@dataclass(frozen=True, slots=True)
class Target:
    urls: tuple[str, ...]
    user: str | None = None
    password: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Route:
    """Where a message goes: its verb, noun and element (Clark name)."""

    verb: str
    noun: str
    element: str

    @classmethod
    def of(cls, verb: str, noun: str, element: str | None = None) -> Route:
        """A strongly-typed element names its own verb and noun (whatever its header says);
        without an element (an unreadable message) it is named from verb and noun."""
        if element is None:
            uri = ns.message_ns(f"Get{noun}" if verb == "get" else noun)
            local = f"Get{noun}" if verb == "get" else verb.capitalize() + noun
            return cls(verb, noun, ns.qname(uri, local))
        uri, local = ns.split(element)
        message_noun = ns.noun_of_message_ns(uri)
        if message_noun is None:  # generic envelope, or unknown: the header decides
            return cls(verb, noun, element)
        if local == message_noun and message_noun.startswith("Get"):
            return cls("get", message_noun[3:], element)
        if local.endswith(message_noun):
            return cls(local[: -len(message_noun)].lower(), message_noun, element)
        return cls(verb, message_noun, element)


class Transport(Protocol):
    name: str

    def send(self, body: bytes, route: Route, *, as_is: bool = False) -> Observed: ...

    def close(self) -> None: ...


def open_transport(name: str, target: Target) -> Transport:
    if name == "http":
        return HttpTransport(target)
    if name == "soap":
        return SoapTransport(target)
    if name == "amqp":
        return AmqpTransport(target)
    raise TransportUnavailable(f"unknown transport {name!r}")


def _client(target: Target) -> httpx.Client:
    auth = httpx.BasicAuth(target.user, target.password or "") if target.user else None
    return httpx.Client(auth=auth, headers=target.headers, timeout=target.timeout)


def _post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> Observed:
    started = time.perf_counter()
    seen = Observed(sent=body, url=url)
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        seen.problem = f"no answer from {url} within {client.timeout.read} s"
    except httpx.TransportError as exc:
        seen.problem = f"no answer from {url}: {type(exc).__name__} {exc}"
    else:
        seen.status, seen.body = response.status_code, response.content
    seen.elapsed = time.perf_counter() - started
    return seen


class HttpTransport:
    """POST the message as application/xml; the body of the answer is the reply."""

    name = "http"

    def __init__(self, target: Target) -> None:
        self.url = target.urls[0]
        self.client = _client(target)

    def send(self, body: bytes, route: Route, *, as_is: bool = False) -> Observed:
        seen = _post(self.client, self.url, body, {"Content-Type": "application/xml"})
        if seen.problem is None:
            _read_reply(seen)
        return seen

    def close(self) -> None:
        self.client.close()


def _read_reply(seen: Observed) -> None:
    if not seen.body.strip():
        seen.problem = f"HTTP {seen.status} with an empty body: no 61968-100 reply"
        return
    try:
        seen.message = parse_untrusted(seen.body)
    except ValueError as exc:
        seen.problem = f"HTTP {seen.status}, and the body is not a readable XML reply: {exc}"


def wrap(body: bytes) -> bytes:
    """An XML document (its declaration dropped) inside a SOAP 1.1 Envelope/Body."""
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="'
        + ns.SOAP11.encode()
        + b'"><soapenv:Body>'
        + _XML_DECL.sub(b"", body, count=1)
        + b"</soapenv:Body></soapenv:Envelope>"
    )


class SoapTransport:
    """SOAP 1.1 document/literal, posted raw; services from WSDLs or by 61968-100 naming."""

    name = "soap"

    def __init__(self, target: Target) -> None:
        self.client = _client(target)
        wsdls = [u for u in target.urls if "wsdl" in u.lower()]
        self.base = None if wsdls else target.urls[0].rstrip("/")
        self.operations = read_wsdls(wsdls, target) if wsdls else {}

    def endpoint(self, route: Route) -> tuple[str, str] | None:
        """(address, SOAPAction) of the operation taking the route's element."""
        uri, local = ns.split(route.element)
        if self.base is None:
            found = self.operations.get(route.element)
            if found is None and uri != ns.MESSAGE and ns.noun_of_message_ns(uri) is None:
                # not a CIM message at all (a negative case): any operation must refuse it
                return next(iter(self.operations.values()))
            return found
        if uri == ns.MESSAGE:  # generic RequestMessage / EventMessage
            return f"{self.base}/CIMHub", "Event" if local == "EventMessage" else "Request"
        if route.verb == "get":
            service = f"Get{route.noun}"
        elif route.verb in _PAST:
            service = f"Receive{route.noun}"
        elif route.verb in _PRESENT:
            service = f"Execute{route.noun}"
        else:
            service = f"Reply{route.noun}"
        return f"{self.base}/{service}", local

    def send(self, body: bytes, route: Route, *, as_is: bool = False) -> Observed:
        found = self.endpoint(route)
        if found is None:
            return Observed(sent=body, problem=f"no SOAP operation takes {route.element}")
        url, action = found
        envelope = body if as_is else wrap(body)
        headers = {"Content-Type": SOAP_XML, "SOAPAction": f'"{action}"'}
        seen = _post(self.client, url, envelope, headers)
        if seen.problem is None:
            _read_soap_reply(seen)
        return seen

    def close(self) -> None:
        self.client.close()


def _read_soap_reply(seen: Observed) -> None:
    _read_reply(seen)
    envelope, seen.message = seen.message, None
    if envelope is None:
        return
    inner = soap_body(envelope)
    if inner is None:
        seen.problem = f"HTTP {seen.status}, and the body is not a SOAP 1.1 Envelope"
        return
    if len(inner) != 1:
        seen.problem = "the SOAP Body does not hold exactly one element"
        return
    if inner[0].tag != ns.qname(ns.SOAP11, "Fault"):
        seen.message = inner[0]
        return
    fault = inner[0]
    seen.fault = Fault(text(fault, "faultcode") or "", text(fault, "faultstring") or "")
    holder = child(fault, "detail")
    detail = [c for c in holder if isinstance(c.tag, str)] if holder is not None else []
    if detail and child(detail[0], "Reply") is not None:
        seen.message = detail[0]


def read_wsdls(urls: list[str], target: Target) -> dict[str, tuple[str, str]]:
    """Element (Clark name) → (address, SOAPAction) for every operation in the WSDLs."""
    import requests
    from zeep.exceptions import Error as ZeepError
    from zeep.transports import Transport as ZeepTransport

    from cimhub.adapters.wsdl import operations

    session = requests.Session()
    session.headers.update(target.headers)
    if target.user:
        session.auth = (target.user, target.password or "")
    found: dict[str, tuple[str, str]] = {}
    for url in urls:
        try:
            found |= operations(url, ZeepTransport(session=session))  # type: ignore[arg-type]
        except (ZeepError, OSError, etree.XMLSyntaxError, requests.RequestException) as exc:
            raise TransportUnavailable(f"cannot read the WSDL at {url}: {exc}") from exc
    if not found:
        raise TransportUnavailable(f"no document/literal SOAP operations in {', '.join(urls)}")
    return found


def amqp_target(url: str, user: str | None, password: str | None) -> tuple[str, str]:
    """(broker URL, queue) of ``amqp://[user:pass@]host[:port]/vhost[#queue]``; --user and
    --password fill in credentials the URL does not carry."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.scheme not in ("amqp", "amqps"):
        raise TransportUnavailable(f"an amqp target is amqp://host/vhost#queue, not {url!r}")
    netloc = parts.netloc
    if user and "@" not in netloc:
        netloc = f"{quote(user, safe='')}:{quote(password or '', safe='')}@{netloc}"
    broker = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return broker, parts.fragment or DEFAULT_AMQP_QUEUE


def _without_password(url: str) -> str:
    """The URL as reports may show it: a password in it becomes ***."""
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


class AmqpTransport:
    """Publish to the target queue with reply_to + correlation_id; wait for that reply.

    Target headers travel as AMQP message headers (e.g. ``cimhub-tenant: discom-a``).
    """

    name = "amqp"

    def __init__(self, target: Target) -> None:
        from kombu import Connection, Consumer, Queue

        self.broker_url, self.queue = amqp_target(target.urls[0], target.user, target.password)
        self.headers = dict(target.headers)
        self.timeout = target.timeout
        self.connection = Connection(self.broker_url, connect_timeout=5)
        self.shown = _without_password(target.urls[0])
        try:
            self.connection.connect()
        except (OSError, *self.connection.connection_errors) as exc:
            raise TransportUnavailable(f"cannot connect to {self.shown}: {exc}") from exc
        self.channel = self.connection.channel()
        self.reply_queue = Queue(
            f"conformance.reply.{uuid.uuid4().hex[:12]}",
            exclusive=True, auto_delete=True, durable=False,
        )  # fmt: skip
        self.reply_queue(self.channel).declare()
        self._replies: dict[str, Any] = {}
        self.consumer = Consumer(
            self.channel, [self.reply_queue], on_message=self._on_reply, accept=None
        )
        self.consumer.consume()

    def _on_reply(self, message: Any) -> None:
        correlation = (message.properties or {}).get("correlation_id")
        if correlation:
            self._replies[correlation] = message
        message.ack()

    def send(self, body: bytes, route: Route, *, as_is: bool = False) -> Observed:
        from kombu import Producer

        correlation = uuid.uuid4().hex
        seen = Observed(sent=body, url=self.shown)
        started = time.perf_counter()
        Producer(self.channel).publish(
            body,
            exchange="",
            routing_key=self.queue,
            reply_to=self.reply_queue.name,
            correlation_id=correlation,
            delivery_mode=2,
            content_type="application/xml",
            content_encoding="binary",
            headers=self.headers,
            serializer=None,
        )
        deadline = time.monotonic() + self.timeout
        while correlation not in self._replies:
            left = deadline - time.monotonic()
            if left <= 0:
                seen.problem = f"no reply on {self.reply_queue.name} within {self.timeout} s"
                break
            try:
                self.connection.drain_events(timeout=min(left, 1.0))
            except TimeoutError:
                continue
        seen.elapsed = time.perf_counter() - started
        message = self._replies.pop(correlation, None)
        if message is not None:
            raw = message.body
            seen.body = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
            _read_reply(seen)
        return seen

    def close(self) -> None:
        try:
            self.consumer.cancel()
        finally:
            self.connection.release()
