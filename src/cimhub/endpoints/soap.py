"""SOAP 1.1 document/literal, contract-first: our WSDLs import our XSDs, served as written.

A POST to /soap/<Service> carries one 61968-100 message element in its Body; the element
goes through the same pipeline as every other transport and its Reply comes back in the
Body. SOAP Faults are kept for what is wrong with the SOAP request itself (not XML, not a
SOAP Envelope, an element the service has no operation for) and for outages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, partial

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from lxml import etree
from starlette.concurrency import run_in_threadpool

from cimhub.bus.pipeline import Inbound, Pipeline
from cimhub.domain.access import Principal
from cimhub.endpoints import auth, limits
from cimhub.endpoints.body import read_capped
from cimhub.endpoints.client_cert import peer_certificate
from cimhub.errors import (
    CimHubError,
    FunctionalError,
    NotAuthenticatedError,
    NotPermittedError,
    TechnicalError,
    UnsupportedVerbNounError,
)
from cimhub.message import ns, parser
from cimhub.message import wsdl as wsdl_files
from cimhub.message.reply import Outcome, render_reply
from cimhub.settings import Settings

WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP_XML = "text/xml; charset=utf-8"
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>\s*")


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    wsdl: str
    inputs: frozenset[str]  # Clark names of the elements its operations accept


@cache
def services() -> dict[str, Service]:
    """Every WSDL shipped in cim/wsdl, with the input elements of its operations."""
    found = {}
    for entry in sorted(wsdl_files.cim_dir().joinpath("wsdl").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".wsdl"):
            text = entry.read_text(encoding="utf-8")
            found[entry.name[:-5]] = Service(entry.name[:-5], text, _inputs(text))
    return found


def _inputs(text: str) -> frozenset[str]:
    doc = etree.fromstring(text.encode(), etree.XMLParser(no_network=True, resolve_entities=False))
    elements: dict[str, str] = {}
    for message in doc.iterfind(f"{{{WSDL}}}message"):
        part = message.find(f"{{{WSDL}}}part")
        if part is not None and part.get("element"):
            prefix, _, local = part.get("element").rpartition(":")
            elements[message.get("name")] = f"{{{part.nsmap.get(prefix or None)}}}{local}"
    accepted = set()
    for op_input in doc.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation/{{{WSDL}}}input"):
        message_name = op_input.get("message", "").rpartition(":")[2]
        if message_name in elements:
            accepted.add(elements[message_name])
    return frozenset(accepted)


def envelope_bytes(body: bytes) -> bytes:
    """Wrap an XML document (its declaration dropped) in a SOAP 1.1 Envelope/Body."""
    inner = _XML_DECL.sub(b"", body, count=1)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<soapenv:Envelope xmlns:soapenv="'
        + ns.SOAP11.encode()
        + b'"><soapenv:Body>'
        + inner
        + b"</soapenv:Body></soapenv:Envelope>"
    )


def fault_bytes(code: str, reason: str, detail: bytes = b"") -> bytes:
    """A SOAP 1.1 Fault; `detail` is an optional XML document put in <detail>."""
    text = etree.Element("faultstring")
    text.text = reason
    fault = (
        b"<soapenv:Fault><faultcode>soapenv:"
        + code.encode()
        + b"</faultcode>"
        + etree.tostring(text)
    )
    if detail:
        fault += b"<detail>" + _XML_DECL.sub(b"", detail, count=1) + b"</detail>"
    return envelope_bytes(fault + b"</soapenv:Fault>")


def _body_child(raw: bytes, limits: parser.Limits) -> etree._Element:
    root = parser.parse(raw, limits)
    if root.tag != ns.qname(ns.SOAP11, "Envelope"):
        raise FunctionalError(f"not a SOAP 1.1 Envelope: {root.tag}")
    body = root.find(ns.qname(ns.SOAP11, "Body"))
    children = [c for c in (body if body is not None else []) if isinstance(c.tag, str)]
    if len(children) != 1:
        raise FunctionalError("the SOAP Body must hold exactly one message element")
    return children[0]


def security_header(child: etree._Element) -> etree._Element | None:
    """The wsse:Security block in the SOAP Header around a Body child, if any."""
    envelope = child.getparent().getparent()  # Body, then Envelope
    header = envelope.find(ns.qname(ns.SOAP11, "Header"))
    return None if header is None else header.find(f"{{{auth.WSSE}}}Security")


async def _authenticate(request: Request, child: etree._Element) -> Principal:
    """HTTP credentials if the request has some, else the WS-Security UsernameToken."""
    authenticator: auth.Authenticator = request.app.state.authenticator
    client = request.client.host if request.client else None
    tenant = request.headers.get("X-Cimhub-Tenant")
    security = security_header(child)
    has_http = "authorization" in request.headers or "x-api-key" in request.headers
    if security is None or has_http:
        certificate = peer_certificate(request, authenticator.settings)
        principal = await run_in_threadpool(
            partial(authenticator.http, certificate=certificate), request.headers, client, tenant
        )
    else:
        principal = await run_in_threadpool(authenticator.wsse, security, client, tenant)
    request.state.principal = principal
    return principal


def mount(app: FastAPI, settings: Settings, pipeline: Pipeline) -> None:
    """Add /soap (index), /soap/<Service>?wsdl, /soap/xsd/<file> and POST /soap/<Service>."""

    @app.get("/soap", response_class=HTMLResponse, summary="The SOAP services and their WSDLs")
    async def index(request: Request) -> str:
        rows = "".join(
            f'<li><a href="{request.base_url}soap/{n}?wsdl">{n}</a></li>' for n in services()
        )
        return f"<html><body><h1>cimhub SOAP services</h1><ul>{rows}</ul></body></html>"

    @app.get("/soap/xsd/{name}", summary="An XSD the WSDLs import")
    async def xsd(name: str) -> Response:
        found = wsdl_files.xsd(name)
        if found is None:
            raise HTTPException(404)
        return Response(found, media_type="application/xml")

    @app.get("/soap/{service}", summary="A service's WSDL (?wsdl)")
    async def wsdl(service: str, request: Request) -> Response:
        text = wsdl_files.addressed(service, str(request.base_url).rstrip("/"))
        if text is None:
            raise HTTPException(404, f"no SOAP service {service!r}")
        return Response(text, media_type="text/xml")

    @app.post("/soap/{service}", summary="Call a SOAP operation")
    async def call(service: str, request: Request) -> Response:
        found = services().get(service)
        if found is None:
            return Response(
                fault_bytes("Client", f"no SOAP service {service!r}"), 404, media_type=SOAP_XML
            )
        try:
            raw = await read_capped(request, settings.max_message_bytes)
            child = _body_child(raw, pipeline.limits)
        except CimHubError as exc:  # a Fault is HTTP 500 in SOAP 1.1 (WS-I BP R1126), 1.3 too
            return Response(
                fault_bytes("Client", f"{exc.code} {exc.reason}"), 500, media_type=SOAP_XML
            )
        if child.tag not in found.inputs:
            # a CIM message this service does not take: 1.8; anything else, no code
            cim = ns.noun_of_message_ns(ns.split(child.tag)[0]) is not None
            code = f"{UnsupportedVerbNounError.code} " if cim else ""
            return Response(
                fault_bytes("Client", f"{code}{service} has no operation for {child.tag}"),
                500,
                media_type=SOAP_XML,
            )
        try:
            principal = await _authenticate(request, child)
            limits.charge(request)
        except limits.Throttled as exc:
            return limits.too_many(request.url.path, exc.wait)
        except (NotAuthenticatedError, NotPermittedError) as exc:
            reply = render_reply(None, Outcome.failed(exc))
            return Response(
                fault_bytes("Client", f"{exc.code} {exc.reason}", reply), 500, media_type=SOAP_XML
            )
        except TechnicalError as exc:  # the store cannot say who it is
            reply = render_reply(None, Outcome.failed(exc))
            return Response(
                fault_bytes("Server", f"{exc.code} service unavailable", reply),
                500,
                media_type=SOAP_XML,
            )
        inbound = Inbound(raw, principal.tenant, "soap", principal=principal)
        answer = await run_in_threadpool(pipeline.process_element, child, inbound)
        if answer.technical:
            return Response(
                fault_bytes("Server", f"{answer.code} service unavailable", answer.body),
                500,
                media_type=SOAP_XML,
            )
        return Response(envelope_bytes(answer.body), media_type=SOAP_XML)
