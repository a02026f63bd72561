"""The IEC 61968-9 ReadingType: the 18-field code decoded into what it measures."""

from __future__ import annotations

from dataclasses import dataclass

from cimhub.errors import InvalidValueError

FIELDS = (
    "macro_period",
    "aggregate",
    "measuring_period",
    "accumulation",
    "flow_direction",
    "commodity",
    "measurement_kind",
    "interharmonic_numerator",
    "interharmonic_denominator",
    "argument_numerator",
    "argument_denominator",
    "tou",
    "cpp",
    "consumption_tier",
    "phases",
    "multiplier",
    "unit",
    "currency",
)

#: measuringPeriod enumeration → seconds (61968-9 TimeAttributeKind).
PERIOD_SECONDS = {
    0: 0,
    1: 600,
    2: 900,
    3: 60,
    4: 86_400,
    5: 1_800,
    6: 300,
    7: 3_600,
    10: 120,
    14: 180,
    15: 20,
    16: 10,
    31: 30,
    32: 12 * 3_600,
}
ACCUMULATIONS = {
    1: "bulkQuantity",
    3: "cumulative",
    4: "deltaData",
    6: "indicating",
    9: "summation",
    12: "instantaneous",
    13: "latchingQuantity",
}
FLOW_DIRECTIONS = {
    0: "none",
    1: "forward",
    2: "lagging",
    3: "leading",
    4: "net",
    5: "q1plusQ2",
    19: "reverse",
    20: "total",
}
UNITS = {
    0: "none",
    5: "A",
    29: "V",
    33: "Hz",
    38: "W",
    61: "VA",
    63: "VAr",
    65: "cosPhi",
    71: "VAh",
    72: "Wh",
    73: "VArh",
    108: "s",
    159: "min",
}


@dataclass(frozen=True, slots=True)
class ReadingType:
    """A decoded ReadingType code; every field is the standard's integer."""

    code: str
    macro_period: int
    aggregate: int
    measuring_period: int
    accumulation: int
    flow_direction: int
    commodity: int
    measurement_kind: int
    interharmonic_numerator: int
    interharmonic_denominator: int
    argument_numerator: int
    argument_denominator: int
    tou: int
    cpp: int
    consumption_tier: int
    phases: int
    multiplier: int
    unit: int
    currency: int

    @property
    def interval_seconds(self) -> int:
        """Length of the measuring period, 0 for registers and unknown periods."""
        return PERIOD_SECONDS.get(self.measuring_period, 0)

    @property
    def unit_symbol(self) -> str:
        prefix = {0: "", 3: "k", 6: "M", -3: "m"}.get(self.multiplier, f"e{self.multiplier}")
        return prefix + UNITS.get(self.unit, str(self.unit))

    @property
    def is_export(self) -> bool:
        return self.flow_direction == 19


def parse_reading_type(code: str) -> ReadingType:
    """Decode an 18-field code.

    >>> rt = parse_reading_type("0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0")
    >>> (rt.interval_seconds, rt.unit_symbol, ACCUMULATIONS[rt.accumulation])
    (900, 'kWh', 'deltaData')
    """
    parts = code.strip().split(".")
    if len(parts) != len(FIELDS):
        raise InvalidValueError(f"ReadingType {code!r} has {len(parts)} fields, not 18")
    try:
        numbers = [int(p) for p in parts]
    except ValueError as exc:
        raise InvalidValueError(f"ReadingType {code!r} has a non-integer field") from exc
    return ReadingType(code.strip(), *numbers)
