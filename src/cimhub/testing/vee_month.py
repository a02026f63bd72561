"""A month of 15-minute data for many meters with injected VEE faults of every kind.

Used by the VEE "Done when" test, the database slice test and the throughput measurement.
Each meter gets at most one fault (``FAULTS[n % len(FAULTS)]`` for meter n; every
``CLEAN_EVERY``-th meter stays clean) and the truth about it, so a test can build a
confusion matrix of injected faults against findings.

Outages are not given to VEE as a test's say-so: the head-end sends power-off/power-on
events (``Month.events``), and each meter's context carries the outages derived from them
by ``domain.outage.derive_outages``, as the store derives them (every meter belongs to a
head-end that reports power events, so its outages are known: none unless it had one).
Disconnections likewise come from the meter's RCD-switch events, derived by
``domain.relay.derive_relay`` (a meter with none: relay state unknown).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from cimhub.domain.event import POWER_OFF, POWER_ON
from cimhub.domain.outage import derive_outages
from cimhub.domain.reading import ReadingKind
from cimhub.domain.relay import SWITCH_EVENTS, Relay, derive_relay
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
#: the end VEE gives an outage not restored yet (as ``store.vee_outages.OPEN_END``)
OPEN = 2**62
CONNECTED, DISCONNECTED = "3.31.0.42", "3.31.0.68"  #: the meter's RCD-switch events

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
    "net_forward_decrement": frozenset({"register.decrement"}),
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
    "clock_drift": frozenset({"interval.clock_drift"}),
    "duplicate": frozenset({"interval.duplicate"}),
    "future_date": frozenset({"time.future"}),
    "old_date": frozenset({"time.old"}),
    "above_sanctioned": frozenset({"usage.sanctioned"}),
    "low_day": frozenset({"usage.history"}),
    "high_day": frozenset({"usage.history"}),
    "inactive": frozenset({"usage.inactive"}),
    "export_above_pv": frozenset({"net.export_above_pv", "net.daily_export"}),
    "disconnected_zeros": frozenset(),  # the DISCOM switched the supply off two days
    "usage_disconnected": frozenset({"usage.disconnected"}),  # consumption all the same
}


#: traps: rules that must NOT fire on a fault kind (the point of the trap)
FORBIDDEN: dict[str, frozenset[str]] = {
    "zero_in_outage": frozenset({"usage.zero"}),
    "cum_decrement_net_meter": frozenset({"register.decrement"}),
    "disconnected_zeros": frozenset({"usage.zero", "usage.history"}),
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
    #: events the head-end sends: (meter, ts, code), power off/on and RCD switches
    events: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def readings(self) -> int:
        return sum(len(b.timestamps) for b in self.batches)


def fault_of(meter: int) -> str | None:
    if meter % CLEAN_EVERY == 0:
        return None
    kinds = list(FAULTS)
    return kinds[(meter // CLEAN_EVERY * (CLEAN_EVERY - 1) + meter % CLEAN_EVERY - 1) % len(kinds)]


def month(meters: int, first_id: int = 1) -> Month:
    return month_of(range(first_id, first_id + meters))


def month_of(meters: Iterable[int]) -> Month:
    """The month of these meter numbers (each with its fault, see ``fault_of``)."""
    out = Month()
    for meter in meters:
        _meter(out, meter, fault_of(meter))
    return out


def first_of_each_kind(extra: Iterable[str] = ()) -> list[int]:
    """The first meter number of every fault kind (and of ``extra`` kinds, once more), and
    the first clean one: a slice of the month with every kind in it."""
    picked: list[int] = []
    wanted = [*FAULTS, *extra, None]
    meter = 1
    while wanted:
        kind = fault_of(meter)
        if kind in wanted:
            wanted.remove(kind)
            picked.append(meter)
        meter += 1
    return picked


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


@dataclass(slots=True)
class _Draft:
    """One meter's month while faults are injected: what the HES will send, and the truth."""

    meter: int
    stamps: list[int]
    values: list[float]
    context: MeterContext
    cum: list[float]
    md: list[float]
    tous: list[list[float]] | None
    window: tuple[int, int] = (START, END)
    cum_code: str = CUM
    drop: set[int] = field(default_factory=set)
    moved: dict[int, int] = field(default_factory=dict)  #: ts → the ts the HES stamps
    extra: list[tuple[int, float]] = field(default_factory=list)  #: readings sent besides
    export: list[float] | None = None
    events: list[tuple[int, str]] = field(default_factory=list)  #: power/RCD events (ts, code)

    def set(self, ts: int, value: float) -> None:
        self.values[(ts - START) // STEP - 1] = value

    def get(self, ts: int) -> float:
        return self.values[(ts - START) // STEP - 1]


MIDNIGHTS = [START + d * 86_400 for d in range(DAYS + 1)]
SHARES = (0.2, 0.3, 0.35, 0.15)  #: the TOU zones' fixed shares of each day


def _meter(out: Month, meter: int, kind: str | None) -> None:
    stamps, clean = _series(meter)
    cum = [10_000.0 + meter]
    for d in range(DAYS):  # registers follow the true consumption
        cum.append(round(cum[-1] + sum(clean[d * 96 : (d + 1) * 96]), 3))
    draft = _Draft(
        meter,
        stamps,
        list(clean),
        MeterContext(
            MeterInfo("1P-WC", 1.0, 6, MeterState.IN_SERVICE),
            UsagePointInfo("domestic", 5.0, 6.0, False, None, False, 1),
            (),  # the head-end reports power events: known, none until derived
        ),
        cum,
        _md(clean),
        [[round(c * s, 3) for c in cum] for s in SHARES],
    )
    if kind is not None:
        INJECT[kind](draft)
    _emit(out, draft)
    if kind is not None:
        lo, hi = draft.window
        if FAULTS[kind] & {"sum.check", "usage.history", "register.decrement"} or lo == hi:
            lo, hi = lo - 86_400, hi + 86_400  # day-wide rules look at the whole day around it
        out.faults.append(Fault(meter, kind, (lo, hi), FAULTS[kind]))


def _md(values: list[float]) -> list[float]:
    """MD (kW) read each local midnight: the running maximum within the billing cycle
    (billing day 1); at 1 July 00:00 IST the cycle has just reset."""
    md, peak = [0.0], 0.0
    for d in range(1, DAYS + 1):
        peak = max([peak, *(v * 4 for v in values[(d - 1) * 96 : d * 96])])
        md.append(round(peak, 3))
    md[-1] = 0.0
    return md


def _emit(out: Month, d: _Draft) -> None:
    key = lambda code: SeriesKey(d.meter, code)  # noqa: E731
    sent = [(d.moved.get(ts, ts), v) for ts, v in zip(d.stamps, d.values, strict=True)]
    sent = sorted([(ts, v) for ts, v in sent if ts not in d.drop] + d.extra, key=lambda x: x[0])
    out.batches.append(
        Batch(
            key(KWH),
            ReadingKind.INTERVAL,
            [ts for ts, _ in sent],
            [v for _, v in sent],
            [""] * len(sent),
            START,
            END,
        )
    )
    registers = [(d.cum_code, d.cum), (MD, d.md)]
    registers += list(zip(TOU, d.tous, strict=True)) if d.tous else []
    for code, reads in registers:
        out.batches.append(
            Batch(key(code), ReadingKind.REGISTER, MIDNIGHTS, reads, [""] * len(reads))
        )
    if d.export is not None:
        out.batches.append(
            Batch(
                key(EXPORT),
                ReadingKind.INTERVAL,
                d.stamps,
                d.export,
                [""] * len(d.stamps),
                START,
                END,
            )
        )
    outages = derive_outages(d.events)
    switches = [(ts, SWITCH_EVENTS[code]) for ts, code in d.events if code in SWITCH_EVENTS]
    open_relay = [p for p in derive_relay(switches) if p.state is Relay.DISCONNECTED]
    out.contexts[d.meter] = replace(
        d.context,
        outages=tuple((o.start, o.end or OPEN) for o in outages),
        disconnected=tuple((p.start, p.end or OPEN) for p in open_relay) if switches else None,
    )
    out.events += [(d.meter, ts, code) for ts, code in sorted(d.events)]


def _gap(first: int, count: int) -> Callable[[_Draft], None]:
    def inject(d: _Draft) -> None:
        d.drop = {first + k * STEP for k in range(count)}
        d.window = (first, first + (count - 1) * STEP)

    return inject


def _spike_next_to_gap(d: _Draft) -> None:
    first = _at(12, 19)
    _gap(first, 2)(d)
    d.set(first - STEP, 9.5)
    d.window = (first - STEP, first - STEP)


def _one(
    hour_of_month: tuple[int, float], value: Callable[[float], float]
) -> Callable[[_Draft], None]:
    def inject(d: _Draft) -> None:
        ts = _at(*hour_of_month)
        d.set(ts, value(d.get(ts)))
        d.window = (ts, ts)

    return inject


def _run(first: int, count: int) -> list[int]:
    return [first + k * STEP for k in range(count)]


def _zeros(d: _Draft, *, outage: bool) -> None:
    run = _run(_at(10, 9), 20)
    for ts in run:
        d.set(ts, 0.0)
    d.window = (run[0], run[-1])
    if outage:  # the supply was off for exactly these intervals; the head-end says so
        d.events = [(run[0] - STEP, POWER_OFF), (run[-1], POWER_ON)]
        # nothing arrives for its last half hour either: without the outage, the 18 zeros
        # before would be a zero run, and the gap interpolated up to the next value
        d.drop = {run[-2], run[-1]}
        _registers_follow(d)  # and the registers did not move


def _disconnected(d: _Draft, *, zeros: bool) -> None:
    """Disconnected (the meter's own RCD events) from day 26 10:00 for two days, or one
    in which the meter goes on measuring consumption."""
    off, on = _at(26, 10), _at(28 if zeros else 27, 10)
    d.events = [(off, DISCONNECTED), (on, CONNECTED)]
    d.window = (off + STEP, on)
    if zeros:
        for ts in _run(off + STEP, (on - off) // STEP):
            d.set(ts, 0.0)
        _registers_follow(d)


def _static(d: _Draft) -> None:
    run = _run(_at(14, 12), 12)
    for ts in run:
        d.set(ts, 0.321)
    d.window = (run[0], run[-1])


def _wrong_ct(d: _Draft) -> None:
    d.context = replace(
        d.context, meter=replace(d.context.meter, meter_type="3P-CT", multiplier=40.0)
    )
    d.values = [round(v / 40, 5) for v in d.values]  # the HES sent secondary-side intervals


def _day_times(day: int, factor: float) -> Callable[[_Draft], None]:
    """Day ``day``'s consumption × ``factor`` (the registers follow it)."""

    def inject(d: _Draft) -> None:
        for k in range(day * 96, (day + 1) * 96):
            d.values[k] = round(d.values[k] * factor, 4)
        d.window = (START + day * 86_400, START + (day + 1) * 86_400)
        _registers_follow(d)

    return inject


def _registers_follow(d: _Draft) -> None:
    cum = [d.cum[0]]
    for day in range(DAYS):
        cum.append(round(cum[-1] + sum(d.values[day * 96 : (day + 1) * 96]), 3))
    d.cum = cum
    d.tous = [[round(c * s, 3) for c in cum] for s in SHARES]


def _inactive(d: _Draft) -> None:
    d.context = replace(d.context, meter=replace(d.context.meter, state=MeterState.INACTIVE))


def _restamp(ts: int, shift: int, window: tuple[int, int]) -> Callable[[_Draft], None]:
    def inject(d: _Draft) -> None:
        d.moved[ts] = ts + shift
        d.window = window

    return inject


def _drift(first: int, blocks: int, offset: int) -> Callable[[_Draft], None]:
    """A meter clock ``offset`` seconds fast at ``first``, a second more each block."""

    def inject(d: _Draft) -> None:
        run = _run(first, blocks)
        for k, ts in enumerate(run):
            d.moved[ts] = ts + offset + k
        d.window = (run[0], run[-1])

    return inject


def _send(ts: int, value: float | None = None) -> Callable[[_Draft], None]:
    """Send one more reading: a second copy of ts (value None: the original + 0.1)."""

    def inject(d: _Draft) -> None:
        d.extra.append((ts, d.get(ts) + 0.1 if value is None else value))
        d.window = (ts, ts)

    return inject


def _cum(
    day: int, change: Callable[[_Draft], None], *, window_days: int = 0
) -> Callable[[_Draft], None]:
    """A fault in the CUM register; the TOU registers are left out (they would disagree)."""

    def inject(d: _Draft) -> None:
        change(d)
        d.tous = None
        d.window = (MIDNIGHTS[day], MIDNIGHTS[day + window_days])

    return inject


def _rollover(d: _Draft) -> None:
    offset = 999_990.0 - d.cum[10]
    d.cum = [round((c + offset) % 1_000_000, 3) for c in d.cum]


def _decrement(d: _Draft) -> None:
    d.cum[19] = d.cum[18] - 5


def _decrement_net_meter(d: _Draft) -> None:
    _decrement(d)
    d.cum_code = NET_CUM
    _net_metered(d)


def _net_metered(d: _Draft) -> None:
    d.context = replace(d.context, usage_point=replace(d.context.usage_point, net_metering=True))


def _decrement_forward_on_net_meter(d: _Draft) -> None:
    """A net-metered point's forward (import) register must not go down either."""
    _decrement(d)
    _net_metered(d)


def _register(
    series: str, day: int, value: Callable[[list[float]], float]
) -> Callable[[_Draft], None]:
    """Change one read of a TOU zone ("tou1".."tou4") or the MD register."""

    def inject(d: _Draft) -> None:
        reads = d.md if series == "md" else d.tous[int(series[3:]) - 1]  # type: ignore[index]
        reads[day] = value(reads)
        d.window = (MIDNIGHTS[day], MIDNIGHTS[day])

    return inject


def _export(d: _Draft) -> None:
    d.context = replace(
        d.context, usage_point=replace(d.context.usage_point, net_metering=True, pv_capacity_kw=3.0)
    )
    d.export = [_solar(ts, 2.2) for ts in d.stamps]
    day = 24
    for k in range(day * 96, (day + 1) * 96):
        d.export[k] = round(d.export[k] * 1.8, 3)
    d.window = (START + day * 86_400, START + (day + 1) * 86_400)


INJECT: dict[str, Callable[[_Draft], None]] = {
    "gap_short": _gap(_at(3, 10), 4),
    "gap_day_boundary": _gap(_at(5, -0.75), 6),
    "gap_long": _gap(_at(9, 0.25), 96),
    "spike": _one((7, 14), lambda v: round(v * 20 + 2, 3)),
    "spike_next_to_gap": _spike_next_to_gap,
    "negative": _one((8, 3), lambda v: -0.4),
    "zero_run": lambda d: _zeros(d, outage=False),
    "zero_in_outage": lambda d: _zeros(d, outage=True),
    "static": _static,
    "cum_decrement": _cum(19, _decrement, window_days=1),
    "cum_decrement_net_meter": _cum(19, _decrement_net_meter, window_days=1),
    "net_forward_decrement": _cum(19, _decrement_forward_on_net_meter, window_days=1),
    "rollover": _cum(11, _rollover),
    "dials": _cum(15, lambda d: d.cum.__setitem__(15, d.cum[15] + 1_000_000)),
    "cum_jump": _cum(17, lambda d: setattr(d, "cum", d.cum[:17] + [c + 900 for c in d.cum[17:]])),
    "wrong_ct": _wrong_ct,
    "tou_sum": _register("tou2", 12, lambda r: r[12] + 25),
    "tou_reset": _register("tou3", 13, lambda r: 0.0),
    "tou_decrement": _register("tou1", 14, lambda r: r[13] - 3),
    "md_not_reset": _register("md", DAYS, lambda r: r[-2]),
    "md_reset_off_cycle": _register("md", 20, lambda r: round(r[19] / 3, 3)),
    "md_too_high": _register("md", 25, lambda r: 12.0),
    "off_grid": _restamp(_at(21, 6), -7 * 60, (_at(21, 6) - STEP, _at(21, 6))),
    "clock_skew": _restamp(_at(20, 6), 30, (_at(20, 6), _at(20, 6))),
    "clock_drift": _drift(_at(19, 6), 8, 70),  # beyond the 60 s tolerance: aligned
    "duplicate": _send(_at(22, 11)),
    "future_date": _send(NOW + 3 * 86_400, 0.2),
    "old_date": _send(START - 120 * 86_400, 0.2),
    "above_sanctioned": _one((16, 15), lambda v: 2.9),  # 11.6 kW in 15 min; sanctioned 5 kW
    "low_day": _day_times(18, 0.04),
    "high_day": _day_times(23, 3.5),
    "inactive": _inactive,
    "export_above_pv": _export,
    "disconnected_zeros": lambda d: _disconnected(d, zeros=True),
    "usage_disconnected": lambda d: _disconnected(d, zeros=False),
}


def _solar(ts: int, peak_kw: float) -> float:
    hour = (ts - STEP + IST) % 86_400 / 3600
    if not 6 <= hour < 18:
        return 0.0
    return round(peak_kw * math.sin(math.pi * (hour - 6) / 12) * STEP / 3600, 3)
