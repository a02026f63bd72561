"""Sending one message to a head-end over CIM: SOAP 1.1 (zeep) or plain HTTP (httpx).

Over SOAP the message goes to the endpoint's URL with the SOAPAction of its element
(``CreateEndDeviceControls``, ``GetMeterReadings``, as our WSDLs name them) — or, when the
endpoint is given as WSDL URLs (``…?wsdl``, space-separated), to the address and
SOAPAction of the operation those WSDLs declare for the element (read with zeep, once).

The head-end's synchronous 61968-100 reply tells what it did: OK (0.0) means accepted (a
command is acknowledged; a GetMeterReadings answer carries its MeterReadings payload), 0.3
means the answer follows asynchronously, FAILED — or a SOAP Fault — carries the reason. A
transport failure (refused, timeout, 5xx without a Fault) raises HesUnavailableError: the
dispatcher keeps the command and tries again later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import httpx
from lxml import etree

from cimhub.adapters.wsdl import Operations, operations
from cimhub.errors import FunctionalError, TechnicalError, UnsupportedVerbNounError
from cimhub.message import ns

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class HesUnavailableError(TechnicalError):
    """The head-end did not take the message (unreachable, timeout, HTTP 5xx)."""

    code = "5.3"


@dataclass(frozen=True, slots=True)
class HesAnswer:
    result: str  # OK | PARTIAL | FAILED | "" (no reply we could read)
    code: str
    reason: str
    #: The reply's Payload element (a GetMeterReadings answer's MeterReadings), if any.
    payload: etree._Element | None = field(default=None, compare=False, repr=False)


def send_cim(kind: str, url: str, body: bytes, timeout: float) -> HesAnswer:
    """POST the message (``kind`` soap or http) and read the head-end's reply."""
    try:
        status, reply = (_soap if kind == "soap" else _http)(url, body, timeout)
    except (HesUnavailableError, FunctionalError):
        raise
    except Exception as exc:  # whatever the client library raised: the head-end failed
        raise HesUnavailableError(f"{type(exc).__name__}: {exc}") from exc
    answer = read_answer(reply)
    if not answer.result and status >= 400:  # refused without a 61968-100 reply (e.g. 404)
        return HesAnswer("FAILED", "", f"HTTP {status} from {url}: {answer.reason}".strip())
    return answer


def _http(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    response = httpx.post(
        url, content=body, headers={"Content-Type": "application/xml"}, timeout=timeout
    )
    if response.status_code >= 500:
        raise HesUnavailableError(f"HTTP {response.status_code} from {url}")
    return response.status_code, response.content


def _soap(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    from zeep.transports import Transport

    message = etree.fromstring(body, _PARSER)
    address, action = soap_operation(url, message.tag, timeout)
    envelope = etree.Element(ns.qname(ns.SOAP11, "Envelope"), nsmap={"soapenv": ns.SOAP11})
    etree.SubElement(envelope, ns.qname(ns.SOAP11, "Body")).append(message)
    transport = Transport(timeout=timeout, operation_timeout=timeout)
    response = transport.post_xml(
        address, envelope, {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
    )
    if response.status_code >= 500 and b"Fault" not in response.content:
        raise HesUnavailableError(f"SOAP HTTP {response.status_code} from {address}")
    return int(response.status_code), bytes(response.content)


def soap_operation(url: str, element: str, timeout: float) -> tuple[str, str]:
    """(address, SOAPAction) for a message element: from the endpoint's WSDLs when it
    names WSDLs, else the endpoint itself with the element's name as the action."""
    urls = url.split()
    wsdls = [u for u in urls if "wsdl" in u.lower()]
    if not wsdls:
        return urls[0], ns.split(element)[1]
    found: Operations = {}
    for wsdl in wsdls:
        found |= _operations(wsdl, timeout)
    if element not in found:
        local = ns.split(element)[1]
        raise UnsupportedVerbNounError(f"the head-end's WSDL has no operation that takes {local}")
    return found[element]


@lru_cache(maxsize=64)
def _operations(wsdl: str, timeout: float) -> Operations:
    """A WSDL's operations, read once per process (a failed read is not remembered)."""
    from zeep.transports import Transport

    return operations(wsdl, Transport(timeout=timeout, operation_timeout=timeout))


_ERROR = "*[local-name()='Error']"


def read_answer(reply: bytes) -> HesAnswer:
    """Result, first code, reasons and payload of a 61968-100 reply (SOAP-wrapped or
    not); a SOAP Fault is a FAILED answer with its faultstring."""
    try:
        root = etree.fromstring(reply, _PARSER)
    except etree.XMLSyntaxError:
        return HesAnswer("", "", reply[:200].decode("utf-8", "replace"))
    found = root.find(".//{*}Reply")
    if found is None:
        fault = root.find(f".//{{{ns.SOAP11}}}Fault")
        if fault is not None:
            words = (fault.findtext("faultcode") or "", fault.findtext("faultstring") or "")
            return HesAnswer("FAILED", "", "SOAP Fault: " + " ".join(w.strip() for w in words))
        return HesAnswer("", "", "the head-end's answer holds no Reply")
    result = (found.findtext("{*}Result") or "").strip()
    codes = [c.strip() for c in found.xpath(_ERROR + "/*[local-name()='code']/text()")]
    reasons = found.xpath(_ERROR + "/*[local-name()='reason']/text()")
    holder = found.getparent().find("{*}Payload") if found.getparent() is not None else None
    payload = (
        next((c for c in holder if isinstance(c.tag, str)), None) if holder is not None else None
    )
    return HesAnswer(
        result, codes[0] if codes else "", "; ".join(r.strip() for r in reasons), payload
    )
