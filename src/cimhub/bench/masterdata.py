"""The bench's meters as a DISCOM's stand: each installed at a usage point of its own.

In service a utility loads its usage points and meter installations (MeterConfig,
UsagePointConfig, CSV import) before the first reading arrives. Ingest then does all it
does live: VEE judges each meter with its usage point's loads, and the daily billing
aggregates of every day a message touches are recomputed. An auto-registered meter
stands at no usage point and has no aggregates, so traffic to such meters alone would
leave that work out of every figure. Seeding is not timed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from cimhub.store.billing_models import BillingDaily
from cimhub.store.database import Database
from cimhub.testing.billing import Stay, add_usage_points, install
from cimhub.testing.messages import meter_mrid

#: A household's sanctioned and connected loads (kW): above the traffic's peak (~3.6 kW),
#: so VEE's load rules judge every reading and pass it, as they mostly do.
SANCTIONED_KW, CONNECTED_KW = 5.0, 6.0


def usage_point(meter: int) -> str:
    return f"UP-BENCH-{meter}"


def install_meters(database: Database, tenant: str, meters: range, since: datetime) -> None:
    """Meters ``meters`` (the traffic's numbering) of ``tenant`` installed, as main meters
    from a month before ``since``, at residential usage points of their own."""
    start = int((since - timedelta(days=30)).timestamp())
    with database.unit_of_work() as uow:
        tenant_id = uow.tenants.ensure(tenant)
        uow.bind_tenant(tenant_id)
        add_usage_points(
            uow,
            tenant_id,
            [usage_point(m) for m in meters],
            sanctioned_load=SANCTIONED_KW,
            connected_load_kw=CONNECTED_KW,
        )
        install(uow, tenant_id, [Stay(usage_point(m), meter_mrid(m), start) for m in meters])


def daily_rows(database: Database) -> int:
    """Daily billing aggregates stored: the proof that ingest computed them."""
    with database.unit_of_work(hub=True) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(BillingDaily)) or 0)
