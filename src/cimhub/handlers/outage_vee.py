"""Readings judged before the power events or relay switches that explain them: VEE again
where a meter's outages or relay periods changed.

Head-ends often deliver interval data before the power-off/power-on events of the same
period, and a disconnect's outcome (the command executed, the meter's 3.31.0.68 event)
after the zeros it caused. When an EndDeviceEvents message changes a meter's outages or
relay periods, or a head-end reports a connect/disconnect executed, the local days the
change touches are validated again, inside that message's transaction, through
the same path as ``cimhub vee rerun`` (``VeeService.rerun``, users' edits kept): a
zero-consumption finding raised while the outage was unknown is cleared, and gaps inside
the outage are estimated as zero. Doing it in the same transaction means the outage and
the verdicts built on it commit together (nothing announces a finding the stored outage
already contradicts) and a failure leaves neither; the work is bounded by the periods
whose outages changed, not by the meter's history. Changed validated values reach
subscribers as MeterReadings ``changed`` with the events message (``bus.outbox``);
cleared findings as VeeFindings ``closed``.

Only the periods whose outages changed are re-judged: a meter (or head-end) whose
outages become *known* with its first power event (``store.vee_outages``) is judged
with them from then on, and for earlier data on ``cimhub vee rerun``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

from cimhub.handlers.meter_readings import vee_service
from cimhub.handlers.registry import HandlerContext
from cimhub.store.daily_aggregates import refresh
from cimhub.store.relay import RelayRepository
from cimhub.store.vee import RERUN_CHUNK
from cimhub.store.vee_locks import lock_meters
from cimhub.vee.batch import DAY

Span = tuple[int, int | None]


def switched(ctx: HandlerContext, meter_ids: Collection[int]) -> dict[int, list[Span]]:
    """Derive these meters' relay periods again (``store.relay``); where they changed."""
    return RelayRepository(ctx.uow).rederive(ctx.tenant_id, sorted(meter_ids))


def merged(*changes: Mapping[int, Sequence[Span]]) -> dict[int, list[Span]]:
    """Changed spans per meter from several sources, in one mapping."""
    out: dict[int, list[Span]] = defaultdict(list)
    for change in changes:
        for meter_id, spans in change.items():
            out[meter_id].extend(spans)
    return dict(out)


def rejudge(ctx: HandlerContext, changed: Mapping[int, Sequence[Span]]) -> int:
    """Validate again the local days where these meters' outages or relay periods
    changed; how many validated values changed."""
    if not changed or not ctx.settings.vee_enabled:
        return 0
    tenant = ctx.uow.tenants.code_of(ctx.tenant_id)
    service = vee_service(ctx.settings).for_tenant(ctx.uow, ctx.tenant_id, tenant)
    offset = service.config.params(tenant).utc_offset_minutes * 60
    total = 0
    lock_meters(ctx.uow, changed)  # every window's meters at once: one order, no deadlock
    for (start, end), meters in windows(changed, offset, ctx.received_at).items():
        for i in range(0, len(meters), RERUN_CHUNK):
            chunk = meters[i : i + RERUN_CHUNK]
            run = service.rerun(
                ctx.uow, ctx.tenant_id, tenant, chunk, start, end, now=ctx.received_at, trim=True
            )
            if run.stored.changed or run.stored.inserted:  # billing sees the new versions
                refresh(ctx.uow, ctx.tenant_id, [(m, start, end) for m in chunk])
            total += run.stored.changed + run.stored.inserted
    return total


def windows(
    changed: Mapping[int, Sequence[Span]], utc_offset: int, now: int
) -> dict[tuple[int, int], list[int]]:
    """The whole local days (start, end] each meter's changed spans touch, merged per
    meter, and the meters sharing each window (a DT's meters share theirs); an open span
    runs to the day of ``now``.

    >>> windows({7: [(100, 200), (90_000, None)], 8: [(150, 160)]}, 0, 90_500)
    {(0, 172800): [7], (0, 86400): [8]}
    """
    grouped: dict[tuple[int, int], list[int]] = defaultdict(list)
    for meter_id, spans in sorted(changed.items()):
        days: list[tuple[int, int]] = []
        for start, end in sorted(spans, key=lambda s: s[0]):
            first = (start + utc_offset) // DAY * DAY - utc_offset
            last_moment = max(start, now if end is None else end)
            last = -((-(last_moment + utc_offset)) // DAY) * DAY - utc_offset
            if days and first <= days[-1][1]:
                days[-1] = (days[-1][0], max(days[-1][1], last))
            else:
                days.append((first, last))
        for window in days:
            grouped[window].append(meter_id)
    return dict(grouped)
