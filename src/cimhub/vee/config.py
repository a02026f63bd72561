"""VEE parameters: defaults per tenant, overridden per meter type and consumer category.

A frozen ``VeeConfig`` loads from a TOML file; a tenant's overrides may also be stored
(``PUT /api/v1/vee/config``) and lie over its file section (``with_tenant``)::

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

Resolution order: built-in defaults ← [defaults] ← tenant ← meter type ← category (the
tenant's stored values merged over its file values at each level).
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
    #: a drifting meter clock (``vee.drift``): readings beyond the tolerance whose offset
    #: from the grid changes by at most ``jitter`` seconds from one to the next, over at
    #: least ``min_readings`` intervals, and is at most ``max`` seconds (below half an
    #: interval) are aligned to the grid, not left off it; max 0 turns alignment off
    clock_drift_max_seconds: int = 300
    clock_drift_jitter_seconds: int = 10
    clock_drift_min_readings: int = 3
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
    # assessed consumption of points without a working meter (see ``vee.assessment``)
    non_metered_hours: float = 24.0  #: per day, when the point has no operating hours
    non_metered_load_factor: float = 1.0

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
    for overrides in (plain, *layer.meter_type.values(), *layer.category.values()):
        check_values(overrides)  # fail on load, not on first use
    return layer


def check_values(values: dict[str, Any]) -> None:
    """Raise ValueError unless every name is a parameter and every value has its type.

    >>> check_values({"spike_factor": 4, "disabled": ["usage.static"]})
    >>> check_values({"spike_factor": "high"})
    Traceback (most recent call last):
    ValueError: VEE parameter spike_factor must be a number, not 'high'
    """
    _apply(Params(), values)  # unknown names
    for name, value in values.items():
        want = _kind(getattr(Params(), name), name)
        if not _fits(value, want):
            raise ValueError(f"VEE parameter {name} must be {want}, not {value!r}")


def _kind(default: Any, name: str) -> str:
    if name == "like_day_statistic":
        return "'avg' or 'max'"
    if isinstance(default, frozenset):
        return "a list of strings"
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "an integer"
    return "a number" if default is not None else "a number or null"


def _fits(value: Any, want: str) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return {
        "'avg' or 'max'": value in ("avg", "max"),
        "a list of strings": isinstance(value, list | tuple | set | frozenset)
        and all(isinstance(v, str) for v in value),
        "true or false": isinstance(value, bool),
        "an integer": isinstance(value, int) and not isinstance(value, bool),
        "a number": number,
        "a number or null": value is None or number,
    }[want]


def tenant_layer(document: dict[str, Any]) -> Layer:
    """A tenant's stored overrides (``parameters``, ``meter_type``, ``category``), checked.

    >>> tenant_layer({"parameters": {"spike_factor": 4.0}}).values
    {'spike_factor': 4.0}
    """
    unknown = set(document) - {"parameters", "meter_type", "category"}
    if unknown:
        raise ValueError(f"unknown section(s): {', '.join(sorted(unknown))}")
    return _layer({**document.get("parameters", {}), **{
        k: document[k] for k in ("meter_type", "category") if k in document}})  # fmt: skip


def with_tenant(config: VeeConfig, tenant: str, layer: Layer, version: int) -> VeeConfig:
    """``config`` with a tenant's stored ``layer`` over its file section; the version
    stamped on validated values names both (``<file version>+t<stored version>``)."""
    base = config.tenants.get(tenant, Layer())
    merged = Layer(
        {**base.values, **layer.values},
        _merged(base.meter_type, layer.meter_type),
        _merged(base.category, layer.category),
    )
    return VeeConfig(f"{config.version}+t{version}", config.defaults,
                     {**config.tenants, tenant: merged})  # fmt: skip


def _merged(
    base: dict[str, dict[str, Any]], over: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    return {k: {**base.get(k, {}), **over.get(k, {})} for k in {*base, *over}}


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
