"""A meter event: its CIM EndDeviceEventType code, the vendor's code, severity and priority.

Codes follow IEC 61968-9 ``type.domain.subDomain.eventOrAction`` (reference/cim.md §4).
A type that is not such a code in a known domain is kept as received and flagged
unmapped: it is stored and reported, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from cimhub.domain.reading import MeterRef


class Priority(StrEnum):
    """How urgently someone must look: tamper, supply and switch events come first."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


#: EndDeviceEventType domains (61968-9 Annex E) and the priority of their events.
DOMAINS: dict[int, tuple[str, Priority]] = {
    1: ("communication", Priority.LOW),
    2: ("battery", Priority.LOW),
    8: ("demand", Priority.MEDIUM),
    11: ("firmware", Priority.LOW),
    12: ("security", Priority.HIGH),
    15: ("load control", Priority.MEDIUM),
    26: ("power", Priority.HIGH),
    31: ("RCD switch", Priority.HIGH),
    36: ("clock", Priority.LOW),
    # not from the reference: the domain of cimhub's own prepaid/postpaid mode-switch
    # codes 3.20.9.26 / 3.20.9.22 (domain/command.py), which IS 15959 events 212/211 map to
    20: ("payment mode", Priority.MEDIUM),
}

#: Severity when the sender gives none, by priority.
DEFAULT_SEVERITY = {Priority.HIGH: "major", Priority.MEDIUM: "minor", Priority.LOW: "informational"}

POWER_OFF = "3.26.0.85"
POWER_ON = "3.26.0.216"


def cim_domain(code: str) -> int | None:
    """The domain of a well-formed CIM event code in a known domain, else None.

    >>> cim_domain("3.26.0.85")
    26
    >>> cim_domain("3.99.0.1") is None, cim_domain("101") is None, cim_domain("3.x.0.1") is None
    (True, True, True)
    """
    parts = code.split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    domain = int(parts[1])
    return domain if domain in DOMAINS else None


def priority_of(code: str) -> Priority:
    """Priority from the code's domain; an unmapped code is looked at soon (MEDIUM).

    >>> priority_of("3.12.29.39"), priority_of("3.36.114.24"), priority_of("EVT-9")
    (<Priority.HIGH: 'high'>, <Priority.LOW: 'low'>, <Priority.MEDIUM: 'medium'>)
    """
    domain = cim_domain(code)
    return DOMAINS[domain][1] if domain is not None else Priority.MEDIUM


@dataclass(frozen=True, slots=True)
class Event:
    """One EndDeviceEvent as the hub keeps it; ``created`` is UTC epoch seconds."""

    meter: MeterRef
    created: int
    event_type: str  # the CIM code, or the type as received when unmapped
    severity: str = ""
    mrid: str | None = None
    vendor_code: str | None = None  # e.g. the IS 15959 event ID
    vendor_group: str | None = None  # e.g. the IS 15959 event group
    reason: str = ""
    usage_point: str | None = None
    details: dict[str, str] = field(default_factory=dict)

    @property
    def mapped(self) -> bool:
        return cim_domain(self.event_type) is not None

    @property
    def priority(self) -> Priority:
        return priority_of(self.event_type)

    @property
    def effective_severity(self) -> str:
        """The sender's severity, else one derived from the priority."""
        return self.severity or DEFAULT_SEVERITY[self.priority]

    @property
    def key(self) -> tuple[str, str, int]:
        """The natural key within a tenant: meter, type, created time."""
        return (self.meter.key, self.event_type, self.created)


def drop_repeats(events: list[Event]) -> tuple[list[Event], int]:
    """The events with repeats of a natural key removed (first kept), and how many went.

    >>> e = Event(MeterRef("m"), 1, POWER_OFF)
    >>> kept, dropped = drop_repeats([e, e])
    >>> kept == [e], dropped
    (True, 1)
    """
    seen: set[tuple[str, str, int]] = set()
    kept = []
    for event in events:
        if event.key not in seen:
            seen.add(event.key)
            kept.append(event)
    return kept, len(events) - len(kept)
