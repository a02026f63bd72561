"""A month of 15-minute data for many meters with injected VEE faults of every kind.

Used by the VEE "Done when" test, the database slice test and the throughput measurement.
Each meter gets at most one fault (``FAULTS[n % len(FAULTS)]`` for meter n; every
``CLEAN_EVERY``-th meter stays clean) and the truth about it, so a test can build a
confusion matrix of injected faults against findings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from cimhub.domain.reading import ReadingKind
from cimhub.testing.messages import load_kwh
from cimhub.vee.batch import Batch
from cimhub.vee.context import MeterContext, MeterInfo, MeterState, UsagePointInfo
from cimhub.vee.finding import SeriesKey

KWH = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
EXPORT = "0.0.2.4.19.1.12.0.0.0.0.0.0.0.0.3.72.0"
CUM = "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
NET_CUM = "0.0.0.1.4.1.12.0.0.0.0.0.0.0.0.3.72.0"
MD = "8.8.0.6.1.1.8.0.0.0.0.0.0.0.0.3.38.0"
TOU = [f"0.0.0.1.1.1.12.0.0.0.0.{z}.0.0.0.3.72.0" for z in (1, 2, 3, 4)]
STEP = 900
IST = 330 * 60
#: local midnight of 1 June 2024 (IST), and 30 days on
START = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp()) - IST
DAYS = 30
END = START + DAYS * 86_400
NOW = END + 2 * 86_400
CLEAN_EVERY = 4

#: fault kind → the rules that must find it (empty: a trap no rule may fire on)
FAULTS: dict[str, frozenset[str]] = {
    "gap_short": frozenset({"interval.missing"}),
    "gap_day_boundary": frozenset({"interval.missing"}),
    "gap_long": frozenset({"interval.missing"}),
    "spike": frozenset({"usage.spike"}),
    "spike_next_to_gap": frozenset({"usage.spike"}),
    "negative": frozenset({"usage.negative"}),
    "zero_run": frozenset({"usage.zero"}),
    "zero_in_outage": frozenset({"interval.missing"}),  # two intervals lost in the outage
    "static": frozenset({"usage.static"}),
    "cum_decrement": frozenset({"register.decrement"}),
    "cum_decrement_net_meter": frozenset(),
    "rollover": frozenset({"register.rollover"}),
    "dials": frozenset({"register.dials"}),
    "cum_jump": frozenset({"register.increment"}),
    "wrong_ct": frozenset({"sum.check", "meter.multiplier_unit"}),
    "tou_sum": frozenset({"tou.sum"}),
    "tou_reset": frozenset({"tou.reset"}),
    "tou_decrement": frozenset({"tou.decrement"}),
    "md_not_reset": frozenset({"demand.not_reset"}),
    "md_reset_off_cycle": frozenset({"demand.reset_off_cycle"}),
    "md_too_high": frozenset({"demand.too_high"}),
    "off_grid": frozenset({"interval.off_grid"}),
    "clock_skew": frozenset({"interval.clock"}),
    "duplicate": frozenset({"interval.duplicate"}),
    "future_date": frozenset({"time.future"}),
    "old_date": frozenset({"time.old"}),
    "above_sanctioned": frozenset({"usage.sanctioned"}),
    "low_day": frozenset({"usage.history"}),
    "inactive": frozenset({"usage.inactive"}),
    "export_above_pv": frozenset({"net.export_above_pv", "net.daily_export"}),
}


#: traps: rules that must NOT fire on a fault kind (the point of the trap)
FORBIDDEN: dict[str, frozenset[str]] = {
    "zero_in_outage": frozenset({"usage.zero"}),
    "cum_decrement_net_meter": frozenset({"register.decrement"}),
}


@dataclass(frozen=True, slots=True)
class Fault:
    meter_id: int
    kind: str
    window: tuple[int, int]  #: [first, last] epoch seconds a finding must overlap
    expected: frozenset[str]


@dataclass(slots=True)
class Month:
    batches: list[Batch] = field(default_factory=list)
    contexts: dict[int, MeterContext] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)

    @property
    def readings(self) -> int:
        return sum(len(b.timestamps) for b in self.batches)


def fault_of(meter: int) -> str | None:
    if meter % CLEAN_EVERY == 0:
        return None
    kinds = list(FAULTS)
    return kinds[(meter // CLEAN_EVERY * (CLEAN_EVERY - 1) + meter % CLEAN_EVERY - 1) % len(kinds)]


def month(meters: int, first_id: int = 1) -> Month:
    out = Month()
    for meter in range(first_id, first_id + meters):
        _meter(out, meter, fault_of(meter))
    return out


def _series(meter: int) -> tuple[list[int], list[float]]:
    stamps = list(range(START + STEP, END + 1, STEP))
    shape = [  # the meter's daily load shape, one value per local 15-minute slot
        load_kwh(meter, datetime.fromtimestamp(START + IST + STEP * slot, UTC))
        for slot in range(96)
    ]
    values = [round(shape[i % 96] * _noise(ts, meter), 3) for i, ts in enumerate(stamps)]
    return stamps, values


def _noise(ts: int, meter: int) -> float:
    """A deterministic ±5 % wobble, so no two neighbouring intervals are equal by chance."""
    x = math.sin(ts * 12.9898 + meter * 78.233) * 43_758.5453
    return 0.95 + 0.1 * (x - math.floor(x))


def _at(day: int, hour: float) -> int:
    """The interval end at local ``hour`` of month day ``day`` (0-based)."""
    return START + day * 86_400 + int(hour * 3600)


def _meter(out: Month, meter: int, kind: str | None) -> None:
    stamps, clean = _series(meter)
    values = list(clean)
    midnights = [START + d * 86_400 for d in range(DAYS + 1)]
    context = MeterContext(
        MeterInfo("1P-WC", 1.0, 6, MeterState.IN_SERVICE, True),
        UsagePointInfo("domestic", 5.0, 6.0, False, None, False, 1),
        (),
    )
    quals = [""] * len(stamps)
    window = (START, END)
    index = {ts: i for i, ts in enumerate(stamps)}
    day_of = lambda ts: (ts - START - 1) // 86_400  # noqa: E731

    def day_window(ts: int) -> tuple[int, int]:
        d = day_of(ts)
        return START + d * 86_400, START + (d + 1) * 86_400

    drop: set[int] = set()
    cum_base = 10_000.0 + meter
    if kind in ("gap_short", "gap_day_boundary", "gap_long", "spike_next_to_gap"):
        first = {
            "gap_short": _at(3, 10),
            "gap_day_boundary": _at(5, -0.75),
            "gap_long": _at(9, 0.25),
            "spike_next_to_gap": _at(12, 19),
        }[kind]
        n = {"gap_short": 4, "gap_day_boundary": 6, "gap_long": 96, "spike_next_to_gap": 2}[kind]
        drop = {first + k * STEP for k in range(n)}
        window = (first, first + (n - 1) * STEP)
        if kind == "spike_next_to_gap":
            values[index[first - STEP]] = 9.5
            window = (first - STEP, first - STEP)
    elif kind == "spike":
        ts = _at(7, 14)
        values[index[ts]] = round(values[index[ts]] * 20 + 2, 3)
        window = (ts, ts)
    elif kind == "negative":
        ts = _at(8, 3)
        values[index[ts]] = -0.4
        window = (ts, ts)
    elif kind in ("zero_run", "zero_in_outage"):
        first = _at(10, 9)
        run = [first + k * STEP for k in range(20)]
        for ts in run:
            values[index[ts]] = 0.0
        window = (run[0], run[-1])
        if kind == "zero_in_outage":
            context = replace(context, outages=((run[0] - STEP, run[-1]),))
            drop = {run[5], run[6]}  # nothing arrives during the outage either
    elif kind == "static":
        first = _at(14, 12)
        run = [first + k * STEP for k in range(12)]
        for ts in run:
            values[index[ts]] = 0.321
        window = (run[0], run[-1])
    elif kind == "wrong_ct":
        context = replace(
            context, meter=replace(context.meter, meter_type="3P-CT", multiplier=40.0)
        )
        values = [round(v / 40, 5) for v in values]  # the HES sent secondary-side intervals
        window = (START, END)
    elif kind == "above_sanctioned":
        ts = _at(16, 15)
        values[index[ts]] = 2.9  # 11.6 kW in a 15-minute interval, sanctioned 5 kW
        window = (ts, ts)
    elif kind == "low_day":
        d = 18
        for ts in stamps[d * 96 : (d + 1) * 96]:
            values[index[ts]] = round(values[index[ts]] * 0.04, 4)
        window = (START + d * 86_400, START + (d + 1) * 86_400)
    elif kind == "inactive":
        context = replace(context, meter=replace(context.meter, state=MeterState.INACTIVE))
    elif kind == "clock_skew":
        ts = _at(20, 6)
        window = (ts, ts)
    elif kind == "off_grid":
        ts = _at(21, 6)
        window = (ts - STEP, ts)

    # registers follow the true consumption (before any fault was injected)
    cum = [cum_base]
    for d in range(DAYS):
        cum.append(round(cum[-1] + sum(clean[d * 96 : (d + 1) * 96]), 3))
    register_kind = CUM
    if kind == "rollover":
        offset = 999_990.0 - cum[10]
        cum = [round((c + offset) % 1_000_000, 3) for c in cum]
        window = (midnights[11], midnights[11])
    elif kind == "dials":
        cum[15] = cum[15] + 1_000_000
        window = (midnights[15], midnights[15])
    elif kind == "cum_jump":
        cum = cum[:17] + [c + 900 for c in cum[17:]]
        window = (midnights[17], midnights[17])
    elif kind in ("cum_decrement", "cum_decrement_net_meter"):
        cum[19] = cum[18] - 5
        window = (midnights[19], midnights[20])
        if kind == "cum_decrement_net_meter":
            register_kind = NET_CUM
            context = replace(context, usage_point=replace(context.usage_point, net_metering=True))
    key = lambda code: SeriesKey(meter, code)  # noqa: E731

    # interval batch (with the timing faults applied to what the HES sends)
    send_ts, send_v, send_q = [], [], []
    for ts, v, q in zip(stamps, values, quals, strict=True):
        if ts in drop:
            continue
        if kind == "clock_skew" and ts == _at(20, 6):
            ts += 30
        if kind == "off_grid" and ts == _at(21, 6):
            ts -= 7 * 60
        send_ts.append(ts)
        send_v.append(v)
        send_q.append(q)
    if kind == "duplicate":
        ts = _at(22, 11)
        i = send_ts.index(ts)
        send_ts.insert(i + 1, ts)
        send_v.insert(i + 1, send_v[i] + 0.1)
        send_q.insert(i + 1, "")
        window = (ts, ts)
    if kind == "future_date":
        send_ts.append(NOW + 3 * 86_400)
        send_v.append(0.2)
        send_q.append("")
        window = (NOW + 3 * 86_400, NOW + 3 * 86_400)
    if kind == "old_date":
        send_ts.insert(0, START - 120 * 86_400)
        send_v.insert(0, 0.2)
        send_q.insert(0, "")
        window = (START - 120 * 86_400, START - 120 * 86_400)
    out.batches.append(Batch(key(KWH), ReadingKind.INTERVAL, send_ts, send_v, send_q, START, END))
    out.batches.append(
        Batch(key(register_kind), ReadingKind.REGISTER, midnights, cum, [""] * len(cum))
    )

    # TOU: four zones sharing the day's consumption (fixed shares), at the same midnights
    shares = (0.2, 0.3, 0.35, 0.15)
    tous = [[round(c * s, 3) for c in cum] for s in shares]
    if kind == "tou_sum":
        tous[1][12] += 25
        window = (midnights[12], midnights[12])
    if kind == "tou_reset":
        tous[2][13] = 0.0
        window = (midnights[13], midnights[13])
    if kind == "tou_decrement":
        tous[0][14] = tous[0][13] - 3
        window = (midnights[14], midnights[14])
    if register_kind == CUM and kind not in ("rollover", "dials", "cum_jump", "cum_decrement"):
        for code, reads in zip(TOU, tous, strict=True):
            out.batches.append(
                Batch(key(code), ReadingKind.REGISTER, midnights, reads, [""] * len(reads))
            )

    # MD: running maximum within the cycle (billing day 1), read each local midnight;
    # the month spans two cycles when read up to 1 July.
    md, peak = [], 0.0
    for d, ts in enumerate(midnights):
        if d > 0:
            chunk = values[(d - 1) * 96 : d * 96]
            peak = max([peak, *(v * 4 for v in chunk)])
        md.append(round(peak, 3))
        if ts == midnights[-1]:
            md[-1] = 0.0  # 1 July 00:00 IST: the cycle reset at this very instant
    if kind == "md_reset_off_cycle":
        md[20] = round(md[19] / 3, 3)
        window = (midnights[20], midnights[20])
    if kind == "md_not_reset":
        md[-1] = md[-2]
        window = (midnights[-1], midnights[-1])
    if kind == "md_too_high":
        md[25] = 12.0
        window = (midnights[25], midnights[25])
    out.batches.append(Batch(key(MD), ReadingKind.REGISTER, midnights, md, [""] * len(md)))

    if kind == "export_above_pv":
        context = replace(
            context, usage_point=replace(context.usage_point, net_metering=True, pv_capacity_kw=3.0)
        )
        export = [_solar(ts, 2.2) for ts in stamps]
        d = 24
        for k in range(d * 96, (d + 1) * 96):
            export[k] = round(export[k] * 1.8, 3)
        window = (START + d * 86_400, START + (d + 1) * 86_400)
        out.batches.append(
            Batch(key(EXPORT), ReadingKind.INTERVAL, stamps, export, [""] * len(stamps), START, END)
        )
    out.contexts[meter] = context
    if kind is not None:
        lo, hi = window
        if FAULTS[kind] & {"sum.check", "usage.history", "register.decrement"} or lo == hi:
            lo, hi = lo - 86_400, hi + 86_400  # day-wide rules look at the whole day around it
        out.faults.append(Fault(meter, kind, (lo, hi), FAULTS[kind]))


def _solar(ts: int, peak_kw: float) -> float:
    hour = (ts - STEP + IST) % 86_400 / 3600
    if not 6 <= hour < 18:
        return 0.0
    return round(peak_kw * math.sin(math.pi * (hour - 6) / 12) * STEP / 3600, 3)
