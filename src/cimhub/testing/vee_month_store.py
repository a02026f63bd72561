"""The fault-injected month (``vee_month``) through a store: its master data as the billing
system's CSV files, its readings stored raw and validated as the MeterReadings handler
does, its power and RCD-switch events sent as EndDeviceEvents by the head-end ``HES-M``.

Meter ``n`` of the month is ``M<n>`` in the store (mRID and serial), consumer ``C<n>``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path

from lxml import etree

from cimhub.domain.reading import MeterRef, ReadingKind, Series
from cimhub.handlers import end_device_events
from cimhub.handlers.registry import HandlerContext
from cimhub.message.envelope import read_envelope
from cimhub.settings import Settings
from cimhub.store.unit_of_work import UnitOfWork
from cimhub.testing.events import Ev, created_end_device_events
from cimhub.testing.vee_days import iso
from cimhub.testing.vee_month import Month
from cimhub.vee.batch import Batch
from cimhub.vee.context import MeterContext, MeterState

HES = "HES-M"
TYPES = {"1P-WC": "1ph_wc", "3P-CT": "ltct"}


def name(n: int) -> str:
    return f"M{n}"


def master_data(folder: Path, contexts: Mapping[int, MeterContext]) -> list[Path]:
    """meter.csv and consumer.csv for the month's meters, as their contexts describe them:
    type, CT ratio, dials, lifecycle stage (an inactive one is still in store, installed
    nowhere) and the consumer it is installed at (category, sanctioned and connected load,
    net metering, PV capacity)."""
    meters = folder / "meter.csv"
    consumers = folder / "consumer.csv"
    with meters.open("w", newline="") as m, consumers.open("w", newline="") as c:
        mw, cw = csv.writer(m), csv.writer(c)
        mw.writerow(["serial_number", "mrid", "meter_type", "ct_ratio", "dials", "hes", "stage",
                     "stage_date"])  # fmt: skip
        cw.writerow(["consumer_number", "category", "sanctioned_load", "load_unit",
                     "connected_load_kw", "net_metering", "pv_capacity_kw", "metered",
                     "meter_serial", "installed_on"])  # fmt: skip
        for n, ctx in sorted(contexts.items()):
            info, up = ctx.meter, ctx.usage_point
            active = info.state is MeterState.IN_SERVICE
            mw.writerow([name(n), name(n), TYPES[info.meter_type or "1P-WC"], info.multiplier,
                         info.dials, HES, "in_service" if active else "in_store",
                         "2024-01-10"])  # fmt: skip
            if active:
                cw.writerow([f"C{n}", "residential", up.sanctioned_load_kw, "kW",
                             up.connected_load_kw, "yes" if up.net_metering else "no",
                             up.pv_capacity_kw or "", "no" if up.non_metered else "yes", name(n),
                             "2024-01-15"])  # fmt: skip
    return [meters, consumers]


def store_raw(
    uow: UnitOfWork, tenant_id: int, batches: Iterable[Batch], type_ids: Mapping[str, int]
) -> None:
    """The batches stored raw, as the handler stores them: one reading per key (the first)."""
    for kind in (ReadingKind.INTERVAL, ReadingKind.REGISTER):
        items = [(b.key.meter_id, type_ids[b.key.reading_type], _raw(b)) for b in batches
                 if b.kind is kind]  # fmt: skip
        uow.readings.save(tenant_id, kind, items, source=HES, message_log_id=None, received_at=0)


def _raw(batch: Batch) -> Series:
    first = dict(reversed(list(zip(batch.timestamps, batch.values, strict=True))))
    stamps = sorted(first)
    values = [first[t] for t in stamps]
    return Series(MeterRef(""), batch.key.reading_type, batch.kind, stamps, values,
                  [""] * len(stamps))  # fmt: skip


def power_events(data: Month, meters: Iterable[int]) -> bytes:
    """The head-end's EndDeviceEvents message of these month meters' power and RCD-switch
    events."""
    wanted = set(meters)
    events = [Ev(name(n), iso(ts), code) for n, ts, code in data.events if n in wanted]
    return created_end_device_events(events)


def receive_events(
    uow: UnitOfWork, tenant_id: int, settings: Settings, raw: bytes, *, now: int
) -> str:
    """Hand an EndDeviceEvents message to its handler as the pipeline would, received at
    ``now`` (the month's clock, not the wall's); the reply's summary."""
    envelope = read_envelope(etree.fromstring(raw))
    context = HandlerContext(uow, tenant_id, settings, None, now, HES, HES)
    outcome = end_device_events.ingest(context, envelope)
    assert outcome.result.value == "OK", outcome
    return outcome.summary or ""
