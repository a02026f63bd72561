"""Consumption at a usage point over a period, across meter changes: the installation
history gives each meter's window, the register reads its values (domain.consumption)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cimhub.domain.consumption import Consumption, Segment, consumption
from cimhub.domain.meter import multiplier
from cimhub.domain.reading import ReadingKind
from cimhub.errors import UnknownObjectError

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork


def usage_point_consumption(
    uow: UnitOfWork, tenant_id: int, usage_point: str, reading_type: str, start: int, end: int
) -> Consumption:
    """Energy of the cumulative register ``reading_type`` over (start, end] at the usage
    point (mRID or consumer number), summed over every meter installed there meanwhile."""
    point = uow.usage_points.require(tenant_id, [usage_point])[usage_point]
    stays = [
        i
        for i in uow.installations.history(tenant_id, usage_point_ids=[point.id])
        if i.start < end and (i.end is None or i.end > start)
    ]
    type_id = uow.reading_types.find_ids([reading_type]).get(reading_type)
    if type_id is None:
        raise UnknownObjectError(f"no readings of type {reading_type}", object_id=reading_type)
    meters = uow.meter_assets.rows(tenant_id, {i.meter_id for i in stays}, narrow=True)
    segments = []
    for stay in stays:
        series = uow.readings.query(
            tenant_id,
            ReadingKind.REGISTER,
            meter_ids=[stay.meter_id],
            reading_type_ids=[type_id],
            start=None,
            end=end,
            after=None,
            limit=1_000_000,
        )
        row = meters[stay.meter_id]
        segments.append(
            Segment(
                stay.meter,
                stay.start,
                stay.end,
                series[0].timestamps if series else [],
                series[0].values if series else [],
                multiplier(row.ct_ratio, row.pt_ratio),
            )
        )
    return consumption(segments, start, end)
