"""The prepaid feed's store side: one local day's consumption of each prepaid usage point,
summed from its daily aggregates, and the record of what each subscriber was sent."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from cimhub.billing.cycle import day_number
from cimhub.billing.daily import Day
from cimhub.billing.determinants import Determinants, combine
from cimhub.domain.usage_point import PaymentMode
from cimhub.store.billing_models import BillingDaily, PrepaidFeedRow
from cimhub.store.bulk import insert_rows
from cimhub.store.master_models import UsagePoint
from cimhub.store.models import now as clock

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

D, F, U = BillingDaily.__table__, PrepaidFeedRow.__table__, UsagePoint.__table__


@dataclass(frozen=True, slots=True)
class PrepaidDay:
    usage_point_id: int
    mrid: str
    meter_id: int | None  #: a main meter of the day (the highest id after a meter change)
    determinants: Determinants


def prepaid_days(
    uow: UnitOfWork, tenant_id: int, day: date, *, subtract_check: bool = True
) -> list[PrepaidDay]:
    """Active prepaid usage points with any daily aggregate on ``day``, by mRID."""
    stmt = (
        select(D.c.usage_point_id, U.c.mrid, D.c.meter_id, D.c.role, D.c.data)
        .join(U, U.c.id == D.c.usage_point_id)
        .where(
            D.c.tenant_id == tenant_id,
            D.c.day == day_number(day),
            U.c.payment_mode == PaymentMode.PREPAID.value,
            U.c.record_status == "active",
        )
        .order_by(U.c.mrid, D.c.meter_id)
    )
    rows: dict[int, list[tuple[str, Day]]] = defaultdict(list)
    names: dict[int, tuple[str, int | None]] = {}
    for up_id, mrid, meter_id, role, data in uow.session.execute(stmt):
        rows[up_id].append((role, Day.from_data(json.loads(data))))
        main = meter_id if role == "main" else names.get(up_id, (mrid, None))[1]
        names[up_id] = (mrid, main)
    return [
        PrepaidDay(up, names[up][0], names[up][1], combine(days, subtract_check=subtract_check))
        for up, days in rows.items()
    ]


def sent(uow: UnitOfWork, tenant_id: int, day: date, subscription: str) -> dict[int, str]:
    """Usage point → digest of what ``subscription`` was sent for ``day``."""
    stmt = select(F.c.usage_point_id, F.c.digest).where(
        F.c.tenant_id == tenant_id,
        F.c.day == day_number(day),
        F.c.subscription == subscription,
    )
    return {up: digest for up, digest in uow.session.execute(stmt)}


def record(
    uow: UnitOfWork,
    tenant_id: int,
    day: date,
    subscription: str,
    digests: dict[int, str],
    known: dict[int, str],
) -> None:
    """Remember what was sent: new usage points inserted, re-sent ones updated."""
    stamp, number = clock(), day_number(day)
    key = {"tenant_id": tenant_id, "day": number, "subscription": subscription}
    insert_rows(
        uow,
        F,
        [key | {"usage_point_id": up, "digest": d, "fed_at": stamp}
         for up, d in digests.items() if up not in known],
    )  # fmt: skip
    for up, digest in digests.items():
        if up in known:
            uow.session.execute(
                update(F)
                .where(
                    F.c.tenant_id == tenant_id,
                    F.c.day == number,
                    F.c.subscription == subscription,
                    F.c.usage_point_id == up,
                )
                .values(digest=digest, fed_at=stamp)
            )
