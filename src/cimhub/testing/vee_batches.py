"""Small factories of VEE batches and contexts for hand-computed rule tests."""

from __future__ import annotations

from collections.abc import Sequence

from cimhub.domain.reading import ReadingKind
from cimhub.vee.batch import Batch
from cimhub.vee.context import MeterContext, MeterInfo, MeterState, UsagePointInfo
from cimhub.vee.finding import SeriesKey

KWH = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
EXPORT = "0.0.2.4.19.1.12.0.0.0.0.0.0.0.0.3.72.0"
CUM = "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
NET_CUM = "0.0.0.1.4.1.12.0.0.0.0.0.0.0.0.3.72.0"
MD = "8.8.0.6.1.1.8.0.0.0.0.0.0.0.0.3.38.0"
STEP = 900
#: 2024-06-03 00:00 IST (a Monday), as UTC epoch seconds
MONDAY = 1_717_353_000


def tou(zone: int) -> str:
    return f"0.0.0.1.1.1.12.0.0.0.0.{zone}.0.0.0.3.72.0"


def intervals(
    values: Sequence[float | None],
    *,
    start: int = MONDAY,
    code: str = KWH,
    meter: int = 1,
    period: bool = True,
) -> Batch:
    """An interval batch from ``start`` (exclusive); None leaves a gap. With ``period``
    the batch answers for exactly (start, start + len × 15 min]."""
    stamps = [start + STEP * (i + 1) for i in range(len(values))]
    kept = [(ts, v) for ts, v in zip(stamps, values, strict=True) if v is not None]
    return Batch(
        SeriesKey(meter, code),
        ReadingKind.INTERVAL,
        [ts for ts, _ in kept],
        [v for _, v in kept],
        [""] * len(kept),
        start if period else None,
        stamps[-1] if period else None,
    )


def registers(
    stamps: Sequence[int], values: Sequence[float], *, code: str = CUM, meter: int = 1
) -> Batch:
    return Batch(
        SeriesKey(meter, code), ReadingKind.REGISTER, list(stamps), list(values), [""] * len(stamps)
    )


def context(
    *,
    state: MeterState | None = MeterState.IN_SERVICE,
    outages: tuple[tuple[int, int], ...] | None = (),
    dials: int | None = None,
    multiplier: float | None = None,
    sanctioned: float | None = None,
    net: bool | None = False,
    pv: float | None = None,
    billing_day: int | None = None,
    outages_since: int | None = None,
    disconnected: tuple[tuple[int, int], ...] | None = None,
) -> MeterContext:
    return MeterContext(
        MeterInfo("1P-WC", multiplier, dials, state),
        UsagePointInfo("domestic", sanctioned, None, net, pv, False, billing_day),
        outages,
        outages_since,
        disconnected,
    )
