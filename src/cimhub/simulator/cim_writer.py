"""What a CIM head-end sends for a batch: CreatedMeterReadings (block load as IntervalBlocks,
daily and billing profiles as register Readings, MD at the time it occurred) and
CreatedEndDeviceEvents (IS 15959 IDs as CIM EndDeviceEventTypes, the ID kept as detail)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence

from lxml import etree

from cimhub.bus.events import wrap
from cimhub.domain.event import Event
from cimhub.domain.reading import MeterRef, ReadingKind
from cimhub.mappings.end_device_events import VENDOR_CODE, write_end_device_events
from cimhub.mappings.meter_readings import SeriesOut, write_meter_readings
from cimhub.message.verb import Noun, Verb
from cimhub.simulator.event_log import EVENTS
from cimhub.simulator.fleet import SimMeter
from cimhub.simulator.profiles import Batch, Billing, Block, DailyLoad

#: measuringPeriod of the 18-field ReadingType code per interval length (cim.md §3).
PERIOD = {900: 2, 1800: 5}
#: Block-load columns: ReadingType (with {p} the measuring period) ← the block's value.
BLOCK_TYPES: dict[str, Callable[[Block], float]] = {
    "0.0.{p}.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0": lambda b: b.kwh_import,
    "0.0.{p}.4.19.1.12.0.0.0.0.0.0.0.0.3.72.0": lambda b: b.kwh_export,
    "0.0.{p}.4.1.1.12.0.0.0.0.0.0.0.0.3.71.0": lambda b: b.kvah_import,
    "0.0.{p}.4.19.1.12.0.0.0.0.0.0.0.0.3.71.0": lambda b: b.kvah_export,
    "0.2.{p}.6.1.1.37.0.0.0.0.0.0.0.0.3.38.0": lambda b: b.demand_kw,
    "0.2.{p}.6.0.1.54.0.0.0.0.0.0.0.128.0.29.0": lambda b: b.voltage,
    "0.2.{p}.6.0.1.4.0.0.0.0.0.0.0.128.0.5.0": lambda b: b.current,
}
KWH_IMPORT = "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
KWH_EXPORT = "0.0.0.1.19.1.12.0.0.0.0.0.0.0.0.3.72.0"
KVAH_IMPORT = "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.71.0"
KVAH_EXPORT = "0.0.0.1.19.1.12.0.0.0.0.0.0.0.0.3.71.0"
MD_KW = "8.8.0.6.1.1.8.0.0.0.0.0.0.0.0.3.38.0"
MD_KVA = "8.8.0.6.1.1.8.0.0.0.0.0.0.0.0.3.61.0"
AVERAGE_PF = "8.2.0.6.0.1.38.0.0.0.0.0.0.0.0.0.65.0"


def tou_type(zone: int) -> str:
    """The cumulative kWh import register of TOU bucket ``zone``."""
    return f"0.0.0.1.1.1.12.0.0.0.0.{zone}.0.0.0.3.72.0"


Point = tuple[str, int, float]  # (ReadingType, epoch, value)


def block_points(block: Block) -> list[Point]:
    period = PERIOD.get(block.meter.interval, 2)
    return [(code.format(p=period), block.end, value(block)) for code, value in BLOCK_TYPES.items()]


def daily_points(row: DailyLoad) -> list[Point]:
    values = (row.kwh_import, row.kwh_export, row.kvah_import, row.kvah_export)
    codes = (KWH_IMPORT, KWH_EXPORT, KVAH_IMPORT, KVAH_EXPORT)
    return [(code, row.at, value) for code, value in zip(codes, values, strict=True)]


def billing_points(row: Billing) -> list[Point]:
    daily = DailyLoad(row.meter, row.at, row.kwh_import, row.kwh_export, row.kvah_import,
                      row.kvah_export)  # fmt: skip
    return [
        *daily_points(daily),
        *((tou_type(zone), row.at, v) for zone, v in enumerate(row.kwh_tou, 1)),
        (MD_KW, row.md_kw_at, row.md_kw),
        (MD_KVA, row.md_kva_at, row.md_kva),
        (AVERAGE_PF, row.at, row.power_factor),
    ]


def meter_readings(batch: Batch, source: str, *, meters_per_message: int = 200) -> list[bytes]:
    """CreatedMeterReadings messages for the batch, ``meters_per_message`` meters each."""
    meters = _by_meter(batch)
    return [
        _message(Noun.METER_READINGS, write_meter_readings(_series(chunk)), source)
        for chunk in (
            meters[i : i + meters_per_message] for i in range(0, len(meters), meters_per_message)
        )
    ]


def readings_payload(batch: Batch, reading_types: Collection[str] = ()) -> etree._Element:
    """The batch as one MeterReadings payload, of these reading types (none: every one):
    what a head-end answers a GetMeterReadings with."""
    wanted = set(reading_types)
    kept = (
        (ref, [s for s in series if not wanted or s.reading_type in wanted])
        for ref, series in _series(_by_meter(batch))
    )
    return write_meter_readings((ref, series) for ref, series in kept if series)


def _by_meter(batch: Batch) -> list[tuple[SimMeter, list[Point], list[Point]]]:
    """Each meter's interval points (blocks) and register points (daily, billing)."""
    by_meter: dict[str, tuple[SimMeter, list[Point], list[Point]]] = {}
    for block in batch.blocks:
        _of(by_meter, block.meter)[1].extend(block_points(block))
    for row in batch.daily:
        _of(by_meter, row.meter)[2].extend(daily_points(row))
    for bill in batch.billing:
        _of(by_meter, bill.meter)[2].extend(billing_points(bill))
    return list(by_meter.values())


