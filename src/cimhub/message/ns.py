"""Namespace URIs of the 61968-100 envelope, the per-noun messages and SOAP; nothing else."""

from __future__ import annotations

import re

MESSAGE = "http://iec.ch/TC57/2011/schema/message"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CIM_ROOT = "http://iec.ch/TC57/2011/"

_MESSAGE_NS = re.compile(r"^http://iec\.ch/TC57/2011/(\w+)Message$")
_PAYLOAD_NS = re.compile(r"^http://iec\.ch/TC57/2011/(\w+)#$")


def message_ns(noun: str) -> str:
    """Namespace of a noun's strongly-typed messages, e.g. CreatedMeterReadings."""
    return f"{CIM_ROOT}{noun}Message"


def payload_ns(noun: str) -> str:
    """Namespace of a noun's payload profile, e.g. the MeterReadings element."""
    return f"{CIM_ROOT}{noun}#"


def noun_of_message_ns(uri: str) -> str | None:
    match = _MESSAGE_NS.match(uri)
    return match.group(1) if match else None


def noun_of_payload_ns(uri: str) -> str | None:
    match = _PAYLOAD_NS.match(uri)
    return match.group(1) if match else None


def qname(uri: str, local: str) -> str:
    return f"{{{uri}}}{local}"


def split(tag: str) -> tuple[str, str]:
    """'{uri}local' → (uri, local); a tag without a namespace gets ''."""
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return "", tag


def reply_shape_of(tag: str) -> dict[str, str | bool]:
    """How to answer an element that could not be read: its noun, and whether strongly typed.

    >>> reply_shape_of("{http://iec.ch/TC57/2011/GetMeterReadingsMessage}GetMeterReadings")
    {'noun': 'MeterReadings', 'strong': True}
    """
    noun = noun_of_message_ns(split(tag)[0])
    if noun is None:
        return {"noun": "", "strong": False}
    return {"noun": noun[3:] if noun.startswith("Get") else noun, "strong": True}
