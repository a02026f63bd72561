"""A meter (IEC 61968 EndDevice) as master data describes it; None means "not said"."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from enum import StrEnum
from functools import lru_cache
from typing import Any

from cimhub.domain.lifecycle import Stage
from cimhub.errors import InvalidValueError


class MeterType(StrEnum):
    SINGLE_PHASE_WC = "1ph_wc"
    THREE_PHASE_WC = "3ph_wc"
    LT_CT = "lt_ct"
    HT = "ht"
    DT = "dt"
    FEEDER = "feeder"
    BOUNDARY = "boundary"


_TYPE_ALIASES = {
    "1phwc": MeterType.SINGLE_PHASE_WC,
    "1ph": MeterType.SINGLE_PHASE_WC,
    "singlephase": MeterType.SINGLE_PHASE_WC,
    "3phwc": MeterType.THREE_PHASE_WC,
    "3ph": MeterType.THREE_PHASE_WC,
    "threephase": MeterType.THREE_PHASE_WC,
    "ltct": MeterType.LT_CT,
    "ht": MeterType.HT,
    "htctpt": MeterType.HT,
    "dt": MeterType.DT,
    "dtmeter": MeterType.DT,
    "dtr": MeterType.DT,
    "feeder": MeterType.FEEDER,
    "feedermeter": MeterType.FEEDER,
    "boundary": MeterType.BOUNDARY,
    "boundarymeter": MeterType.BOUNDARY,
}


@lru_cache(maxsize=1024)
def parse_meter_type(text: str) -> MeterType:
    """'1-ph WC' → 1ph_wc, 'LT CT' → lt_ct; 2.1 for anything else."""
    key = re.sub("[^a-z0-9]", "", text.lower())
    if key in _TYPE_ALIASES:
        return _TYPE_ALIASES[key]
    raise InvalidValueError(f"unknown meter type {text!r}")


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """What a message or a CSV row says about one meter."""

    mrid: str | None = None
    serial_number: str | None = None
    make: str | None = None
    model: str | None = None
    meter_type: MeterType | None = None
    phases: int | None = None
    ct_ratio: float | None = None
    pt_ratio: float | None = None
    dials: int | None = None
    firmware: str | None = None
    comm_module: str | None = None
    hes: str | None = None
    purchase_order: str | None = None
    warranty_until: str | None = None  # ISO date
    lot_number: str | None = None
    stage: Stage | None = None
    stage_at: int | None = None
    changed_by: str | None = None
    reason: str | None = None

    @property
    def key(self) -> str:
        return self.mrid or self.serial_number or ""

    def attributes(self) -> dict[str, Any]:
        """The stored attributes it sets (identity and lifecycle excluded)."""
        return {name: value for name in ATTRIBUTES if (value := getattr(self, name)) is not None}

    def check(self) -> None:
        if not self.key:
            raise InvalidValueError("a meter needs an mRID or a serial number")
        for name in ("ct_ratio", "pt_ratio"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InvalidValueError(f"meter {self.key!r}: {name} must be positive")
        if self.phases is not None and self.phases not in (1, 3):
            raise InvalidValueError(f"meter {self.key!r}: phases must be 1 or 3")
        if self.dials is not None and not 1 <= self.dials <= 12:
            raise InvalidValueError(f"meter {self.key!r}: dials must be 1..12")


#: The stored attributes a spec carries (identity, lifecycle and references left out).
ATTRIBUTES = tuple(
    f.name
    for f in fields(MeterSpec)
    if f.name not in ("mrid", "stage", "stage_at", "changed_by", "reason")
)


def multiplier(ct_ratio: float | None, pt_ratio: float | None) -> float:
    """The factor from the meter's register to primary energy.

    >>> multiplier(40, 100), multiplier(None, None)
    (4000.0, 1.0)
    """
    return float((ct_ratio or 1) * (pt_ratio or 1))
