"""How a simulated head-end reaches the hub: CIM messages posted to ``/cim``, or as SOAP 1.1
to the hub's ``/soap/Receive<Noun>`` service; with the head-end's API key when it has one."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from lxml import etree

log = logging.getLogger("cimhub.simulator")
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


def soap_wrap(body: bytes) -> bytes:
    """A CIM message as the only child of a SOAP 1.1 Body."""
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soapenv": SOAP11})
    etree.SubElement(envelope, f"{{{SOAP11}}}Body").append(etree.fromstring(body))
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


@dataclass(frozen=True)
class HubClient:
    """The hub as a head-end sees it: where to post, over what, as whom."""

    url: str
    tenant: str | None = "default"  # None: the hub's default (or the key's) tenant
    transport: str = "http"  # or "soap"
    api_key: str | None = None
    timeout: float = 30.0

    def send(self, noun: str, body: bytes) -> int:
        """Post one CIM message; the hub's HTTP status (0 when it could not be reached)."""
        headers = {"X-Cimhub-Tenant": self.tenant} if self.tenant else {}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        base = self.url.rstrip("/")
        if self.transport == "soap":
            target, content = f"{base}/soap/Receive{noun}", soap_wrap(body)
            headers["Content-Type"] = "text/xml; charset=utf-8"
        else:
            target, content = f"{base}/cim", body
            headers["Content-Type"] = "application/xml"
        try:
            response = httpx.post(target, content=content, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            log.warning("the hub did not take a %s message: %s", noun, exc)
            return 0
        if response.status_code >= 400:
            log.warning("the hub answered a %s message with HTTP %s", noun, response.status_code)
        return response.status_code
