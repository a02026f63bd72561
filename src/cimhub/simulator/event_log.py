"""The IS 15959 events simulated meters log: event ID → its group (the event log it is
kept in) and the CIM EndDeviceEventType a CIM head-end reports it as (india-metering.md §2,
cim.md §4)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EventCode:
    group: int  # 0 voltage, 1 current, 2 power failure, 4 other/tamper, 5 non-rollover, 6 control
    cim: str
    words: str


EVENTS: dict[str, EventCode] = {
    "51": EventCode(1, "3.12.93.219", "R-phase current reverse"),
    "65": EventCode(1, "3.12.0.257", "current bypass"),
    "101": EventCode(2, "3.26.0.85", "power failure"),
    "102": EventCode(2, "3.26.0.216", "power restoration"),
    "201": EventCode(4, "3.12.66.257", "magnetic influence"),
    "203": EventCode(4, "3.12.0.257", "neutral disturbance"),
    "251": EventCode(5, "3.12.29.39", "meter cover open"),
    "301": EventCode(6, "3.31.0.68", "load switch disconnected"),
    "302": EventCode(6, "3.31.0.42", "load switch connected"),
}
