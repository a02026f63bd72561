"""A SOAP service's operations as its WSDL describes them (read with zeep): the address and
SOAPAction of the document/literal operation that takes each message element.

The hub asks a head-end's WSDL where to post a command or a GetMeterReadings; the
conformance runner asks a system under test's. WSDLs are parsed with no DTD and no
entities (the schemas they import are fetched: that is what a WSDL is for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zeep.transports import Transport

#: Element (Clark name) → (address, SOAPAction).
Operations = dict[str, tuple[str, str]]


def operations(url: str, transport: Transport) -> Operations:
    """Every document/literal operation of the WSDL at ``url`` (zeep, lxml and transport
    errors are the caller's to translate)."""
    import zeep
    import zeep.wsdl

    settings = zeep.Settings(forbid_dtd=True, forbid_entities=True)
    document = zeep.wsdl.Document(url, transport, settings=settings)
    found: Operations = {}
    for service in document.services.values():
        for port in service.ports.values():
            address = port.binding_options.get("address")
            for operation in port.binding._operations.values():
                body = getattr(operation.input, "body", None)
                if address and body is not None and body.qname is not None:
                    found[body.qname.text] = (address, operation.soapaction or "")
    return found
