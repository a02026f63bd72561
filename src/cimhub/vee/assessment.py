"""Assessed consumption of a usage point without a working meter: load × hours × factor.

A DISCOM bills an unmetered connection (an agricultural pump set, a street light) or a
connection whose meter is removed by an assessment: the connected load (else the
sanctioned load) × the hours it could run that day × a load factor. The hours are the
point's own operating hours (master data), else the tenant's setting per consumer
category; never more than the supply was on (its DT's known outages taken off), nor than
the part of the day no meter measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cimhub.domain.span import Span, overlap, uncovered
from cimhub.vee.batch import DAY
from cimhub.vee.config import Params

#: one local day's kWh, forward (ReadingType: measuringPeriod 24 h, deltaData, kWh)
DAILY_KWH = "0.0.4.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
METHOD = "estimated:non_metered"
RULE = "estimation.non_metered"


@dataclass(frozen=True, slots=True)
class Basis:
    """What one usage point's assessment rests on."""

    load_kw: float
    load_source: str  #: "connected load" or "sanctioned load"
    hours: float  #: per day
    hours_source: str  #: "operating hours" (master data) or "configured hours"
    load_factor: float


@dataclass(frozen=True, slots=True)
class DayEstimate:
    ts: int  #: the end of the local day (its reading's timestamp)
    kwh: float
    hours: float  #: the hours assessed (after supply and meters)

    def reason(self, basis: Basis) -> str:
        return (
            f"{basis.load_source} {basis.load_kw:g} kW × {self.hours:g} h × "
            f"load factor {basis.load_factor:g} ({basis.hours_source} {basis.hours:g} h/day)"
        )


def basis_of(
    connected_kw: float | None,
    sanctioned_kw: float | None,
    operating_hours: float | None,
    params: Params,
) -> Basis | None:
    """The basis, or None when the point has no load to assess by.

    >>> basis_of(None, 5.0, None, Params())
    Basis(load_kw=5.0, load_source='sanctioned load', hours=24.0, hours_source='configured hours', load_factor=1.0)
    """  # noqa: E501
    if connected_kw:
        load, source = connected_kw, "connected load"
    elif sanctioned_kw:
        load, source = sanctioned_kw, "sanctioned load"
    else:
        return None
    if operating_hours is not None:
        hours, where = operating_hours, "operating hours"
    else:
        hours, where = params.non_metered_hours, "configured hours"
    return Basis(load, source, hours, where, params.non_metered_load_factor)


def assess(
    days: Sequence[int],
    basis: Basis,
    params: Params,
    *,
    metered: Sequence[Span] = (),
    outages: Sequence[Span] = (),
) -> list[DayEstimate]:
    """One estimate per local day (days since 1970-01-01 in the tenant's zone) that is
    not wholly metered: hours = min(basis hours × the unmetered share of the day, the
    unmetered hours the supply was on).

    >>> p = Params()
    >>> b = Basis(2.0, "connected load", 8.0, "operating hours", 0.5)
    >>> assess([0], b, p)  # 2 kW × 8 h × 0.5
    [DayEstimate(ts=66600, kwh=8.0, hours=8.0)]
    >>> assess([0], b, p, outages=[(-19800, -19800 + 20 * 3600)])  # out 20 h: 4 h left
    [DayEstimate(ts=66600, kwh=4.0, hours=4.0)]
    """
    out = []
    for day in days:
        start = day * DAY - params.utc_offset_minutes * 60
        end = start + DAY
        unmetered = uncovered(start, end, metered)
        if not unmetered:
            continue
        open_s = sum(b - a for a, b in unmetered)
        supplied_s = open_s - sum(overlap(span, outages) for span in unmetered)
        hours = min(basis.hours * open_s / DAY, supplied_s / 3600)
        out.append(DayEstimate(end, basis.load_kw * hours * basis.load_factor, hours))
    return out
