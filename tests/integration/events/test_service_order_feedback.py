"""The WFM's feedback on service orders as CIM messages (MeterServiceRequests changed,
closed, canceled) through the pipeline, on both backends: the order moves as REST feedback
moves it, completing resolves the exception, every report is audited, and an order that is
unknown or may not move so is refused on its own."""

from __future__ import annotations

from typing import Any

from cimhub.app import Hub
from cimhub.domain.service_order import order_mrid
from cimhub.mappings.timestamp import to_epoch
from cimhub.store.audit import AuditLog
from cimhub.store.exceptions import ORDER as ORDER_SUBJECT
from cimhub.store.exceptions import ExceptionRepository, ExceptionRow, ServiceOrderRow
from cimhub.testing.events import Ev, created_end_device_events
from cimhub.testing.replies import ParsedReply

TENANT = "t1"
COVER = "3.12.29.39"
AT = "2024-06-15T10:00:00Z"
ORDER = order_mrid("SM0000001", "tamper.cover_open", to_epoch(AT))


def report(verb: str, *works: tuple[str, str | None]) -> bytes:
    """A WFM's <Verb>MeterServiceRequests on (order mRID, status value or None) pairs."""
    body = "".join(
        f"<w:MeterServiceWork><w:mRID>{mrid}</w:mRID>"
        + (f"<w:status><w:reason>crew report</w:reason><w:value>{value}</w:value></w:status>"
           if value else "")
        + "</w:MeterServiceWork>"
        for mrid, value in works
    )  # fmt: skip
    element = verb.capitalize() + "MeterServiceRequests"
    return (
        f'<{element} xmlns="http://iec.ch/TC57/2011/MeterServiceRequestsMessage" '
        f'xmlns:msg="http://iec.ch/TC57/2011/schema/message" '
        f'xmlns:w="http://iec.ch/TC57/2011/MeterServiceRequests#">'
        f"<Header><msg:Verb>{verb}</msg:Verb><msg:Noun>MeterServiceRequests</msg:Noun>"
        f"<msg:Source>WFM-A</msg:Source></Header>"
        f"<Payload><w:MeterServiceRequests>{body}</w:MeterServiceRequests></Payload></{element}>"
    ).encode()


def state(hub: Hub) -> tuple[str, str]:
    """(order status, its exception's status)."""
    with hub.database.unit_of_work(hub=True) as uow:
        repo = ExceptionRepository(uow)
        tenant_id = uow.tenants.ensure(TENANT)
        order = repo.get(ServiceOrderRow, tenant_id, mrid=ORDER)
        assert order is not None
        exc = repo.get(ExceptionRow, tenant_id, id=order.exception_id)
        return order.status, exc.status  # type: ignore[union-attr]


def opened(discom: Hub, send: Any) -> None:
    assert (
        send(created_end_device_events([Ev("SM0000001", AT, COVER, vendor="251")])).result.value
        == "OK"
    )
    assert state(discom) == ("open", "open")


def test_the_wfm_moves_an_order_to_its_end_with_cim_messages(discom: Hub, send: Any) -> None:
    opened(discom, send)
    answer = send(report("changed", (ORDER, "accepted")))
    assert ParsedReply.of(answer.body).codes == ["0.0"]
    assert state(discom) == ("accepted", "open")
    assert send(report("changed", (ORDER, "In progress"))).result.value == "OK"
    assert send(report("closed", (ORDER, "completed"))).result.value == "OK"
    assert state(discom) == ("completed", "resolved")  # done in the field: resolved
    assert send(report("closed", (ORDER, None))).result.value == "OK"  # closed by the verb
    assert state(discom) == ("closed", "closed")
    with discom.database.unit_of_work(hub=True) as uow:
        audited = [(e.actor, e.action, e.object, e.tenant) for e in AuditLog(uow).entries()
                   if e.action == "service_order.feedback"]  # fmt: skip
        repo, tenant_id = ExceptionRepository(uow), uow.tenants.ensure(TENANT)
        order_id = repo.get(ServiceOrderRow, tenant_id, mrid=ORDER).id
        history = repo.history(tenant_id, ORDER_SUBJECT, order_id)
    assert audited == [("WFM-A", "service_order.feedback", f"service_order:{ORDER}", TENANT)] * 4
    assert [h["status"] for h in history] == [
        "open",
        "accepted",
        "in_progress",
        "completed",
        "closed",
    ]


def test_a_cancel_without_a_status_cancels(discom: Hub, send: Any) -> None:
    opened(discom, send)
    assert send(report("canceled", (ORDER, None))).result.value == "OK"
    assert state(discom)[0] == "cancelled"


def test_unknown_orders_wrong_words_and_illegal_moves_are_refused_alone(
    discom: Hub, send: Any
) -> None:
    opened(discom, send)
    answer = send(report("changed", ("NO-SUCH-ORDER", "accepted"), (ORDER, "in_progress"),
                         (ORDER, "half done"), (ORDER, None)))  # fmt: skip
    reply = ParsedReply.of(answer.body)
    assert answer.result.value == "PARTIAL"
    assert reply.codes == ["2.15", "2.1", "2.1"]
    assert state(discom) == ("in_progress", "open")  # the one good report moved it
    refused = send(report("closed", (ORDER, None)))  # in progress cannot be closed, only completed
    assert (refused.result.value, ParsedReply.of(refused.body).codes) == ("FAILED", ["3.4"])
    assert state(discom) == ("in_progress", "open")
