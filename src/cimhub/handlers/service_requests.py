"""MeterServiceRequests from the WFM: its reports on the service orders the hub sent it —
``changed`` (progress in status/value: accepted, in_progress, completed, closed,
cancelled), ``closed`` (done) and ``canceled`` (called off). Each moves its order as the
REST feedback does (completing an order resolves its exception) and is audited; an order
that is unknown, or that may not move so, is refused on its own (PARTIAL)."""

from __future__ import annotations

from cimhub.domain.service_order import OrderStatus
from cimhub.errors import CimHubError, InvalidValueError, PayloadError
from cimhub.handlers.exceptions import Exceptions
from cimhub.handlers.registry import HandlerContext, Registry
from cimhub.mappings.meter_service_requests import WorkReport, read_service_work, work_xpath
from cimhub.message.envelope import Envelope
from cimhub.message.reply import Outcome, ReplyError, Result
from cimhub.message.verb import Noun, Verb
from cimhub.store.audit import AuditLog

NOUN = Noun.METER_SERVICE_REQUESTS.value
#: What a report means when it carries no status/value.
BY_VERB = {Verb.CLOSED: OrderStatus.CLOSED, Verb.CANCELED: OrderStatus.CANCELLED}
WORDS = ", ".join(s.value for s in OrderStatus if s is not OrderStatus.OPEN)


def register(registry: Registry) -> None:
    registry.register(NOUN, (Verb.CHANGED, Verb.CLOSED, Verb.CANCELED), report)


def report(ctx: HandlerContext, envelope: Envelope) -> Outcome:
    """Move every order reported on; refuse the others one by one."""
    if envelope.payload is None:
        raise PayloadError("MeterServiceRequests message without a MeterServiceRequests payload")
    reports, errors = read_service_work(envelope.payload)
    if not reports and not errors:
        raise PayloadError("the MeterServiceRequests payload holds no MeterServiceWork")
    service, audit = Exceptions(ctx.uow, ctx.settings), AuditLog(ctx.uow)
    tenant, actor = ctx.uow.tenants.code_of(ctx.tenant_id), ctx.actor or ctx.source
    moved = 0
    for item in reports:
        try:
            status = _status(item, envelope.verb)
            order = service.feedback(ctx.tenant_id, item.mrid, status, actor, item.note)
        except CimHubError as exc:
            errors.append(ReplyError(exc.code, exc.reason, xpath=work_xpath(item.index),
                                     object_id=item.mrid))  # fmt: skip
            continue
        audit.record(actor, "service_order.feedback", f"service_order:{item.mrid}", tenant=tenant,
                     after={"status": order.status, "note": item.note, "via": NOUN})  # fmt: skip
        moved += 1
    if errors:
        return Outcome(Result.PARTIAL if moved else Result.FAILED, errors)
    return Outcome(summary=f"{moved} service order(s) updated")


def _status(item: WorkReport, verb: Verb) -> OrderStatus:
    """The order status a report names (``canceled`` read as ``cancelled``), else the verb's."""
    if item.status is None:
        if verb in BY_VERB:
            return BY_VERB[verb]
        raise InvalidValueError(f"service order {item.mrid!r}: no status/value ({WORDS})")
    word = item.status.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return OrderStatus("cancelled" if word == "canceled" else word)
    except ValueError:
        raise InvalidValueError(
            f"service order {item.mrid!r}: unknown status {item.status!r} ({WORDS})"
        ) from None
