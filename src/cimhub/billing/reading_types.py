"""The determinant ReadingTypes (billing-period macro period 8, reference/cim.md §3): one
per channel and TOU bucket; demand carries its integration period in measuringPeriod."""

from __future__ import annotations

from cimhub.billing.channel import Channel

BILLING_PERIOD = 8
_FLOW = {"import": 1, "export": 19, "net": 4}
_PERIOD = {900: 2, 1800: 5, 3600: 7}


def _code(*, aggregate: int, period: int, accumulation: int, flow: int, kind: int, tou: int,
          multiplier: int, unit: int) -> str:  # fmt: skip
    fields = [BILLING_PERIOD, aggregate, period, accumulation, flow, 1, kind, 0, 0, 0, 0, tou]
    return ".".join(str(f) for f in [*fields, 0, 0, 0, multiplier, unit, 0])


def energy(channel: Channel | str, tou: int = 0) -> str:
    """Energy of a channel (``kwh_net`` is the virtual net channel).

    >>> energy(Channel.KWH_IMPORT), energy("kwh_net", 2)
    ('8.0.0.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0', '8.0.0.4.4.1.12.0.0.0.0.2.0.0.0.3.72.0')
    """
    quantity, direction = str(channel).split("_")
    unit = 72 if quantity == "kwh" else 71
    return _code(aggregate=0, period=0, accumulation=4, flow=_FLOW[direction], kind=12,
                 tou=tou, multiplier=3, unit=unit)  # fmt: skip


def demand(name: str, seconds: int, tou: int = 0) -> str:
    """Maximum demand (``kw`` or ``kva``) over blocks of ``seconds``.

    >>> demand("kw", 1800)
    '8.8.5.6.1.1.8.0.0.0.0.0.0.0.0.3.38.0'
    """
    return _code(aggregate=8, period=_PERIOD.get(seconds, 0), accumulation=6, flow=1, kind=8,
                 tou=tou, multiplier=3, unit=38 if name == "kw" else 61)  # fmt: skip


#: Average power factor over the billing period.
POWER_FACTOR = "8.2.0.0.0.1.38.0.0.0.0.0.0.0.0.0.65.0"


#: Tamper events, outages and outage minutes over the billing period: MeasurementKind
#: tamper (148) and powerOutage (136), UnitSymbol count (111) and min (159), deltaData.
TAMPER_COUNT = "8.0.0.4.0.1.148.0.0.0.0.0.0.0.0.0.111.0"
OUTAGE_COUNT = "8.0.0.4.0.1.136.0.0.0.0.0.0.0.0.0.111.0"
OUTAGE_MINUTES = "8.0.0.4.0.1.136.0.0.0.0.0.0.0.0.0.159.0"
#: summary key → its ReadingType
EVENT_FIGURES = {
    "tamper_events": TAMPER_COUNT,
    "outages": OUTAGE_COUNT,
    "outage_minutes": OUTAGE_MINUTES,
}


def is_determinant(code: str) -> bool:
    return code.split(".", 1)[0] == str(BILLING_PERIOD)


DAILY = 11


def daily_energy(channel: Channel | str, tou: int = 0) -> str:
    """A channel's energy over one day (macroPeriod 11), the prepaid feed's ReadingTypes.

    >>> daily_energy(Channel.KWH_IMPORT), daily_energy(Channel.KWH_EXPORT, 3)
    ('11.0.0.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0', '11.0.0.4.19.1.12.0.0.0.0.3.0.0.0.3.72.0')
    """
    return f"{DAILY}.{energy(channel, tou).split('.', 1)[1]}"


def is_daily(code: str) -> bool:
    return code.split(".", 1)[0] == str(DAILY)
