"""IS 15959 profiles of simulated meters: block load (15/30-minute kWh and kVAh import and
export, average voltage and current, demand), daily load (cumulative registers at local
midnight) and billing (monthly cumulative and TOU registers, MD with its time, average
power factor, power-on minutes) — the registers kept consistent with the blocks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from cimhub.simulator.fleet import SimMeter, consumer_of
from cimhub.simulator.load_shape import IST_OFFSET, local_time, net_power_kw, unit_noise

#: TOU zones by local start hour: 1 night 00–06, 2 morning 06–09, 3 solar 09–17, 4 peak 17–24.
TOU_ZONES = ((0, 1), (6, 2), (9, 3), (17, 4))
#: Seconds without supply in (start, end] for a meter serial: outages the plan injects.
PowerOff = Callable[[str, int, int], int]


@dataclass(frozen=True, slots=True)
class Block:
    """One block-load row: the interval ending at ``end``."""

    meter: SimMeter
    end: int
    kwh_import: float
    kvah_import: float
    kwh_export: float
    kvah_export: float
    voltage: float
    current: float

    @property
    def demand_kw(self) -> float:
        return round(self.kwh_import * 3600 / self.meter.interval, 3)

    @property
    def demand_kva(self) -> float:
        return round(self.kvah_import * 3600 / self.meter.interval, 3)

    def scaled(self, factor: float) -> Block:
        """The same row with its energies multiplied (a spike)."""
        return replace(self, kwh_import=round(self.kwh_import * factor, 3),
                       kvah_import=round(self.kvah_import * factor, 3))  # fmt: skip


@dataclass(frozen=True, slots=True)
class DailyLoad:
    """Cumulative registers at local midnight."""

    meter: SimMeter
    at: int
    kwh_import: float
    kwh_export: float
    kvah_import: float
    kvah_export: float


@dataclass(frozen=True, slots=True)
class Billing:
    """A billing period closed at ``at`` (local midnight of the 1st)."""

    meter: SimMeter
    at: int
    kwh_import: float
    kwh_tou: tuple[float, ...]
    kvah_import: float
    kwh_export: float
    kvah_export: float
    md_kw: float
    md_kw_at: int
    md_kva: float
    md_kva_at: int
    power_factor: float
    power_on_minutes: int


@dataclass(frozen=True, slots=True)
class MeterEvent:
    """An IS 15959 event (its event ID) the meter logged at ``at``."""

    meter: SimMeter
    at: int
    code: str


@dataclass
class Batch:
    """What a head-end has to send after one step of simulated time."""

    blocks: list[Block] = field(default_factory=list)
    daily: list[DailyLoad] = field(default_factory=list)
    billing: list[Billing] = field(default_factory=list)
    events: list[MeterEvent] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.blocks or self.daily or self.billing or self.events)

    def of(self, hes: str) -> Batch:
        """The part of the batch whose meters belong to head-end ``hes``."""
        return Batch(*([r for r in rows if r.meter.hes == hes] for rows in self.lists()))

    def lists(self) -> tuple[list[Block], list[DailyLoad], list[Billing], list[MeterEvent]]:
        return self.blocks, self.daily, self.billing, self.events


@dataclass
class Registers:
    """A meter's cumulative registers and its billing month so far."""

    kwh_import: float
    kwh_export: float
    kvah_import: float
    kvah_export: float
    kwh_tou: list[float]
    md_kw: tuple[float, int] = (0.0, 0)
    md_kva: tuple[float, int] = (0.0, 0)
    on_seconds: int = 0
    month_kwh: float = 0.0
    month_kvah: float = 0.0

    def add(self, block: Block, zone: int, on_seconds: int) -> None:
        self.kwh_import += block.kwh_import
        self.kwh_export += block.kwh_export
        self.kvah_import += block.kvah_import
        self.kvah_export += block.kvah_export
        self.kwh_tou[zone - 1] += block.kwh_import
        self.month_kwh += block.kwh_import
        self.month_kvah += block.kvah_import
        self.on_seconds += on_seconds
        self.md_kw = max(self.md_kw, (block.demand_kw, block.end), key=lambda p: p[0])
        self.md_kva = max(self.md_kva, (block.demand_kva, block.end), key=lambda p: p[0])


def zone_of(epoch: int) -> int:
    """The TOU zone of the interval starting at ``epoch`` (local time)."""
    hour = local_time(epoch)[0]
    return max(zone for start, zone in TOU_ZONES if hour >= start)


