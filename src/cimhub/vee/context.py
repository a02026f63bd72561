"""What VEE knows beside the readings: meter, usage point, outages, relay, previous reads,
history.

Every field defaults to None, meaning "unknown": a rule whose inputs are unknown does not
fire. Master data fills these through ``MasterData`` (a Protocol the store implements);
history comes in bulk through ``History``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from cimhub.vee.finding import SeriesKey


class MeterState(StrEnum):
    """The lifecycle states VEE cares about (master data has finer ones)."""

    IN_SERVICE = "in_service"
    INACTIVE = "inactive"  #: installed but not in service: removed, disconnected, retired


@dataclass(frozen=True, slots=True)
class MeterInfo:
    meter_type: str | None = None  #: e.g. "1P-WC", "3P-CT" (selects parameter overrides)
    multiplier: float | None = None  #: CT ratio × PT ratio
    dials: int | None = None  #: register digits before the decimal point
    state: MeterState | None = None


@dataclass(frozen=True, slots=True)
class UsagePointInfo:
    category: str | None = None  #: consumer category (selects parameter overrides)
    sanctioned_load_kw: float | None = None
    connected_load_kw: float | None = None
    net_metering: bool | None = None
    pv_capacity_kw: float | None = None
    non_metered: bool | None = None
    billing_day: int | None = None  #: day of month the billing cycle (and MD) resets


@dataclass(frozen=True, slots=True)
class MeterContext:
    """Master data of one meter over the period VEE looks at."""

    meter: MeterInfo = MeterInfo()
    usage_point: UsagePointInfo = UsagePointInfo()
    #: Power outages as (start, end] epoch seconds; None when outages are unknown.
    outages: tuple[tuple[int, int], ...] | None = None
    #: From when ``outages`` are known (None: throughout): before it, a period without an
    #: outage says nothing (the head-end did not report power events yet).
    outages_since: int | None = None
    #: Periods the meter's relay was open (disconnected by command or switch event), as
    #: (start, end] epoch seconds; None when the hub knows no switch of the meter (its
    #: relay state is unknown; meters leave the factory connected, rules take it so).
    disconnected: tuple[tuple[int, int], ...] | None = None


@dataclass(frozen=True, slots=True)
class Previous:
    """The last validated reading before the batch (for gaps and register deltas)."""

    ts: int
    value: float


@dataclass(frozen=True, slots=True)
class DayProfile:
    """One local day of validated interval values of a series, for like-day estimation."""

    day: int  #: local day number (days since 1970-01-01 in the tenant's zone)
    values: tuple[float | None, ...]  #: per slot; None where nothing was there
    clean: bool  #: complete, measured, valid: usable as a reference day


@dataclass(frozen=True, slots=True)
class SeriesHistory:
    previous: Previous | None = None
    days: Mapping[int, DayProfile] = field(default_factory=dict)
    #: the meter's own stamps of the series' last raw readings before the batch, oldest
    #: first: a drifting clock's chain (``vee.drift``) begun in an earlier batch goes on
    stamps: tuple[int, ...] = ()


class MasterData(Protocol):
    """Master data for VEE, fetched in bulk; the store side implements it. Outages are
    fetched from ``outages_from`` (the like-day lookback) when it is earlier than
    ``start``, so history days with outages are not taken as like days."""

    def contexts(
        self,
        tenant_id: int,
        meter_ids: Sequence[int],
        start: int,
        end: int,
        *,
        outages_from: int | None = None,
    ) -> Mapping[int, MeterContext]: ...


class History(Protocol):
    """Validated history before a batch, fetched in bulk; the store side implements it."""

    def history(
        self, tenant_id: int, keys: Sequence[SeriesKey], before: Mapping[SeriesKey, int], days: int
    ) -> Mapping[SeriesKey, SeriesHistory]: ...


NO_CONTEXT = MeterContext()
