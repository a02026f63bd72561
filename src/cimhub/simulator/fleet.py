"""The simulated meters: who they are (mRID, serial, head-end), what they measure (a
consumer) and how often (15- or 30-minute blocks); numbered, or read from a meter CSV."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cimhub.simulator.load_shape import Category, Consumer, unit_noise


@dataclass(frozen=True, slots=True)
class SimMeter:
    number: int  # seeds its noise; stable across runs
    mrid: str
    serial: str
    hes: str
    consumer: Consumer
    interval: int = 900
    phases: int = 1

    @property
    def key(self) -> str:
        """How a head-end names it: by serial (MQTT vendors) — the CIM head-end sends both."""
        return self.serial


def meter_mrid(n: int) -> str:
    """A stable mRID for demo/test meter number n."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cimhub-meter-{n}"))


def meter_serial(n: int) -> str:
    return f"MH{4_500_000 + n}"


def consumer_of(n: int, seed: int = 0) -> Consumer:
    """A plausible consumer for meter n: four in five domestic (1–2.5 kW peak, one in ten of
    them with 2–3 kW rooftop PV), the rest commercial (5–20 kW)."""
    draw = [unit_noise(seed, n, k) for k in range(4)]
    power_factor = round(0.88 + 0.1 * draw[2], 3)
    if draw[0] < 0.8:
        pv = round(2 + draw[3], 1) if draw[3] < 0.1 else 0.0
        return Consumer(Category.DOMESTIC, round(1 + 1.5 * draw[1], 2), power_factor, pv)
    return Consumer(Category.COMMERCIAL, round(5 + 15 * draw[1], 2), power_factor)


def numbered(
    count: int, *, hes: str = "HES-SIM", first: int = 1, interval: int = 900, seed: int = 0
) -> list[SimMeter]:
    """Meters first … first+count-1 (serials MH4500001…, mRIDs from the number)."""
    return [
        SimMeter(n, meter_mrid(n), meter_serial(n), hes, consumer_of(n, seed), interval)
        for n in range(first, first + count)
    ]


def from_csv(
    path: Path, *, hes: str | None = None, interval: int = 900, seed: int = 0
) -> list[SimMeter]:
    """Meters of a master-data meter CSV (as `cimhub import csv` takes: ``mrid``,
    ``serial_number``, ``hes``; optional ``category``, ``peak_kw``, ``pv_kw``,
    ``interval``), so the simulator reads exactly the meters the hub knows."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(_rows(csv.DictReader(handle), hes, interval, seed))


def write_csv(meters: Iterable[SimMeter], path: Path) -> None:
    """The meters as a meter CSV for `cimhub import csv` (name the file meters….csv), so the
    hub knows each meter's head-end and routes its commands there."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["mrid", "serial_number", "hes", "stage", "phases"])
        out.writerows([m.mrid, m.serial, m.hes, "in_service", m.phases] for m in meters)


def _rows(
    rows: Iterable[dict[str, str]], hes: str | None, interval: int, seed: int
) -> Iterable[SimMeter]:
    for n, row in enumerate(rows, 1):
        serial = row.get("serial_number") or row.get("mrid") or f"SIM{n}"
        base = consumer_of(n, seed)
        consumer = Consumer(
            Category(row.get("category") or base.category),
            float(row.get("peak_kw") or base.peak_kw),
            base.power_factor,
            float(row.get("pv_kw") or base.pv_kw),
        )
        yield SimMeter(
            n,
            row.get("mrid") or serial,
            serial,
            hes or row.get("hes") or "HES-SIM",
            consumer,
            int(row.get("interval") or interval),
        )
