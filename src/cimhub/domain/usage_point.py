"""A usage point (consumer connection or non-metered service point) as master data."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from enum import StrEnum
from functools import lru_cache
from typing import Any

from cimhub.errors import InvalidValueError


class Category(StrEnum):
    RESIDENTIAL = "residential"
    COMMERCIAL = "commercial"
    INDUSTRIAL = "industrial"
    AGRICULTURAL = "agricultural"
    STREET_LIGHT = "street_light"
    TRAFFIC_SIGNAL = "traffic_signal"
    GOVERNMENT = "government"
    PUBLIC_WATER_WORKS = "public_water_works"
    EV_CHARGING = "ev_charging"
    OTHER = "other"


_CATEGORY_ALIASES = {
    "domestic": Category.RESIDENTIAL,
    "nondomestic": Category.COMMERCIAL,
    "agriculture": Category.AGRICULTURAL,
    "ag": Category.AGRICULTURAL,
    "streetlight": Category.STREET_LIGHT,
    "streetlighting": Category.STREET_LIGHT,
    "trafficsignal": Category.TRAFFIC_SIGNAL,
    "publicwaterworks": Category.PUBLIC_WATER_WORKS,
    "evcharging": Category.EV_CHARGING,
}


class PaymentMode(StrEnum):
    PREPAID = "prepaid"
    POSTPAID = "postpaid"


def _key(text: str) -> str:
    return re.sub("[^a-z]", "", text.lower())


@lru_cache(maxsize=1024)
def parse_category(text: str) -> Category:
    key = _key(text)
    for category in Category:
        if key == _key(category.value):
            return category
    if key in _CATEGORY_ALIASES:
        return _CATEGORY_ALIASES[key]
    raise InvalidValueError(f"unknown consumer category {text!r}")


@lru_cache(maxsize=1024)
def parse_payment_mode(text: str) -> PaymentMode:
    try:
        return PaymentMode(_key(text))
    except ValueError:
        raise InvalidValueError(f"payment mode {text!r} is neither prepaid nor postpaid") from None


@dataclass(frozen=True, slots=True)
class UsagePointSpec:
    """What a message or a CSV row says about one usage point; None means "not said"."""

    mrid: str | None = None
    consumer_number: str | None = None  # IVRS / K number
    name: str | None = None
    address: str | None = None
    mobile: str | None = None
    email: str | None = None
    category: Category | None = None
    sanctioned_load: float | None = None
    load_unit: str | None = None  # kW or kVA
    tariff_code: str | None = None
    payment_mode: PaymentMode | None = None
    net_metering: bool | None = None
    pv_capacity_kw: float | None = None
    supply_voltage: float | None = None  # volts
    dt_code: str | None = None
    feeder_code: str | None = None
    org_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    metered: bool | None = None
    connected_load_kw: float | None = None
    operating_hours: float | None = None  # per day, for non-metered estimation
    status: str | None = None
    connected_on: int | None = None

    @property
    def key(self) -> str:
        return self.mrid or self.consumer_number or ""

    def attributes(self) -> dict[str, Any]:
        """The stored attributes it sets (hierarchy references excluded)."""
        return {name: value for name in ATTRIBUTES if (value := getattr(self, name)) is not None}

    def check(self) -> None:
        if not self.key:
            raise InvalidValueError("a usage point needs an mRID or a consumer number")
        if self.latitude is not None and not -90 <= self.latitude <= 90:
            raise InvalidValueError(f"usage point {self.key!r}: latitude out of range")
        if self.longitude is not None and not -180 <= self.longitude <= 180:
            raise InvalidValueError(f"usage point {self.key!r}: longitude out of range")
        if self.load_unit is not None and self.load_unit not in ("kW", "kVA"):
            raise InvalidValueError(f"usage point {self.key!r}: load unit must be kW or kVA")
        for name in ("sanctioned_load", "pv_capacity_kw", "connected_load_kw"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InvalidValueError(f"usage point {self.key!r}: {name} is negative")
        if self.operating_hours is not None and not 0 <= self.operating_hours <= 24:
            raise InvalidValueError(f"usage point {self.key!r}: operating hours must be 0..24")
        if self.metered is False and self.connected_load_kw is None:
            raise InvalidValueError(
                f"non-metered usage point {self.key!r} needs its connected load"
            )


#: The stored attributes a spec carries (identity, lifecycle and references left out).
ATTRIBUTES = tuple(
    f.name
    for f in fields(UsagePointSpec)
    if f.name not in ("mrid", "dt_code", "feeder_code", "org_code")
)
