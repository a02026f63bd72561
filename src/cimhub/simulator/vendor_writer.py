"""What an MQTT vendor head-end publishes for a batch, in its profile's JSON: the IS 15959
block-load, daily-load and billing columns by OBIS code (raw values, before the profile's
scaler), and its events by IS 15959 event ID."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from cimhub.adapters.profile import VendorProfile
from cimhub.simulator.event_log import EVENTS
from cimhub.simulator.load_shape import IST_OFFSET
from cimhub.simulator.profiles import Batch, Billing, Block, DailyLoad

IST = timezone(timedelta(seconds=IST_OFFSET))
#: Block-load capture objects (india-metering.md §1) ← the block's value.
BLOCK_OBIS: dict[str, Callable[[Block], float]] = {
    "1.0.1.29.0.255": lambda b: b.kwh_import,
    "1.0.2.29.0.255": lambda b: b.kwh_export,
    "1.0.9.29.0.255": lambda b: b.kvah_import,
    "1.0.10.29.0.255": lambda b: b.kvah_export,
    "1.0.12.27.0.255": lambda b: b.voltage,
    "1.0.11.27.0.255": lambda b: b.current,
}
#: Daily-load cumulative registers.
DAILY_OBIS: dict[str, Callable[[DailyLoad | Billing], float]] = {
    "1.0.1.8.0.255": lambda r: r.kwh_import,
    "1.0.2.8.0.255": lambda r: r.kwh_export,
    "1.0.9.8.0.255": lambda r: r.kvah_import,
    "1.0.10.8.0.255": lambda r: r.kvah_export,
}
MD_KW, MD_KVA = "1.0.1.6.0.255", "1.0.9.6.0.255"
AVERAGE_PF, POWER_ON = "1.0.13.0.0.255", "0.0.94.91.13.255"

Row = tuple[int, dict[str, float]]  # (time, OBIS → physical value)


def billing_rows(bill: Billing) -> list[Row]:
    """The billing snapshot at the billing date; each MD at the time it occurred."""
    columns = {code: value(bill) for code, value in DAILY_OBIS.items()}
    columns |= {f"1.0.1.8.{zone}.255": v for zone, v in enumerate(bill.kwh_tou, 1)}
    columns |= {AVERAGE_PF: bill.power_factor, POWER_ON: float(bill.power_on_minutes)}
    return [
        (bill.at, columns),
        (bill.md_kw_at, {MD_KW: bill.md_kw}),
        (bill.md_kva_at, {MD_KVA: bill.md_kva}),
    ]


def rows_by_meter(batch: Batch) -> dict[str, list[Row]]:
    """Every row of the batch, per meter serial, in time order."""
    rows: dict[str, list[Row]] = {}
    for block in batch.blocks:
        rows.setdefault(block.meter.serial, []).append(
            (block.end, {code: value(block) for code, value in BLOCK_OBIS.items()})
        )
    for daily in batch.daily:
        rows.setdefault(daily.meter.serial, []).append(
            (daily.at, {code: value(daily) for code, value in DAILY_OBIS.items()})
        )
    for bill in batch.billing:
        rows.setdefault(bill.meter.serial, []).extend(billing_rows(bill))
    return {meter: sorted(found, key=lambda r: r[0]) for meter, found in rows.items()}


def stamp(profile_spec: dict[str, str], epoch: int) -> Any:
    """A time as the vendor writes it: epoch seconds, or ISO 8601 in IST."""
    if profile_spec.get("time_format") == "epoch":
        return epoch
    return datetime.fromtimestamp(epoch, UTC).astimezone(IST).isoformat()


def _raw(profile: VendorProfile, obis: str, value: float) -> float:
    """The value as the meter sends it: before the profile's scaler."""
    mapping = profile.obis.get(obis)
    return round(value / 10**mapping.scaler, 6) if mapping else value


def readings_payload(profile: VendorProfile, meter: str, rows: list[Row]) -> dict[str, Any]:
    """One meter's rows in the profile's layout: an object per time with OBIS columns, or an
    object per (time, OBIS, value)."""
    spec = profile.readings
    if spec.get("layout") == "rows":
        items = [
            {
                spec["time"]: stamp(spec, ts),
                spec["obis"]: obis,
                spec["value"]: _raw(profile, obis, v),
            }
            for ts, columns in rows
            for obis, v in columns.items()
        ]
    else:
        items = [
            {spec["time"]: stamp(spec, ts), **{o: _raw(profile, o, v) for o, v in columns.items()}}
            for ts, columns in rows
        ]
    return {spec["meter"]: meter, spec["list"]: items}


def events_payload(profile: VendorProfile, batch: Batch) -> dict[str, Any] | None:
    """The batch's events in one vendor message (None without any)."""
    if not batch.events:
        return None
    spec = profile.events
    items = []
    for event in batch.events:
        item = {spec["meter"]: event.meter.serial, spec["id"]: event.code,
                spec["time"]: stamp(spec, event.at)}  # fmt: skip
        if "group" in spec and event.code in EVENTS:
            item[spec["group"]] = EVENTS[event.code].group
        items.append(item)
    return {spec["list"]: items}