def _of(
    found: dict[str, tuple[SimMeter, list[Point], list[Point]]], meter: SimMeter
) -> tuple[SimMeter, list[Point], list[Point]]:
    return found.setdefault(meter.serial, (meter, [], []))


def _series(
    chunk: Sequence[tuple[SimMeter, list[Point], list[Point]]],
) -> Iterable[tuple[MeterRef, list[SeriesOut]]]:
    for meter, intervals, registers in chunk:
        series = _grouped(intervals, ReadingKind.INTERVAL) + _grouped(
            registers, ReadingKind.REGISTER
        )
        yield _ref(meter), series


def _ref(meter: SimMeter) -> MeterRef:
    """The meter by mRID and serial (just the one when a head-end knows it by one name)."""
    return MeterRef(meter.mrid, (meter.serial,) if meter.serial != meter.mrid else ())


def _grouped(points: Iterable[Point], kind: ReadingKind) -> list[SeriesOut]:
    by_type: dict[str, dict[int, float]] = defaultdict(dict)
    for code, ts, value in points:
        by_type[code][ts] = value  # a repeat of the same instant: the later one
    return [
        SeriesOut(code, kind, sorted(v), [v[t] for t in sorted(v)], [""] * len(v))
        for code, v in by_type.items()
    ]


def end_device_events(batch: Batch, source: str) -> bytes | None:
    """One CreatedEndDeviceEvents for the batch's events (None without any)."""
    if not batch.events:
        return None
    events = []
    for e in batch.events:
        code = EVENTS.get(e.code)
        events.append(
            Event(
                meter=_ref(e.meter),
                created=e.at,
                event_type=code.cim if code else f"{VENDOR_CODE}={e.code}",
                vendor_code=e.code,
                vendor_group=str(code.group) if code else None,
                reason=code.words if code else f"event {e.code}",
            )
        )
    return _message(Noun.END_DEVICE_EVENTS, write_end_device_events(events), source)


def _message(noun: Noun, payload: etree._Element, source: str) -> bytes:
    return wrap(noun.value, Verb.CREATED, payload, str(uuid.uuid4()), None, source=source)
