"""Deleted and cancelled meters and usage points are gone for the interfaces (2.15), their
identities are not reused (3.3), readings for them are refused rather than auto-registered
on a new meter, and history (asOf, REST's record view) still sees them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from cimhub.app import Hub
from cimhub.domain.meter import MeterSpec
from cimhub.domain.reading import MeterRef
from cimhub.testing.masterdata import linkage, meter_config, usage_point_config
from cimhub.testing.messages import created_meter_readings, get_meter_readings, meter_mrid
from cimhub.testing.replies import ParsedReply

TENANT = "discom"  # as the conftest loads it
Send = Callable[[bytes], ParsedReply]
T0 = "2024-06-01T00:00:00+05:30"
T1 = "2024-06-15T10:00:00+05:30"

JUNE = datetime(2024, 6, 1, tzinfo=UTC)
M7 = meter_mrid(7)


def ok(reply: ParsedReply) -> None:
    assert (reply.result, reply.codes[0]) == ("OK", "0.0"), reply.reasons


def failed(reply: ParsedReply, code: str) -> None:
    assert (reply.result, reply.codes[0]) == ("FAILED", code), reply.reasons


def _get(noun: str, query: str) -> bytes:
    return (
        f'<Get{noun} xmlns="http://iec.ch/TC57/2011/Get{noun}Message" '
        f'xmlns:msg="http://iec.ch/TC57/2011/schema/message"><Header><msg:Verb>get</msg:Verb>'
        f"<msg:Noun>{noun}</msg:Noun></Header><Request>"
        f'<Get{noun} xmlns="http://iec.ch/TC57/2011/Get{noun}#">{query}</Get{noun}>'
        f"</Request></Get{noun}>"
    ).encode()


def meters_of(hub: Hub) -> dict[str, str]:
    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        page = uow.master_queries.meters(tenant_id, {}, limit=100, offset=0)
        return {m["mrid"]: m["record_status"] for m in page.items}


def test_a_deleted_meter_is_unknown_to_every_message(send: Send, hub: Hub) -> None:
    ok(send(meter_config("create", {"mrid": M7, "serial": "MH4500007", "stage": "inStore"})))
    ok(send(created_meter_readings([7], JUNE, intervals=4)))
    ok(send(meter_config("delete", {"mrid": M7})))
    get = _get("MeterConfig", f"<Meter><mRID>{M7}</mRID></Meter>")
    failed(send(get), "2.15")
    failed(send(meter_config("change", {"mrid": M7, "make": "B"})), "2.15")
    failed(send(meter_config("delete", {"mrid": M7})), "2.15")
    reused = send(meter_config("create", {"mrid": M7, "serial": "OTHER"}))
    failed(reused, "3.3")
    assert "deleted" in reused.reasons[0]
    failed(send(meter_config("create", {"mrid": "NEW", "serial": "MH4500007"})), "3.3")
    # readings naming it (by mRID, or by its name only) are refused, not auto-registered
    failed(send(created_meter_readings([7], JUNE, intervals=8)), "2.15")
    by_name = created_meter_readings([7], JUNE, intervals=8).replace(
        f"<mRID>{M7}</mRID>".encode(), b""
    )
    failed(send(by_name), "2.15")
    assert meters_of(hub) == {M7: "deleted"}
    failed(send(get_meter_readings([M7], JUNE)), "2.15")


def test_a_cancelled_meter_cannot_be_installed(send: Send) -> None:
    ok(send(meter_config("create", {"mrid": "M1", "stage": "inStore"})))
    ok(send(usage_point_config("create", {"mrid": "UP1", "dt": "DT1"})))
    ok(send(meter_config("cancel", {"mrid": "M1"})))
    failed(send(linkage("create", "M1", "UP1", T0)), "2.15")


def test_history_as_of_before_the_retirement_still_finds_the_meter(send: Send, hub: Hub) -> None:
    ok(send(created_meter_readings([7], JUNE, intervals=4)))
    ok(send(meter_config("delete", {"mrid": M7})))
    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        (row,) = uow.meter_assets.match(tenant_id, [MeterSpec(mrid=M7)], retired=True).values()
        refs = [MeterRef(M7)]
        assert uow.meters.find(tenant_id, refs) == [None]
        # a retired record is frozen: updated_at is when it was retired
        assert uow.meters.find(tenant_id, refs, as_of=row.updated_at - 1) == [row.id]
        assert uow.meters.find(tenant_id, refs, as_of=row.updated_at) == [None]
        assert uow.master_queries.meters_by_keys(tenant_id, [M7]) == {}
        assert uow.master_queries.meters_by_keys(tenant_id, [M7], retired=True)


def test_a_deleted_usage_point_is_gone_but_its_record_stays(send: Send, hub: Hub) -> None:
    ok(send(usage_point_config("create", {"mrid": "UP1", "dt": "DT1", "IVRS": "IV1"})))
    ok(send(usage_point_config("delete", {"mrid": "UP1"})))
    failed(send(_get("UsagePointConfig", "<UsagePoint><mRID>UP1</mRID></UsagePoint>")), "2.15")
    failed(send(usage_point_config("change", {"mrid": "UP1", "dt": "DT2"})), "2.15")
    failed(send(usage_point_config("create", {"mrid": "UP9", "IVRS": "IV1"})), "3.3")
    ok(send(meter_config("create", {"mrid": "M1", "stage": "inStore"})))
    failed(send(linkage("create", "M1", "UP1", T1)), "2.15")
    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        assert uow.master_queries.usage_points_by_keys(tenant_id, ["UP1"]) == {}
        (record,) = uow.master_queries.usage_points_by_keys(
            tenant_id, ["IV1"], retired=True
        ).values()
    assert record["record_status"] == "deleted"


def test_closing_a_link_that_is_not_open_is_unknown(send: Send) -> None:
    ok(send(meter_config("create", {"mrid": "M1", "stage": "inStore"})))
    ok(send(usage_point_config("create", {"mrid": "UP1", "dt": "DT1"})))
    ok(send(linkage("create", "M1", "UP1", T0)))
    ok(send(linkage("close", "M1", "UP1", T1)))
    reply: ParsedReply = send(linkage("close", "M1", "UP1", T1))
    failed(reply, "2.15")
    assert "no open link" in reply.reasons[0]


def test_a_link_is_not_changed_in_place(send: Send) -> None:
    for verb in ("change", "changed"):
        failed(send(linkage(verb, "M1", "UP1", T0)), "1.8")
