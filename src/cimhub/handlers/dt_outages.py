"""DT-level outages raised and restored after meter power events, told to OMS/CIS.

Subscribers of ``EndDeviceEvents`` ``created`` (OMS, CIS) get one EndDeviceEvent per change,
in the transaction that stored the meter events (outbox): type 3.26.0.85 when a DT-level
outage is raised, 3.26.0.216 when it is restored. Its ``Assets/Names/name`` is the DT's
code, its details say ``scope = DistributionTransformer``, ``meters.off`` and
``meters.total``. A subscription's event-type filter applies.
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from cimhub.domain.event import POWER_OFF, POWER_ON, Event
from cimhub.domain.reading import MeterRef
from cimhub.mappings.end_device_events import write_end_device_events
from cimhub.message.verb import Noun, Verb
from cimhub.settings import Settings
from cimhub.store.dt_outages import DtChange, DtOutageRepository
from cimhub.store.outbox import Kind, OutboxRepository
from cimhub.store.subscriptions import SubscriptionRepository
from cimhub.store.unit_of_work import UnitOfWork

NOUN = Noun.END_DEVICE_EVENTS.value
SCOPE = "DistributionTransformer"


def raise_dt_outages(
    uow: UnitOfWork, tenant_id: int, meter_ids: Sequence[int], settings: Settings
) -> list[DtChange]:
    """Re-derive the DTs of these meters; announce what was raised or restored."""
    changes = DtOutageRepository(uow).rederive(
        tenant_id,
        meter_ids,
        share=settings.dt_outage_share,
        window=settings.dt_outage_window_seconds,
    )
    if changes:
        _announce(uow, tenant_id, changes)
    return changes


def dt_event(change: DtChange) -> Event:
    """The EndDeviceEvent that tells a DT outage raised or restored."""
    o = change.outage
    at = o.end if change.restored and o.end is not None else o.start
    what = "restored" if change.restored else "outage"
    return Event(
        meter=MeterRef(names=(change.dt,)),
        created=at,
        event_type=POWER_ON if change.restored else POWER_OFF,
        severity="major",
        mrid=f"dt-{change.dt}-{o.start}-{what}",
        reason=f"DT-level {what}: {o.meters_off} of {o.meters_total} meters lost supply",
        details={
            "scope": SCOPE,
            "meters.off": str(o.meters_off),
            "meters.total": str(o.meters_total),
        },
    )


def _announce(uow: UnitOfWork, tenant_id: int, changes: list[DtChange]) -> None:
    tenant = uow.tenants.code_of(tenant_id)
    events = [dt_event(c) for c in changes]
    outbox = OutboxRepository(uow)
    for sub in SubscriptionRepository(uow).for_tenant(tenant_id):
        if not sub.matches(tenant, NOUN, Verb.CREATED.value):
            continue
        wanted = [e for e in events if sub.wants(event_types={e.event_type})]
        if wanted:
            outbox.add(
                tenant_id,
                Kind.EVENT,
                noun=NOUN,
                verb=Verb.CREATED.value,
                address=sub.name,
                headers={"correlation_id": wanted[0].mrid, "scope": SCOPE},
                body=etree.tostring(write_end_device_events(wanted)),
            )
