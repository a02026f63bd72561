"""Stored cycle determinants → a MeterReadings payload: one MeterReading per usage point
(its main meter and its UsagePoint), one Reading per determinant ReadingType (billing
period, TOU buckets, maximum demand stamped at its time)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lxml import etree

from cimhub.billing import reading_types as rt
from cimhub.billing.channel import Channel
from cimhub.domain.reading import MeterRef, ReadingKind
from cimhub.mappings.meter_readings import MR, SeriesOut, write_meter_readings

ESTIMATED = "3.8.0"


def determinant_series(item: Mapping[str, Any]) -> list[SeriesOut]:
    """The readings of one stored determinant row (``data`` as summary)."""
    d, end = item["data"], item["period_end"]
    demand_seconds = d.get("demand_seconds", 900)
    quality = ESTIMATED if d.get("estimated_pct") or d.get("estimated") else ""
    out: list[tuple[str, int, float]] = []
    for channel in Channel:
        out.append((rt.energy(channel), end, d[channel.value]))
        for bucket, value in d["tou"].get(channel.value, {}).items():
            out.append((rt.energy(channel, int(bucket)), end, value))
    out.append((rt.energy("kwh_net"), end, d["kwh_net"]))
    for name in ("kw", "kva"):
        md = d.get(f"md_{name}")
        if md:
            out.append((rt.demand(name, demand_seconds), md["ts"], md["value"]))
        for bucket, value in d["md_tou"].get(name, {}).items():
            if value:
                out.append(
                    (rt.demand(name, demand_seconds, int(bucket)), value["ts"], value["value"])
                )
    if d.get("power_factor") is not None:
        out.append((rt.POWER_FACTOR, end, d["power_factor"]))
    series = [SeriesOut(code, ReadingKind.REGISTER, [ts], [v], [quality]) for code, ts, v in out]
    for key, code in rt.EVENT_FIGURES.items():  # counted from events: never estimated
        if key in d:  # rows stored before events were counted lack them
            series.append(SeriesOut(code, ReadingKind.REGISTER, [end], [d[key]], [""]))
    return series


#: the prepaid feed's channels (use case 1.4: the day's import and export per TOU bucket)
DAILY_CHANNELS = (Channel.KWH_IMPORT, Channel.KWH_EXPORT)


def daily_series(summary: Mapping[str, Any], end: int, *, estimated: bool) -> list[SeriesOut]:
    """One day's kWh import and export, in total and per TOU bucket (macroPeriod 11),
    stamped at the day's end; ``summary`` as ``Determinants.summary()``."""
    quality = ESTIMATED if estimated else ""
    out = []
    for channel in DAILY_CHANNELS:
        out.append((rt.daily_energy(channel), summary[channel.value]))
        for bucket, value in summary["tou"].get(channel.value, {}).items():
            out.append((rt.daily_energy(channel, int(bucket)), value))
    return [SeriesOut(code, ReadingKind.REGISTER, [end], [v], [quality]) for code, v in out]


def write_determinants(
    items: Iterable[tuple[MeterRef, str, list[SeriesOut]]], wanted: set[str] | None = None
) -> etree._Element:
    """(main meter, usage point mRID, series) → a MeterReadings payload; ``wanted`` filters
    the ReadingTypes (a subscriber's or a query's)."""
    rows = [
        (meter, up, [s for s in series if wanted is None or s.reading_type in wanted])
        for meter, up, series in items
    ]
    payload = write_meter_readings((meter, series) for meter, _, series in rows)
    for reading, (_, up, _) in zip(payload, rows, strict=True):
        point = etree.SubElement(reading, f"{{{MR}}}UsagePoint")
        etree.SubElement(point, f"{{{MR}}}mRID").text = up
    return payload
