"""How a simulated head-end reaches the hub: CIM messages posted to its ``/cim``."""

from __future__ import annotations

import logging

import httpx
from lxml import etree

log = logging.getLogger("cimhub.simulator")
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


def soap_wrap(body: bytes) -> bytes:
    """A CIM message as the only child of a SOAP 1.1 Body."""
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soapenv": SOAP11})
    etree.SubElement(envelope, f"{{{SOAP11}}}Body").append(etree.fromstring(body))
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def post_to_hub(hub_url: str, body: bytes, tenant: str) -> int:
    """POST a CIM message to the hub; its HTTP status (0 when it could not be reached)."""
    try:
        response = httpx.post(
            hub_url + "/cim", content=body, timeout=30,
            headers={"Content-Type": "application/xml", "X-Cimhub-Tenant": tenant},
        )  # fmt: skip
    except httpx.HTTPError as exc:
        log.warning("the hub did not take a message: %s", exc)
        return 0
    return response.status_code
