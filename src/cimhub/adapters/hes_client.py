"""Sending one command message to a head-end over CIM: SOAP 1.1 (zeep) or plain HTTP (httpx).

The head-end's synchronous 61968-100 reply tells what it did with the command: OK (0.0)
means accepted and queued (the command is acknowledged), 0.3 means the answer follows
asynchronously, FAILED carries the reason. A transport failure (refused, timeout, 5xx)
raises HesUnavailableError: the dispatcher keeps the command and tries again later.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from lxml import etree

from cimhub.errors import TechnicalError
from cimhub.message import ns


class HesUnavailableError(TechnicalError):
    """The head-end did not take the message (unreachable, timeout, HTTP 5xx)."""

    code = "5.3"


@dataclass(frozen=True, slots=True)
class HesAnswer:
    result: str  # OK | PARTIAL | FAILED | "" (no reply we could read)
    code: str
    reason: str


def send_cim(kind: str, url: str, body: bytes, timeout: float) -> HesAnswer:
    """POST the message (``kind`` soap or http) and read the head-end's reply."""
    try:
        status, reply = (_soap if kind == "soap" else _http)(url, body, timeout)
    except HesUnavailableError:
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

    envelope = etree.Element(ns.qname(ns.SOAP11, "Envelope"), nsmap={"soapenv": ns.SOAP11})
    etree.SubElement(envelope, ns.qname(ns.SOAP11, "Body")).append(
        etree.fromstring(body, etree.XMLParser(resolve_entities=False))
    )
    transport = Transport(timeout=timeout, operation_timeout=timeout)
    response = transport.post_xml(
        url, envelope, {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    )
    if response.status_code >= 500 and b"Fault" not in response.content:
        raise HesUnavailableError(f"SOAP HTTP {response.status_code} from {url}")
    return int(response.status_code), bytes(response.content)


_ERROR = "*[local-name()='Error']"


def read_answer(reply: bytes) -> HesAnswer:
    """Result, first code and reasons of a 61968-100 reply (SOAP-wrapped or not)."""
    try:
        root = etree.fromstring(
            reply, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        )
    except etree.XMLSyntaxError:
        return HesAnswer("", "", reply[:200].decode("utf-8", "replace"))
    found = root.find(".//{*}Reply")
    if found is None:
        return HesAnswer("", "", "the head-end's answer holds no Reply")
    result = (found.findtext("{*}Result") or "").strip()
    codes = [c.strip() for c in found.xpath(_ERROR + "/*[local-name()='code']/text()")]
    reasons = found.xpath(_ERROR + "/*[local-name()='reason']/text()")
    return HesAnswer(result, codes[0] if codes else "", "; ".join(r.strip() for r in reasons))
