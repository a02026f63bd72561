"""MeterReadings payloads ↔ columnar Series, extracted column-wise for speed.

Hot path: per IntervalBlock, two compiled XPaths pull every timeStamp and value as text;
timestamps are converted through a cache and values with one ``map(float, …)``. Only
blocks that carry ReadingQualities (rare) are walked reading by reading.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lxml import etree

from cimhub.domain.reading import MeterRef, ReadingKind, Series
from cimhub.domain.reading_type import parse_reading_type
from cimhub.errors import CimHubError, FunctionalError, InvalidValueError
from cimhub.mappings.timestamp import to_epoch, to_text
from cimhub.message import ns
from cimhub.message.reply import ReplyError

MR = ns.payload_ns("MeterReadings")
NS = {"m": MR}


def _tag(local: str) -> str:
    return f"{{{MR}}}{local}"


_TS = etree.XPath("m:IntervalReadings/m:timeStamp/text()", namespaces=NS)
_VALUES = etree.XPath("m:IntervalReadings/m:value/text()", namespaces=NS)
_HAS_QUALITY = etree.XPath("boolean(m:IntervalReadings/m:ReadingQualities)", namespaces=NS)
_COUNT = etree.XPath("count(m:IntervalReadings)", namespaces=NS)


@dataclass(slots=True)
class MeterReadingItem:
    """One MeterReading of a message: the meter it names and its series."""

    index: int
    meter: MeterRef
    usage_point: str | None
    series: list[Series]

    @property
    def xpath(self) -> str:
        return f"/MeterReadings/MeterReading[{self.index}]"

    @property
    def count(self) -> int:
        return sum(len(s) for s in self.series)


def read_meter_readings(payload: etree._Element) -> tuple[list[MeterReadingItem], list[ReplyError]]:
    """Map a MeterReadings element; a faulty MeterReading becomes an error, the rest go on."""
    items: list[MeterReadingItem] = []
    errors: list[ReplyError] = []
    for index, reading in enumerate(payload.iterfind(_tag("MeterReading")), 1):
        meter = _ref(reading.find(_tag("Meter")))
        try:
            items.append(_item(index, reading, meter))
        except FunctionalError as exc:
            errors.append(_item_error(exc, index, meter))
    return items, errors


def _item_error(exc: CimHubError, index: int, meter: MeterRef | None) -> ReplyError:
    where = f"/MeterReadings/MeterReading[{index}]" + (f"/{exc.xpath}" if exc.xpath else "")
    return ReplyError(
        exc.code, exc.reason, xpath=where, line=exc.line, object_id=meter.key if meter else None
    )


def _item(index: int, reading: etree._Element, meter: MeterRef | None) -> MeterReadingItem:
    if meter is None:
        raise FunctionalError("MeterReading names no Meter (mRID or Names/name)", xpath="Meter")
    series = [
        _interval_series(block, meter, n)
        for n, block in enumerate(reading.iterfind(_tag("IntervalBlocks")), 1)
    ]
    series.extend(_register_series(reading, meter))
    usage_point = _ref(reading.find(_tag("UsagePoint")))
    return MeterReadingItem(index, meter, usage_point.key if usage_point else None, series)


def _ref(el: etree._Element | None) -> MeterRef | None:
    """An object reference: mRID and/or Names/name."""
    if el is None:
        return None
    mrid = (el.findtext(_tag("mRID")) or "").strip() or None
    names = tuple(n.strip() for n in el.xpath("m:Names/m:name/text()", namespaces=NS) if n.strip())
    if mrid is None and not names:
        return None
    return MeterRef(mrid, names)


def _reading_type(holder: etree._Element, where: str) -> str:
    el = holder.find(_tag("ReadingType"))
    code = None
    if el is not None:
        code = (
            el.get("ref")
            or el.findtext(_tag("mRID"))
            or el.findtext(f"{_tag('Names')}/{_tag('name')}")
        )
    if not code:
        raise FunctionalError("no ReadingType reference", xpath=f"{where}/ReadingType")
    try:
        return parse_reading_type(code).code
    except InvalidValueError as exc:
        raise FunctionalError(exc.reason, xpath=f"{where}/ReadingType") from exc


def _interval_series(block: etree._Element, meter: MeterRef, n: int) -> Series:
    where = f"IntervalBlocks[{n}]"
    code = _reading_type(block, where)
    stamps, values = _TS(block), _VALUES(block)
    count = int(_COUNT(block))
    if len(stamps) != count or len(values) != count:
        raise FunctionalError(
            "an IntervalReading lacks its timeStamp or value", xpath=f"{where}/IntervalReadings"
        )
    qualities = _qualities(block) if _HAS_QUALITY(block) else [""] * count
    return Series(
        meter,
        code,
        ReadingKind.INTERVAL,
        _epochs(stamps, where),
        _floats(values, f"{where}/IntervalReadings"),
        qualities,
    )


def _qualities(block: etree._Element) -> list[str]:
    return [
        " ".join(q.get("ref", "") for q in reading.iterfind(_tag("ReadingQualities")))
        for reading in block.iterfind(_tag("IntervalReadings"))
    ]


def _register_series(reading: etree._Element, meter: MeterRef) -> list[Series]:
    """Readings (register reads): grouped per ReadingType, one walk (they are few)."""
    grouped: dict[str, Series] = {}
    for n, el in enumerate(reading.iterfind(_tag("Readings")), 1):
        where = f"Readings[{n}]"
        code = _reading_type(el, where)
        stamp, value = el.findtext(_tag("timeStamp")), el.findtext(_tag("value"))
        if stamp is None or value is None:
            raise FunctionalError("a Reading lacks its timeStamp or value", xpath=where)
        series = grouped.setdefault(code, Series(meter, code, ReadingKind.REGISTER))
        series.timestamps.append(_epochs([stamp], where)[0])
        series.values.append(_floats([value], f"{where}/value")[0])
        series.qualities.append(
            " ".join(q.get("ref", "") for q in el.iterfind(_tag("ReadingQualities")))
        )
    return list(grouped.values())


def _epochs(stamps: Sequence[str], where: str) -> list[int]:
    try:
        return [to_epoch(s) for s in stamps]
    except FunctionalError as exc:
        exc.xpath = f"{where}/timeStamp"
        raise


def _floats(texts: Sequence[str], where: str) -> list[float]:
    try:
        values = list(map(float, texts))
    except ValueError:
        bad = next(i for i, t in enumerate(texts) if not _is_number(t))
        raise InvalidValueError(
            f"value {texts[bad]!r} is not a number", xpath=f"{where}[{bad + 1}]/value"
        ) from None
    if not all(map(math.isfinite, values)):
        bad = next(i for i, v in enumerate(values) if not math.isfinite(v))
        raise InvalidValueError(
            f"value {texts[bad]!r} is not finite", xpath=f"{where}[{bad + 1}]/value"
        )
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class SeriesOut:
    """One series to write into a reply."""

    reading_type: str
    kind: ReadingKind
    timestamps: Sequence[int]
    values: Sequence[float]
    qualities: Sequence[str]


def write_meter_readings(meters: Iterable[tuple[MeterRef, Sequence[SeriesOut]]]) -> etree._Element:
    """A MeterReadings payload: one MeterReading per meter, naming it by mRID and names."""
    root = etree.Element(_tag("MeterReadings"), nsmap={None: MR})
    for meter, series in meters:
        reading = etree.SubElement(root, _tag("MeterReading"))
        intervals = [s for s in series if s.kind is ReadingKind.INTERVAL]
        registers = [s for s in series if s.kind is ReadingKind.REGISTER]
        for s in intervals:
            _write_block(etree.SubElement(reading, _tag("IntervalBlocks")), s)
        _write_meter(etree.SubElement(reading, _tag("Meter")), meter)
        for s in registers:
            for ts, value, quality in zip(s.timestamps, s.values, s.qualities, strict=True):
                el = etree.SubElement(reading, _tag("Readings"))
                _write_reading(el, ts, value, quality)
                etree.SubElement(el, _tag("ReadingType"), ref=s.reading_type)
    return root


def _write_meter(el: etree._Element, meter: MeterRef) -> None:
    if meter.mrid:
        etree.SubElement(el, _tag("mRID")).text = meter.mrid
    for name in meter.names:
        etree.SubElement(etree.SubElement(el, _tag("Names")), _tag("name")).text = name


def _write_block(block: etree._Element, s: SeriesOut) -> None:
    sub = etree.SubElement
    for ts, value, quality in zip(s.timestamps, s.values, s.qualities, strict=True):
        _write_reading(sub(block, _tag("IntervalReadings")), ts, value, quality)
    sub(block, _tag("ReadingType"), ref=s.reading_type)


def _write_reading(el: etree._Element, ts: int, value: float, quality: str) -> None:
    etree.SubElement(el, _tag("timeStamp")).text = to_text(ts)
    etree.SubElement(el, _tag("value")).text = repr(value)
    for code in quality.split():
        etree.SubElement(el, _tag("ReadingQualities"), ref=code)
