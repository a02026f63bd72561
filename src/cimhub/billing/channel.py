"""Which interval ReadingTypes feed which determinant channel, and their scale to kWh/kVAh.

Energies are carried as integer milli-watt-hours (mWh) from here on: sums are then exact
and independent of order, so a month summed from days equals the month summed at once.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from cimhub.domain.reading_type import parse_reading_type
from cimhub.errors import InvalidValueError

#: mWh per kWh (or mVAh per kVAh)
MILLI = 1_000_000
ESTIMATED, MISSING = "3.8.0", "3.5.259"


class Channel(StrEnum):
    KWH_IMPORT = "kwh_import"
    KWH_EXPORT = "kwh_export"
    KVAH_IMPORT = "kvah_import"
    KVAH_EXPORT = "kvah_export"


_BY_FLOW_UNIT = {
    (1, 72): Channel.KWH_IMPORT,
    (19, 72): Channel.KWH_EXPORT,
    (1, 71): Channel.KVAH_IMPORT,
    (19, 71): Channel.KVAH_EXPORT,
}


@lru_cache(maxsize=1024)  # a handful of codes, asked for every meter-day
def classify(code: str) -> tuple[Channel, int, float] | None:
    """(channel, interval seconds, factor to kWh) of an interval energy ReadingType, or
    None when it is not one (registers, demand, voltage, TOU-split channels).

    >>> classify("0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0")
    (<Channel.KWH_IMPORT: 'kwh_import'>, 900, 1.0)
    >>> classify("0.0.2.4.19.1.12.0.0.0.0.0.0.0.0.0.72.0")[2]
    0.001
    """
    try:
        rt = parse_reading_type(code)
    except InvalidValueError:
        return None
    channel = _BY_FLOW_UNIT.get((rt.flow_direction, rt.unit))
    if (
        channel is None
        or rt.accumulation != 4
        or rt.measurement_kind != 12
        or rt.tou != 0
        or rt.macro_period != 0
        or rt.interval_seconds == 0
    ):
        return None
    return channel, rt.interval_seconds, 10.0 ** (rt.multiplier - 3)


def to_milli(value_k: float) -> int:
    """kWh → integer mWh.

    >>> to_milli(0.25), to_milli(1.0000004)
    (250000, 1000000)
    """
    return round(value_k * MILLI)
