"""Building EndDeviceEvents messages in tests: created from a head-end, and get queries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MSG = "http://iec.ch/TC57/2011/schema/message"
EDE = "http://iec.ch/TC57/2011/EndDeviceEvents#"
GEDE = "http://iec.ch/TC57/2011/GetEndDeviceEvents#"


@dataclass(frozen=True)
class Ev:
    """One event to send: meter mRID, createdDateTime text, type code, optional IS 15959 ID."""

    meter: str
    at: str
    code: str
    vendor: str | None = None
    severity: str | None = None


def created_end_device_events(events: Iterable[Ev], verb: str = "created") -> bytes:
    """A strongly-typed CreatedEndDeviceEvents message."""
    body = "".join(_event(e) for e in events)
    return (
        f'<CreatedEndDeviceEvents xmlns="http://iec.ch/TC57/2011/EndDeviceEventsMessage" '
        f'xmlns:msg="{MSG}" xmlns:e="{EDE}"><Header><msg:Verb>{verb}</msg:Verb>'
        f"<msg:Noun>EndDeviceEvents</msg:Noun><msg:Source>HES-T</msg:Source></Header>"
        f"<Payload><e:EndDeviceEvents>{body}</e:EndDeviceEvents></Payload>"
        f"</CreatedEndDeviceEvents>"
    ).encode()


def _event(e: Ev) -> str:
    severity = f"<e:severity>{e.severity}</e:severity>" if e.severity else ""
    vendor = (
        f"<e:EndDeviceEventDetails><e:name>IS15959.EventID</e:name>"
        f"<e:value>{e.vendor}</e:value></e:EndDeviceEventDetails>"
        if e.vendor
        else ""
    )
    return (
        f"<e:EndDeviceEvent><e:createdDateTime>{e.at}</e:createdDateTime>{severity}"
        f"<e:Assets><e:mRID>{e.meter}</e:mRID></e:Assets>{vendor}"
        f'<e:EndDeviceEventType ref="{e.code}"/></e:EndDeviceEvent>'
    )


def get_end_device_events(
    meter: str,
    *,
    by_name: bool = False,
    types: Iterable[str] = (),
    start: str | None = None,
    end: str | None = None,
) -> bytes:
    """A strongly-typed GetEndDeviceEvents by meter (mRID or name), types and period."""
    ident = (
        f"<q:Names><q:name>{meter}</q:name></q:Names>" if by_name else f"<q:mRID>{meter}</q:mRID>"
    )
    parts = [f"<q:Meter>{ident}</q:Meter>"]
    parts += [f'<q:EndDeviceEventType ref="{t}"/>' for t in types]
    if start or end:
        period = (f"<q:end>{end}</q:end>" if end else "") + (
            f"<q:start>{start}</q:start>" if start else ""
        )
        parts.append(
            f"<q:TimeSchedule><q:scheduleInterval>{period}</q:scheduleInterval></q:TimeSchedule>"
        )
    return (
        f'<GetEndDeviceEvents xmlns="http://iec.ch/TC57/2011/GetEndDeviceEventsMessage" '
        f'xmlns:msg="{MSG}" xmlns:q="{GEDE}"><Header><msg:Verb>get</msg:Verb>'
        f"<msg:Noun>EndDeviceEvents</msg:Noun></Header><Request><q:GetEndDeviceEvents>"
        f"{''.join(parts)}</q:GetEndDeviceEvents></Request></GetEndDeviceEvents>"
    ).encode()