class ProfileGenerator:
    """Generates the profiles of a fleet from ``start`` on, one step at a time."""

    def __init__(
        self,
        meters: Sequence[SimMeter],
        start: int,
        *,
        seed: int = 0,
        power_off: PowerOff | None = None,
    ) -> None:
        self.meters = list(meters)
        self.seed = seed
        self.power_off: PowerOff = power_off or (lambda _m, _s, _e: 0)
        self._start = start
        self.cursor = {m.serial: start // m.interval * m.interval for m in self.meters}
        self.registers = {m.serial: self._initial(m) for m in self.meters}

    def known(self, key: str) -> SimMeter | None:
        """A meter of the fleet by serial or mRID; None when it is not one of them."""
        return next((m for m in self.meters if key in (m.serial, m.mrid)), None)

    def meter(self, key: str) -> SimMeter:
        """A meter by serial or mRID; one the head-end has not met yet joins the fleet (a
        head-end reads whatever meter the hub names)."""
        if (found := self.known(key)) is not None:
            return found
        number = int(unit_noise(self.seed, len(key), *key.encode()) * 1e9)
        joined = SimMeter(number, key, key, "", consumer_of(number, self.seed))
        self.meters.append(joined)
        self.cursor[key] = self._start // joined.interval * joined.interval
        self.registers[key] = self._initial(joined)
        return joined

    def _initial(self, meter: SimMeter) -> Registers:
        kwh = round(800 + 4000 * unit_noise(self.seed, meter.number, 7), 3)
        split = [round(kwh * s, 3) for s in (0.25, 0.15, 0.3)]
        tou = [*split, round(kwh - sum(split), 3)]
        pf = meter.consumer.power_factor
        exported = round(kwh * 0.2, 3) if meter.consumer.pv_kw else 0.0
        return Registers(kwh, exported, round(kwh / pf, 3), round(exported / 0.99, 3), tou)

    def block(self, meter: SimMeter, end: int) -> Block:
        """The block ending at ``end``: the same values whenever it is asked for."""
        interval = meter.interval
        on_share = 1 - min(interval, self.power_off(meter.serial, end - interval, end)) / interval
        power = net_power_kw(meter.consumer, self.seed, meter.number, end) * on_share
        hours, pf = interval / 3600, meter.consumer.power_factor
        imported, exported = max(power, 0.0) * hours, max(-power, 0.0) * hours
        if on_share == 0:
            return Block(meter, end, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        load_share = min(1.0, abs(power) / meter.consumer.peak_kw)
        voltage = 241 - 9 * load_share + 4 * unit_noise(self.seed, meter.number, end, 3)
        current = abs(power) * 1000 / (voltage * pf)
        return Block(meter, end, round(imported, 3), round(imported / pf, 3), round(exported, 3),
                     round(exported / 0.99, 3), round(voltage, 2), round(current, 2))  # fmt: skip

    def blocks(self, meter: SimMeter, start: int, end: int) -> list[Block]:
        """Every block ending in (start, end]: what the meter's memory holds for a re-read."""
        first = start // meter.interval * meter.interval + meter.interval
        return [self.block(meter, t) for t in range(first, end + 1, meter.interval)]

    def advance(self, until: int) -> Batch:
        """Every block ending by ``until`` not yet generated, with the daily and billing
        profiles closed on the way."""
        batch = Batch()
        for meter in self.meters:
            self._advance(meter, until, batch)
        return batch

    def _advance(self, meter: SimMeter, until: int, batch: Batch) -> None:
        registers, interval = self.registers[meter.serial], meter.interval
        for end in range(self.cursor[meter.serial] + interval, until + 1, interval):
            block = self.block(meter, end)
            off = min(interval, self.power_off(meter.serial, end - interval, end))
            registers.add(block, zone_of(end - interval), interval - off)
            batch.blocks.append(block)
            if (end + IST_OFFSET) % 86_400 == 0:
                batch.daily.append(_daily(meter, end, registers))
                if local_time(end)[2] != local_time(end - 1)[2]:
                    batch.billing.append(_bill(meter, end, registers))
            self.cursor[meter.serial] = end


def _daily(meter: SimMeter, at: int, r: Registers) -> DailyLoad:
    values = (r.kwh_import, r.kwh_export, r.kvah_import, r.kvah_export)
    return DailyLoad(meter, at, *(round(v, 3) for v in values))


def _bill(meter: SimMeter, at: int, r: Registers) -> Billing:
    """Close the billing month: the snapshot, then MD and the month's figures start again."""
    pf = r.month_kwh / r.month_kvah if r.month_kvah else 1.0
    bill = Billing(
        meter, at, round(r.kwh_import, 3), tuple(round(v, 3) for v in r.kwh_tou),
        round(r.kvah_import, 3), round(r.kwh_export, 3), round(r.kvah_export, 3),
        r.md_kw[0], r.md_kw[1], r.md_kva[0], r.md_kva[1], round(pf, 3), r.on_seconds // 60,
    )  # fmt: skip
    r.md_kw, r.md_kva, r.on_seconds, r.month_kwh, r.month_kvah = (0.0, 0), (0.0, 0), 0, 0.0, 0.0
    return bill


def flatten(batches: Iterable[Batch]) -> Batch:
    """One batch of several."""
    out = Batch()
    for batch in batches:
        for mine, theirs in zip(out.lists(), batch.lists(), strict=True):
            mine.extend(theirs)  # type: ignore[arg-type]
    return out
