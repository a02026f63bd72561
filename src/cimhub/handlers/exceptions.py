"""Exceptions and service orders: rules applied to events, VEE findings and silent meters.

One exception per meter and rule while it is active (open or assigned): later matches add
occurrences. The hub resolves an exception itself (actor ``cimhub``, in its history and
the audit chain) when its condition ends: power restored (outage), communication back,
or every VEE finding it came from cleared by a later VEE run. A rule with
``service_order`` opens a service order with its exception and sends it to the WFM: an
outbox row per ``MeterServiceRequests`` ``created`` subscriber (an HTTP webhook, SOAP or
a queue), in the same transaction. Revenue-protection exceptions on a meter with an
active service order are kept as ``suppressed``: no notification, no order.
Notifications go through the pluggable sender after commit.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from lxml import etree

from cimhub.domain import service_order as so
from cimhub.domain.event import Event
from cimhub.domain.exception import (
    ACTIVE,
    COMMUNICATION_SWEEP,
    DEFAULT_RULES,
    RESOLVED_BY,
    ExceptionKind,
    Match,
    Rule,
    Status,
    group,
    may_move,
    rule_for_event,
    rule_for_finding,
    rules_from,
)
from cimhub.domain.rule import IllegalTransitionError
from cimhub.errors import UnknownObjectError
from cimhub.handlers.notification import Notification, deliver_to
from cimhub.mappings.meter_service_requests import WorkOrder, write_service_work
from cimhub.settings import Settings
from cimhub.store.audit import AuditLog
from cimhub.store.exceptions import (
    EXCEPTION,
    ORDER,
    ExceptionRepository,
    ExceptionRow,
    ServiceOrderRow,
    exception_body,
)
from cimhub.store.findings import FindingRepository
from cimhub.store.models import now
from cimhub.store.outbox import Kind, OutboxRepository
from cimhub.store.subscriptions import SubscriptionRepository
from cimhub.store.unit_of_work import UnitOfWork

ORDER_NOUN = "MeterServiceRequests"
SYSTEM = "cimhub"


@lru_cache(maxsize=8)
def load_rules(path: str | None) -> tuple[Rule, ...]:
    """The rules of a TOML file, or the built-in ones."""
    if not path:
        return DEFAULT_RULES
    return rules_from(tomllib.loads(Path(path).read_text(encoding="utf-8")))


class Exceptions:
    """The exception service of one unit of work."""

    def __init__(self, uow: UnitOfWork, settings: Settings) -> None:
        self.uow, self.settings = uow, settings
        self.repo = ExceptionRepository(uow)
        self.rules = load_rules(settings.exception_rules)
        self._outgoing: list[Notification] = []

    # ---- rules --------------------------------------------------------------------------

    def on_events(self, tenant_id: int, events: Sequence[tuple[int, Event]]) -> list[int]:
        """Apply the rules to stored events; the ids of the exceptions opened or added to."""
        matches, ended = [], []
        for meter_id, event in events:
            if event.event_type in RESOLVED_BY:
                ended.append((meter_id, RESOLVED_BY[event.event_type], event))
            rule = rule_for_event(self.rules, event)
            if rule is not None:
                details = {"event": event.event_type, "vendor_code": event.vendor_code or ""}
                matches.append(Match(rule, meter_id, event.created, event.event_type, details))
        touched = self.apply(tenant_id, matches)
        for meter_id, kind, event in ended:
            self._resolve(tenant_id, {meter_id}, kind, event.created,
                          f"{event.event_type} at {event.created}")  # fmt: skip
        return touched

    def _resolve(self, tenant_id: int, meters: set[int], kind: ExceptionKind, at: int,
                 note: str) -> list[int]:  # fmt: skip
        """The hub resolves active exceptions of ``kind`` on these meters raised by ``at``."""
        done = []
        for row in self.repo.active(tenant_id, meters, list(ACTIVE)):
            if row.kind == kind.value and row.first_at <= at:
                self._hub_resolves(tenant_id, row, note)
                done.append(row.id)
        self.uow.session.flush()
        return done

    def _hub_resolves(self, tenant_id: int, row: ExceptionRow, note: str) -> None:
        """The hub (actor ``cimhub``) resolves an exception: history and audit entry."""
        self._move(tenant_id, row, Status.RESOLVED, SYSTEM, note)
        tenant = self.uow.tenants.code_of(tenant_id)
        AuditLog(self.uow).record(SYSTEM, "exception.move", f"exception:{row.id}",
                                  tenant=tenant, after=exception_body(row))  # fmt: skip

    def on_findings(self, tenant_id: int, ids: Sequence[int] | None = None) -> list[int]:
        """Apply the rules to VEE findings no rule run took yet: those of ``ids`` (a
        VeeFindings announcement), or every one (the sweep). Each finding is taken once
        (``FindingRepository.claim``), so the prompt path and the sweep never both count
        it; a finding cleared before it was taken opens nothing, and one found again
        while the exception it opened is still active adds nothing to it. Each finding
        taken remembers its exception (``FindingRepository.link``)."""
        findings = FindingRepository(self.uow)
        claimed = findings.claim(tenant_id, now(), ids)
        still = self.repo.active_ids(tenant_id, {c[6] for c in claimed if c[6] is not None})
        matches, taken = [], {}
        for finding_id, meter_id, name, ts, description, cleared_at, linked in claimed:
            rule = rule_for_finding(self.rules, name)
            if rule is None or cleared_at is not None or linked in still:
                continue
            matches.append(Match(rule, meter_id, ts, name, {"finding": description}))
            taken.setdefault((meter_id, rule.name), []).append(finding_id)
        if claimed and ids is None:
            self.repo.swept(tenant_id, claimed[-1][0])
        touched = self._apply(tenant_id, matches)
        findings.link(tenant_id, {touched[key]: found for key, found in taken.items()})
        return list(touched.values())

    def on_cleared(self, tenant_id: int, finding_ids: Sequence[int] | None = None) -> list[int]:
        """Resolve the active exceptions whose VEE findings are now all cleared (no later
        run finds them): those the findings of ``finding_ids`` opened, or every active one
        (the sweep); the ids resolved. An exception that also counted other matches (a
        rule on events as well as findings) stays for a person."""
        findings = FindingRepository(self.uow)
        if finding_ids is None:
            rows = self.repo.active_of_tenant(tenant_id, list(ACTIVE))
        else:
            wanted = findings.exceptions_of(tenant_id, finding_ids)
            rows = [r for r in self.repo.by_ids(tenant_id, wanted) if Status(r.status) in ACTIVE]
        standing = findings.standing(tenant_id, [r.id for r in rows])
        done = []
        for row in rows:
            linked, still_open = standing.get(row.id, (0, 1))
            if still_open == 0 and linked >= row.occurrences:
                note = f"every VEE finding it came from is cleared ({linked})"
                self._hub_resolves(tenant_id, row, note)
                done.append(row.id)
        self.uow.session.flush()
        return done

    def sweep_communication(self, tenant_id: int, at: int | None = None) -> list[int]:
        """Installed meters silent for ``communication_silence_hours``: exceptions."""
        rule = rule_for_finding(self.rules, COMMUNICATION_SWEEP)
        if rule is None:
            return []
        at = now() if at is None else at
        cutoff = at - int(self.settings.communication_silence_hours * 3600)
        silent = self.repo.silent_meters(tenant_id, cutoff)
        hours = self.settings.communication_silence_hours
        matches = [
            Match(rule, m, at, COMMUNICATION_SWEEP, {"last_data": str(ts), "hours": f"{hours:g}"})
            for m, ts in silent.items()
        ]
        touched = self.apply(tenant_id, matches)
        kind = ExceptionKind.COMMUNICATION_FAILURE
        waiting = self.repo.active_of_kind(tenant_id, kind.value, list(ACTIVE))
        talking = {r.meter_id for r in waiting} - set(silent)
        self._resolve(tenant_id, talking, kind, at, "data received again")
        return touched

    def apply(self, tenant_id: int, matches: Sequence[Match]) -> list[int]:
        """Open or add to exceptions for these matches; the ids opened or added to."""
        return list(self._apply(tenant_id, matches).values())

    def _apply(self, tenant_id: int, matches: Sequence[Match]) -> dict[tuple[int, str], int]:
        """``apply``, by (meter id, rule name)."""
        grouped = group(matches)
        if not grouped:
            return {}
        meters = {m for m, _ in grouped}
        active = {(r.meter_id, r.rule): r for r in self.repo.active(tenant_id, meters, ACTIVE)}
        in_field = self.repo.metered_orders(tenant_id, meters, list(so.ACTIVE))
        opened: dict[int, ServiceOrderRow] = {}  # one order per meter for a burst
        touched = {}
        for (meter_id, name), found in grouped.items():
            row = active.get((meter_id, name))
            if row is not None:
                row.occurrences += len(found)
                row.last_at = max(row.last_at, found[-1].at)
                row.updated_at = now()
            else:
                rule = found[0].rule
                row = self._open(
                    tenant_id, found, suppressed=rule.revenue_protection and meter_id in in_field
                )
                if row.status == Status.OPEN and rule.service_order:
                    if meter_id in opened:
                        row.service_order_id = opened[meter_id].id
                    else:
                        opened[meter_id] = self._order(tenant_id, row)
            touched[(meter_id, name)] = row.id
        self.uow.session.flush()
        self._notify_after_commit()
        return touched

    def _open(self, tenant_id: int, found: list[Match], *, suppressed: bool) -> ExceptionRow:
        rule, stamp = found[0].rule, now()
        status = Status.SUPPRESSED if suppressed else Status.OPEN
        row = self.repo.add(
            ExceptionRow(
                tenant_id=tenant_id, meter_id=found[0].meter_id, rule=rule.name,
                kind=rule.kind.value, severity=rule.severity, status=status.value,
                assignee=None, source=found[0].source, first_at=found[0].at,
                last_at=found[-1].at, occurrences=len(found),
                revenue_protection=rule.revenue_protection, service_order_id=None,
                details=json.dumps(found[0].details, sort_keys=True), created_at=stamp,
                updated_at=stamp,
            )
        )  # fmt: skip
        note = "field work under way on the meter" if suppressed else rule.description
        self.repo.record(tenant_id, EXCEPTION, row.id, status.value, SYSTEM, note)
        if not suppressed and rule.notification:
            self._notification(tenant_id, row, rule)
        return row

    # ---- service orders -----------------------------------------------------------------

    def _order(self, tenant_id: int, exception: ExceptionRow) -> ServiceOrderRow:
        stamp = now()
        meter = self.uow.meters.describe(tenant_id, {exception.meter_id})[exception.meter_id]
        mrid = so.order_mrid(meter.mrid or meter.key, exception.rule, exception.first_at)
        order = self.repo.add(
            ServiceOrderRow(
                tenant_id=tenant_id, mrid=mrid, meter_id=exception.meter_id,
                exception_id=exception.id, status=so.OrderStatus.OPEN.value,
                reason=f"{exception.rule} on meter ({exception.occurrences} occurrence(s))",
                created_at=stamp, updated_at=stamp, closed_at=None,
            )
        )  # fmt: skip
        exception.service_order_id = order.id
        self.repo.record(tenant_id, ORDER, order.id, order.status, SYSTEM, "opened")
        self._send_order(tenant_id, order, exception)
        return order

    def _send_order(self, tenant_id: int, order: ServiceOrderRow, exc: ExceptionRow) -> None:
        tenant = self.uow.tenants.code_of(tenant_id)
        subs = [s for s in SubscriptionRepository(self.uow).for_tenant(tenant_id)
                if s.matches(tenant, ORDER_NOUN, "created")]  # fmt: skip
        if not subs:
            return
        body = etree.tostring(self.order_payload(tenant_id, order, exc))
        outbox = OutboxRepository(self.uow)
        for sub in subs:
            outbox.add(tenant_id, Kind.EVENT, noun=ORDER_NOUN, verb="created", address=sub.name,
                       headers={"correlation_id": order.mrid}, body=body)  # fmt: skip

    def order_payload(self, tenant_id: int, order: ServiceOrderRow, exc: ExceptionRow
                      ) -> etree._Element:  # fmt: skip
        """The order as a MeterServiceRequests/MeterServiceWork: an inspection of the meter,
        the rule that opened it as its type, the exception's severity as its priority and
        its first and last occurrence as activity records."""
        meter = self.uow.meters.describe(tenant_id, {order.meter_id})[order.meter_id]
        work = WorkOrder(
            mrid=order.mrid, kind="inspection", priority=exc.severity, requested=order.created_at,
            type=exc.rule, reason=order.reason, first_at=exc.first_at, last_at=exc.last_at,
            meter=meter.mrid or meter.key, status=order.status, status_at=order.updated_at,
        )  # fmt: skip
        return write_service_work([work])

    def feedback(self, tenant_id: int, mrid: str, status: so.OrderStatus, actor: str,
                 note: str = "") -> ServiceOrderRow:  # fmt: skip
        """The WFM reports on an order; completion resolves its exception, closing closes it."""
        order = self.repo.get(ServiceOrderRow, tenant_id, mrid=mrid, lock=True)
        if order is None:
            raise UnknownObjectError(f"unknown service order {mrid!r}", object_id=mrid)
        if not so.may_report(so.OrderStatus(order.status), status):
            raise IllegalTransitionError(
                f"service order {mrid!r} cannot move from {order.status} to {status.value}",
                object_id=mrid,
            )
        order.status, order.updated_at = status.value, now()
        if status in (so.OrderStatus.CLOSED, so.OrderStatus.CANCELLED):
            order.closed_at = order.updated_at
        self.repo.record(tenant_id, ORDER, order.id, status.value, actor, note)
        follow = {so.OrderStatus.COMPLETED: Status.RESOLVED, so.OrderStatus.CLOSED: Status.CLOSED}
        exc = self.repo.get(ExceptionRow, tenant_id, id=order.exception_id, lock=True)
        if status in follow and exc is not None and may_move(Status(exc.status), follow[status]):
            self._move(tenant_id, exc, follow[status], actor, f"service order {status.value}")
        self.uow.session.flush()
        return order

    # ---- people -------------------------------------------------------------------------

    def move(self, tenant_id: int, exception_id: int, to: Status, actor: str, *,
             assignee: str | None = None, note: str = "") -> ExceptionRow:  # fmt: skip
        row = self.repo.get(ExceptionRow, tenant_id, id=exception_id, lock=True)
        if row is None:
            raise UnknownObjectError(
                f"unknown exception {exception_id}", object_id=str(exception_id)
            )
        if not may_move(Status(row.status), to):
            raise IllegalTransitionError(
                f"exception {exception_id} cannot move from {row.status} to {to.value}",
                object_id=str(exception_id),
            )
        if to is Status.ASSIGNED:
            row.assignee = assignee or actor
        self._move(tenant_id, row, to, actor, note)
        self.uow.session.flush()
        return row

    def _move(self, tenant_id: int, row: ExceptionRow, to: Status, actor: str, note: str) -> None:
        row.status, row.updated_at = to.value, now()
        detail = f"{note} (assignee {row.assignee})" if to is Status.ASSIGNED else note
        self.repo.record(tenant_id, EXCEPTION, row.id, to.value, actor, detail)

    # ---- notifications ------------------------------------------------------------------

    def _notification(self, tenant_id: int, row: ExceptionRow, rule: Rule) -> None:
        to = rule.notify or tuple(
            a.strip() for a in self.settings.notify_to.split(",") if a.strip()
        )
        if not to:
            to = ("operators",)
        meter = self.uow.meters.describe(tenant_id, {row.meter_id})[row.meter_id].key
        self._outgoing.append(
            Notification(
                to,
                f"[cimhub] {row.severity} {rule.kind.value}: {rule.name} on meter {meter}",
                f"Exception {row.id} ({rule.name}) opened on meter {meter} at {row.first_at} "
                f"from {row.source}.\n{rule.description}".strip(),
            )
        )

    def _notify_after_commit(self) -> None:
        if not self._outgoing:
            return
        outgoing, self._outgoing = self._outgoing, []
        url, sender = self.settings.notify_url, self.settings.notify_from
        self.uow.on_commit(lambda: deliver_to(url, sender, outgoing))


def sweep(uow: UnitOfWork, settings: Settings, at: int | None = None) -> dict[str, int]:
    """The periodic job: every tenant's new VEE findings and silent meters; exceptions
    opened or added to, per tenant code."""
    done: dict[str, int] = {}
    for tenant in uow.tenants.all():
        service = Exceptions(uow, settings)
        found = service.on_findings(tenant.id) + service.sweep_communication(tenant.id, at)
        service.on_cleared(tenant.id)  # findings a prompt path missed
        done[tenant.code] = len(found)
    return done
