"""How a simulated CIM head-end reads what it is sent, as a real one must: the hub's
hardened parser (no DTD or entities, size and depth limits), SOAP 1.1 unwrapping, XSD
validation, then the route for (noun, verb). A refusal is a coded 61968-100 reply with
HTTP 400 — or, when the SOAP request itself cannot be read, a SOAP Fault with HTTP 500 —
so the head-end passes the conformance suite's ``hes`` role. It also serves the WSDLs of
the services it offers (and the XSDs they import), as head-ends publish theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from lxml import etree

from cimhub.errors import (
    CimHubError,
    FunctionalError,
    MessageTooLargeError,
    PayloadError,
    UnknownNamespaceError,
    UnsupportedVerbNounError,
)
from cimhub.message import ns, parser, schema, wsdl
from cimhub.message.envelope import Envelope, read_envelope
from cimhub.message.reply import Outcome, Result, loose_correlation, render_reply
from cimhub.simulator.hub_client import soap_wrap

#: What a route does with a message it takes.
Route = Callable[[Envelope], Outcome]
Answer = tuple[int, str, bytes]  # HTTP status, content type, body
SOAP_XML = "text/xml; charset=utf-8"
LIMITS = parser.Limits(8 * 1024 * 1024, 64)
#: The SOAP services a head-end offers the MDM (61968-100 §8.3.4 names).
SERVICES = ("ExecuteEndDeviceControls", "GetMeterReadings")


def answer(
    raw: bytes, routes: Mapping[tuple[str, str], Route], limits: parser.Limits = LIMITS
) -> Answer:
    """The answer to one POSTed message (plain XML or a SOAP 1.1 Envelope)."""
    soap = ns.SOAP11.encode() in raw
    try:
        root = parser.parse(raw, limits)
    except FunctionalError as exc:
        return refusal(exc, soap)
    if root.tag != ns.qname(ns.SOAP11, "Envelope"):
        return message(root, routes)
    body = root.find(ns.qname(ns.SOAP11, "Body"))
    inner = [c for c in body if isinstance(c.tag, str)] if body is not None else []
    if len(inner) != 1:
        return refusal(PayloadError("the SOAP Body must hold exactly one message"), True)
    _status, _kind, reply = message(inner[0], routes)
    return 200, SOAP_XML, soap_wrap(reply)


def message(root: etree._Element, routes: Mapping[tuple[str, str], Route]) -> Answer:
    """Validate one 61968-100 message and hand it to its route; the reply."""
    envelope = None
    try:
        if ns.split(root.tag)[0] not in schema.known_namespaces():
            raise UnknownNamespaceError(f"unknown namespace of {root.tag}")
        schema.validate(root)
        envelope = read_envelope(root)
        route = routes.get((envelope.noun, envelope.verb.value))
        if route is None:
            raise UnsupportedVerbNounError(f"not handled: {envelope.verb} {envelope.noun}")
        outcome = route(envelope)
    except FunctionalError as exc:
        outcome = Outcome.failed(exc)
    shape = ns.reply_shape_of(root.tag)
    body = render_reply(
        envelope, outcome, noun=str(shape["noun"]), strong=bool(shape["strong"]),
        correlation=loose_correlation(root) if envelope is None else None,
    )  # fmt: skip
    return (400 if outcome.result is Result.FAILED else 200), "application/xml", body


def refusal(error: CimHubError, soap: bool) -> Answer:
    """A message that could not be read at all: a SOAP Fault, or a FAILED reply."""
    if not soap:
        status = 413 if isinstance(error, MessageTooLargeError) else 400
        return status, "application/xml", render_reply(None, Outcome.failed(error))
    fault = etree.Element(ns.qname(ns.SOAP11, "Fault"), nsmap={"soapenv": ns.SOAP11})
    etree.SubElement(fault, "faultcode").text = "soapenv:Client"
    etree.SubElement(fault, "faultstring").text = f"{error.code} {error.reason}"
    return 500, SOAP_XML, soap_wrap(etree.tostring(fault))


def published(path: str, base: str) -> Answer:
    """GET ``/soap/<Service>?wsdl`` (a service the head-end offers, addressed to it) or
    ``/soap/xsd/<Name>.xsd``."""
    route = path.partition("?")[0].rstrip("/")
    if route.startswith("/soap/xsd/"):
        found = wsdl.xsd(route.removeprefix("/soap/xsd/"))
        if found is not None:
            return 200, "application/xml", found
    service = route.removeprefix("/soap/")
    if service in SERVICES and (text := wsdl.addressed(service, base)) is not None:
        return 200, SOAP_XML, text.encode()
    return 404, "text/plain", b"not found"
