"""Factories of realistic CIM messages: interval reads from an HES, queries from billing.

Used by our tests, the demo and the benchmarks, and by integrators for theirs.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

KWH_15MIN = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
KWH_REGISTER = "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
MR_MSG = "http://iec.ch/TC57/2011/MeterReadingsMessage"
GMR_MSG = "http://iec.ch/TC57/2011/GetMeterReadingsMessage"
MSG = "http://iec.ch/TC57/2011/schema/message"
MR = "http://iec.ch/TC57/2011/MeterReadings#"
GMR = "http://iec.ch/TC57/2011/GetMeterReadings#"


def meter_mrid(n: int) -> str:
    """A stable mRID for demo/test meter number n."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cimhub-meter-{n}"))


def meter_serial(n: int) -> str:
    return f"MH{4_500_000 + n}"


def load_kwh(meter: int, when: datetime) -> float:
    """A residential-looking 15-minute consumption: evening peak, night trough, per-meter scale."""
    hour = when.hour + when.minute / 60
    shape = (
        0.25 + 0.35 * math.exp(-((hour - 20.5) ** 2) / 6) + 0.15 * math.exp(-((hour - 8) ** 2) / 3)
    )
    # Deterministic "appliance noise", so that nights are not flat lines VEE would flag.
    noise = ((meter * 7919 + int(when.timestamp()) // 900 * 104_729) % 97) / 97 * 0.08
    return round(shape * (0.6 + (meter % 7) / 10) + noise, 3)


def register_kwh(meter: int, when: datetime) -> float:
    """A cumulative kWh register consistent in scale with ``load_kwh`` (about 12 kWh a day)."""
    days = (when - datetime(2020, 1, 1, tzinfo=UTC)).total_seconds() / 86_400
    return round(days * 12 * (0.6 + (meter % 7) / 10), 2)


def interval_stamps(start: datetime, count: int, minutes: int = 15) -> list[datetime]:
    """Interval-end timestamps: the first is start + one interval."""
    return [start + timedelta(minutes=minutes * (i + 1)) for i in range(count)]


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def created_meter_readings(
    meters: Sequence[int],
    start: datetime,
    intervals: int = 96,
    *,
    message_id: str | None = None,
    source: str = "HES-A",
    reading_type: str = KWH_15MIN,
    sent_at: datetime | None = None,
    register_reads: bool = False,
) -> bytes:
    """A strongly-typed CreatedMeterReadings: each meter × `intervals` 15-minute kWh reads.

    Values are a deterministic function of (meter, time). With ``message_id`` and
    ``sent_at`` the bytes are too (benchmarks compare runs on identical traffic).
    ``register_reads`` adds each meter's cumulative kWh register at the period's end, as
    HES daily pushes often carry beside the profile.
    """
    moments = interval_stamps(start, intervals)
    stamps = [stamp(t) for t in moments]
    parts = [
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<CreatedMeterReadings xmlns="{MR_MSG}" xmlns:msg="{MSG}"><Header>'
        f"<msg:Verb>created</msg:Verb><msg:Noun>MeterReadings</msg:Noun>"
        f"<msg:Timestamp>{stamp(sent_at or datetime.now(UTC))}</msg:Timestamp>"
        f"<msg:Source>{source}</msg:Source>"
        f"<msg:MessageID>{message_id or uuid.uuid4()}</msg:MessageID>"
        f'</Header><Payload><MeterReadings xmlns="{MR}">'
    ]
    for meter in meters:
        parts.append("<MeterReading><IntervalBlocks>")
        parts.extend(
            f"<IntervalReadings><timeStamp>{s}</timeStamp><value>{load_kwh(meter, m)}</value>"
            f"</IntervalReadings>"
            for s, m in zip(stamps, moments, strict=True)
        )
        parts.append(
            f'<ReadingType ref="{reading_type}"/></IntervalBlocks><Meter><mRID>{meter_mrid(meter)}'
            f"</mRID><Names><name>{meter_serial(meter)}</name></Names></Meter>"
        )
        if register_reads and moments:
            parts.append(
                f"<Readings><timeStamp>{stamps[-1]}</timeStamp>"
                f"<value>{register_kwh(meter, moments[-1])}</value>"
                f'<ReadingType ref="{KWH_REGISTER}"/></Readings>'
            )
        parts.append("</MeterReading>")
    parts.append("</MeterReadings></Payload></CreatedMeterReadings>")
    return "".join(parts).encode()


def readings_message(
    meter: str,
    intervals: Mapping[str, Mapping[int, float]] | None = None,
    registers: Mapping[str, Mapping[int, float]] | None = None,
    *,
    verb: str = "created",
    source: str = "HES-A",
    user: str | None = None,
    comment: str | None = None,
) -> bytes:
    """A strongly-typed MeterReadings message of one meter (by mRID): interval blocks and
    register reads per ReadingType code, each {epoch seconds: value}; ``user`` and
    ``comment`` go in the header (who edits and why, for a ``change``)."""

    def at(ts: int) -> str:
        return stamp(datetime.fromtimestamp(ts, UTC))

    blocks = "".join(
        "<IntervalBlocks>"
        + "".join(
            f"<IntervalReadings><timeStamp>{at(ts)}</timeStamp><value>{v}</value>"
            "</IntervalReadings>"
            for ts, v in sorted(values.items())
        )
        + f'<ReadingType ref="{code}"/></IntervalBlocks>'
        for code, values in (intervals or {}).items()
    )
    reads = "".join(
        f'<Readings><timeStamp>{at(ts)}</timeStamp><value>{v}</value><ReadingType ref="{code}"/>'
        "</Readings>"
        for code, values in (registers or {}).items()
        for ts, v in sorted(values.items())
    )
    element = verb.capitalize() + "MeterReadings"
    return (
        f'<{element} xmlns="{MR_MSG}" xmlns:msg="{MSG}"><Header><msg:Verb>{verb}</msg:Verb>'
        f"<msg:Noun>MeterReadings</msg:Noun><msg:Source>{source}</msg:Source>"
        + (f"<msg:User><msg:UserID>{user}</msg:UserID></msg:User>" if user else "")
        + f"<msg:MessageID>{uuid.uuid4()}</msg:MessageID>"
        + (f"<msg:Comment>{comment}</msg:Comment>" if comment else "")
        + "</Header>"
        f'<Payload><MeterReadings xmlns="{MR}"><MeterReading>{blocks}'
        f"<Meter><mRID>{meter}</mRID></Meter>{reads}</MeterReading></MeterReadings></Payload>"
        f"</{element}>"
    ).encode()


def get_meter_readings(
    meter_mrids: Sequence[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    names: Sequence[str] = (),
    continuation: str | None = None,
    usage_points: Sequence[str] = (),
    options: Mapping[str, str] | None = None,
) -> bytes:
    """A strongly-typed GetMeterReadings for meters by mRID or name, or usage points by
    mRID, over (start, end]; ``options`` are Request/Option name → value."""
    devices = "".join(f"<EndDevice><mRID>{m}</mRID></EndDevice>" for m in meter_mrids)
    devices += "".join(f"<EndDevice><Names><name>{n}</name></Names></EndDevice>" for n in names)
    devices += "".join(f"<UsagePoint><mRID>{u}</mRID></UsagePoint>" for u in usage_points)
    period = ""
    if start or end:
        period = (
            "<Reading><timePeriod>"
            + (f"<end>{stamp(end)}</end>" if end else "")
            + (f"<start>{stamp(start)}</start>" if start else "")
            + "</timePeriod></Reading>"
        )
    named = {**({"continuation": continuation} if continuation else {}), **(options or {})}
    option = "".join(
        f"<Option><msg:name>{name}</msg:name><msg:value>{value}</msg:value></Option>"
        for name, value in named.items()
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<GetMeterReadings xmlns="{GMR_MSG}" xmlns:msg="{MSG}">'
        f"<Header><msg:Verb>get</msg:Verb><msg:Noun>MeterReadings</msg:Noun>"
        f"<msg:MessageID>{uuid.uuid4()}</msg:MessageID></Header>"
        f'<Request>{option}<GetMeterReadings xmlns="{GMR}">{devices}{period}'
        f"</GetMeterReadings></Request>"
        f"</GetMeterReadings>"
    ).encode()
