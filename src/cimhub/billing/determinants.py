"""Determinants of one usage point over one billing period, summed from its days.

Main meters add, check meters (and sub-meters) subtract when the tenant says so (seed 002
§2.4.5 d); their own energy is kept apart. Net metering puts import − export on a virtual
channel (Annexure H "Net Metering (using Virtual channel)"). Average power factor is kWh ÷
kVAh. Tamper and outage figures come from events (billing/event_figures.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cimhub.billing.channel import MILLI, Channel
from cimhub.billing.daily import Day

MAIN, CHECK = "main", "check"


@dataclass(slots=True)
class Determinants:
    """Energies in mWh and demands in mW (integers); ``md*`` hold (value, ts)."""

    energy: dict[str, int] = field(default_factory=lambda: dict.fromkeys(Channel, 0))
    tou: dict[str, dict[int, int]] = field(default_factory=dict)
    md: dict[str, tuple[int, int]] = field(default_factory=dict)
    md_tou: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)
    check: dict[str, int] = field(default_factory=dict)  #: check/sub-meter energy
    present: int = 0
    estimated: int = 0
    missing: int = 0
    interval: int = 0
    days: int = 0
    tamper_events: int = 0
    outages: int = 0
    outage_minutes: int = 0

    @property
    def net(self) -> int:
        """Import − export (negative when the consumer exported more)."""
        return self.energy[Channel.KWH_IMPORT] - self.energy[Channel.KWH_EXPORT]

    @property
    def power_factor(self) -> float | None:
        kvah = self.energy[Channel.KVAH_IMPORT]
        return round(self.energy[Channel.KWH_IMPORT] / kvah, 4) if kvah else None

    def summary(self) -> dict[str, Any]:
        """Human units (kWh, kVAh, kW, kVA) for REST, CSV and the export."""
        out: dict[str, Any] = {c.value: self.energy[c] / MILLI for c in Channel}
        out["kwh_net"] = self.net / MILLI
        out["tou"] = {c: {str(b): v / MILLI for b, v in t.items()} for c, t in self.tou.items()}
        out["md_kw"] = _md(self.md.get("kw"))
        out["md_kva"] = _md(self.md.get("kva"))
        out["md_tou"] = {
            k: {str(b): _md(v) for b, v in t.items()} for k, t in sorted(self.md_tou.items())
        }
        out["power_factor"] = self.power_factor
        out["check"] = {c: v / MILLI for c, v in self.check.items()}
        out["tamper_events"] = self.tamper_events
        out["outages"] = self.outages
        out["outage_minutes"] = self.outage_minutes
        return out


def _md(value: tuple[int, int] | None) -> dict[str, float | int] | None:
    return None if value is None else {"value": value[0] / MILLI, "ts": value[1]}


def _bigger(a: tuple[int, int] | None, b: tuple[int, int]) -> tuple[int, int]:
    """The larger demand; the earlier one on a tie."""
    if a is None or b[0] > a[0] or (b[0] == a[0] and b[1] < a[1]):
        return b
    return a


def combine(days: Iterable[tuple[str, Day]], *, subtract_check: bool = True) -> Determinants:
    """Sum (role, day) aggregates into the period's determinants."""
    out = Determinants()
    for role, day in days:
        if role == CHECK:
            for c, v in day.energy.items():
                out.check[c] = out.check.get(c, 0) + v
            if not subtract_check:
                continue
        sign = -1 if role == CHECK else 1
        for c, v in day.energy.items():
            out.energy[c] = out.energy.get(c, 0) + sign * v
        for c, buckets in day.tou.items():
            target = out.tou.setdefault(c, {})
            for b, v in buckets.items():
                target[b] = target.get(b, 0) + sign * v
        if role != MAIN:
            continue
        _add_demand(out, day)
        out.present += day.present
        out.estimated += day.estimated
        out.missing += day.missing
        out.interval = out.interval or day.interval
        out.days += 1
    out.tou = {c: dict(sorted(t.items())) for c, t in sorted(out.tou.items())}
    return out


def _add_demand(out: Determinants, day: Day) -> None:
    for name, value in day.md.items():
        out.md[name] = _bigger(out.md.get(name), value)
    for name, buckets in day.md_tou.items():
        target = out.md_tou.setdefault(name, {})
        for b, value in buckets.items():
            target[b] = _bigger(target.get(b), value)


def with_events(d: Determinants, events: Mapping[str, int]) -> Determinants:
    """Add the tamper and outage figures (see billing/event_figures.py)."""
    d.tamper_events = events.get("tamper_events", 0)
    d.outages = events.get("outages", 0)
    d.outage_minutes = events.get("outage_minutes", 0)
    return d
