"""Master data for VEE: the ``vee.context.MasterData`` Protocol over the store's tables.

One query for the meters (with from when their outages are known and whether their relay
state is), one for their main installations with the usage point, one for their outages
and, when one of them ever switched, one for their relay periods (``store.relay``): what
VEE needs per meter, in bulk. What the store does not know stays None (the rules that
need it stay quiet): outages of meters whose outages are not known
(``store.vee_outages``), the relay of meters the hub knows no switch of. The
billing day (when maximum demand resets) is the tenant's billing cycle day, the one
billing determinants use (``BillingConfig.cycle_day``, 1 unless configured).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from cimhub.domain.lifecycle import Stage
from cimhub.store.billing_config import BillingConfigs
from cimhub.store.master_models import Installation, UsagePoint
from cimhub.store.models import Meter
from cimhub.store.relay import RelayRepository, has_relay
from cimhub.store.sql import member_of
from cimhub.store.vee_outages import contexts_outages, earliest, known_since, outages
from cimhub.vee.context import MeterContext, MeterInfo, MeterState, UsagePointInfo

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

#: lifecycle stage → what VEE makes of it (stages not listed: unknown)
STATES = {
    Stage.IN_SERVICE: MeterState.IN_SERVICE,
    Stage.COMMISSIONED: MeterState.IN_SERVICE,
    Stage.REMOVED: MeterState.INACTIVE,
    Stage.DECOMMISSIONED: MeterState.INACTIVE,
    Stage.IN_STORE: MeterState.INACTIVE,
    Stage.PROCURED: MeterState.INACTIVE,
    Stage.ISSUED: MeterState.INACTIVE,
}


class StoreMasterData:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def contexts(
        self,
        tenant_id: int,
        meter_ids: Sequence[int],
        start: int,
        end: int,
        *,
        outages_from: int | None = None,
    ) -> Mapping[int, MeterContext]:
        if not meter_ids:
            return {}
        dialect, session = self._uow.dialect, self._uow.session
        meters = session.execute(
            select(
                Meter.id,
                Meter.meter_type,
                Meter.ct_ratio,
                Meter.pt_ratio,
                Meter.dials,
                Meter.lifecycle_stage,
                *known_since(),
                has_relay().label("relay"),
            ).where(Meter.tenant_id == tenant_id, member_of(Meter.id, meter_ids, dialect))
        ).all()
        points = self._usage_points(tenant_id, meter_ids, start, end)
        cycle = UsagePointInfo(billing_day=self._cycle_day(tenant_id))
        since = {m.id: earliest(*m[6:9]) for m in meters}
        aware = {m for m, at in since.items() if at is not None and at < end}
        first = min(start, outages_from or start)
        found = outages(self._uow, tenant_id, aware, first, end)
        relay = RelayRepository(self._uow).disconnected(
            tenant_id, [m.id for m in meters if m.relay], first, end
        )
        return {
            m.id: MeterContext(
                MeterInfo(
                    meter_type=m.meter_type,
                    multiplier=_multiplier(m.ct_ratio, m.pt_ratio),
                    dials=m.dials,
                    state=STATES.get(Stage(m.lifecycle_stage)) if m.lifecycle_stage else None,
                ),
                points.get(m.id, cycle),
                contexts_outages(aware, found, m.id),
                since[m.id] if m.id in aware else None,
                relay.get(m.id),
            )
            for m in meters
        }

    def _cycle_day(self, tenant_id: int) -> int:
        """The tenant's billing cycle day (its configuration is read once a unit of work)."""
        return BillingConfigs(self._uow).current(tenant_id).cycle_day

    def _usage_points(
        self, tenant_id: int, meter_ids: Sequence[int], start: int, end: int
    ) -> dict[int, UsagePointInfo]:
        """The usage point each meter was the main meter of during (start, end] (the
        latest installation wins), with the tenant's billing day."""
        i, up = Installation, UsagePoint
        rows = self._uow.session.execute(
            select(
                i.meter_id,
                up.category,
                up.sanctioned_load,
                up.connected_load_kw,
                up.net_metering,
                up.pv_capacity_kw,
                up.metered,
            )
            .join(up, up.id == i.usage_point_id)
            .where(
                i.tenant_id == tenant_id,
                member_of(i.meter_id, meter_ids, self._uow.dialect),
                i.role == "main",
                i.canceled.is_(False),
                i.start_ts <= end,
                or_(i.end_ts.is_(None), i.end_ts > start),
            )
            .order_by(i.meter_id, i.start_ts)
        )
        billing_day = self._cycle_day(tenant_id)
        # kVA sanctioned loads are taken as kW (unity power factor): a limit, not a bill
        return {
            r.meter_id: UsagePointInfo(
                category=r.category,
                sanctioned_load_kw=r.sanctioned_load,
                connected_load_kw=r.connected_load_kw,
                net_metering=r.net_metering,
                pv_capacity_kw=r.pv_capacity_kw,
                non_metered=None if r.metered is None else not r.metered,
                billing_day=billing_day,
            )
            for r in rows
        }


def _multiplier(ct: float | None, pt: float | None) -> float | None:
    if ct is None and pt is None:
        return None
    return (ct or 1.0) * (pt or 1.0)
