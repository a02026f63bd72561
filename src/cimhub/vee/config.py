"""VEE parameters: defaults per tenant, overridden per meter type and consumer category.

A frozen ``VeeConfig`` loads from a TOML file (REST configuration comes later)::

    version = "2026-11-22.1"          # stamped on every validated value it produced

    [defaults]                        # every tenant
    spike_factor = 5.0
    disabled = ["usage.static"]

    [tenant.discom-a]                 # one tenant's own values
    interpolation_limit_minutes = 180

    [tenant.discom-a.meter_type.3P-CT]
    sum_tolerance_pct = 1.0

    [tenant.discom-a.category.agricultural]
    zero_run_intervals = 48

Resolution order: built-in defaults ← [defaults] ← tenant ← meter type ← category.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Params:
    """Every threshold of every rule and method (each a tenant setting)."""

    disabled: frozenset[str] = frozenset()
    utc_offset_minutes: int = 330  #: the tenant's local time (India: +05:30, no DST)
    holidays: frozenset[str] = frozenset()  #: local dates "YYYY-MM-DD", a day type of their own
    # time
    clock_tolerance_seconds: int = 60
    future_tolerance_seconds: int = 300
    max_age_days: int = 90
    # intervals
    spike_factor: float = 5.0
    spike_window: int = 4  #: neighbours each side for the spike baseline (median)
    spike_min: float = 0.1  #: baseline floor: a spike exceeds K × max(median, this)
    zero_run_intervals: int = 16
    static_run_intervals: int = 8
    sanctioned_load_factor: float = 1.5
    history_high_pct: float = 300.0
    history_low_pct: float = 10.0
    history_min_days: int = 3
    # registers
    register_tolerance: float = 0.01
    max_increment_per_day: float | None = None  #: else sanctioned load × 24 h × factor
    tou_tolerance_abs: float = 0.5
    tou_tolerance_pct: float = 0.1
    demand_factor: float = 1.5  #: MD above sanctioned load × this is too high
    # sum check (Σ intervals vs register difference)
    sum_tolerance_pct: float = 2.0
    sum_tolerance_abs: float = 0.5
    # net metering
    pv_export_factor: float = 1.1
    max_export_hours_per_day: float = 8.0
    # estimation
    reacquisition_wait_minutes: int = 240
    interpolation_limit_minutes: int = 120
    like_days: int = 3
    like_day_lookback_days: int = 28
    like_day_statistic: Literal["avg", "max"] = "avg"
    scale_to_registers: bool = True

    def enabled(self, rule: str) -> bool:
        return rule not in self.disabled


@dataclass(frozen=True, slots=True)
class Layer:
    """One level of overrides: plain values plus its own per-type and per-category levels."""

    values: dict[str, Any] = field(default_factory=dict)
    meter_type: dict[str, dict[str, Any]] = field(default_factory=dict)
    category: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class VeeConfig:
    version: str = "builtin"
    defaults: Layer = Layer()
    tenants: dict[str, Layer] = field(default_factory=dict)

    def params(
        self, tenant: str | None = None, meter_type: str | None = None, category: str | None = None
    ) -> Params:
        """The parameters in force for one meter (cached: configs are immutable)."""
        return _resolve(self, tenant, meter_type, category)

    def __hash__(self) -> int:
        return id(self)


@lru_cache(maxsize=4096)
def _resolve(
    config: VeeConfig, tenant: str | None, meter_type: str | None, category: str | None
) -> Params:
    params = Params()
    for layer in (config.defaults, config.tenants.get(tenant or "")):
        if layer is None:
            continue
        params = _apply(params, layer.values)
        params = _apply(params, layer.meter_type.get(meter_type or "", {}))
        params = _apply(params, layer.category.get(category or "", {}))
    return params


KNOWN = {f.name for f in fields(Params)}
SETS = {"disabled", "holidays"}


def _apply(params: Params, values: dict[str, Any]) -> Params:
    if not values:
        return params
    unknown = set(values) - KNOWN
    if unknown:
        raise ValueError(f"unknown VEE parameter(s): {', '.join(sorted(unknown))}")
    cooked = {k: frozenset(v) if k in SETS else v for k, v in values.items()}
    return replace(params, **cooked)


def _layer(table: dict[str, Any]) -> Layer:
    plain = {k: v for k, v in table.items() if k not in ("meter_type", "category")}
    layer = Layer(plain, table.get("meter_type", {}), table.get("category", {}))
    _apply(Params(), plain)  # fail on load, not on first use
    for overrides in (*layer.meter_type.values(), *layer.category.values()):
        _apply(Params(), overrides)
    return layer


def parse_config(data: dict[str, Any]) -> VeeConfig:
    """A config from parsed TOML (see the module docstring)."""
    return VeeConfig(
        version=str(data.get("version", "unversioned")),
        defaults=_layer(data.get("defaults", {})),
        tenants={code: _layer(t) for code, t in data.get("tenant", {}).items()},
    )


def load_config(path: str | Path) -> VeeConfig:
    with open(path, "rb") as handle:
        return parse_config(tomllib.load(handle))


DEFAULT = VeeConfig()
