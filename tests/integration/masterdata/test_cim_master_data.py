"""MeterConfig, UsagePointConfig and MasterDataLinkageConfig through the pipeline: every
bad input answered with its code and nothing partially applied; lifecycle and hierarchy
queryable with GetMeterConfig / GetUsagePointConfig."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from cimhub.app import Hub
from cimhub.testing.masterdata import linkage, meter_config, usage_point_config
from cimhub.testing.messages import created_meter_readings, meter_mrid
from cimhub.testing.replies import ParsedReply

TENANT = "discom"  # as the conftest loads it
Send = Callable[[bytes], ParsedReply]

T0 = "2024-06-01T00:00:00+05:30"
T1 = "2024-06-15T10:00:00+05:30"
T2 = "2024-06-20T10:00:00+05:30"


def ok(reply: object) -> None:
    assert (reply.result, reply.codes[0]) == ("OK", "0.0"), reply.reasons  # type: ignore[attr-defined]


def failed(reply: object, code: str) -> None:
    assert (reply.result, reply.codes[0]) == ("FAILED", code), reply.reasons  # type: ignore[attr-defined]


def setup(send: Send) -> None:
    ok(
        send(
            meter_config(
                "create",
                {"mrid": "M1", "serial": "S1", "make": "A", "stage": "inStore"},
                {"mrid": "M2", "serial": "S2", "make": "B", "stage": "inStore"},
            )
        )
    )
    ok(
        send(
            usage_point_config(
                "create",
                {"mrid": "UP1", "dt": "DT1", "IVRS": "IV1"},
                {"mrid": "UP2", "dt": "DT2", "IVRS": "IV2"},
            )
        )
    )


def meter_stages(hub: Hub) -> dict[str, str]:
    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        page = uow.master_queries.meters(tenant_id, {}, limit=100, offset=0)
        return {m["mrid"]: m["lifecycle_stage"] for m in page.items}


def test_create_change_and_get_meters(send: Send, hub: Hub) -> None:
    setup(send)
    ok(send(meter_config("change", {"mrid": "M1", "stage": "installed", "at": T0})))
    failed(send(meter_config("create", {"mrid": "M3", "serial": "S1"})), "3.3")  # serial taken
    failed(send(meter_config("create", {"mrid": "M1"})), "3.3")  # mRID taken
    failed(send(meter_config("change", {"mrid": "NOPE", "stage": "installed"})), "2.15")
    # installed → received in store is illegal; the good first meter is not applied either
    failed(
        send(
            meter_config(
                "change", {"mrid": "M2", "stage": "issued"}, {"mrid": "M1", "stage": "inStore"}
            )
        ),
        "3.4",
    )
    assert meter_stages(hub) == {"M1": "installed", "M2": "received_in_store"}
    reply = send(_get("MeterConfig", "<Meter><Names><name>S1</name></Names></Meter>"))
    ok(reply)
    status = reply.root.findtext(".//{*}Meter/{*}status/{*}value")
    assert status == "installed"


def test_linking_enforces_the_installation_rules(send: Send, hub: Hub) -> None:
    setup(send)
    ok(send(linkage("create", "M1", "UP1", T0)))
    ok(send(linkage("create", "M1", "UP1", T0)))  # the same link again changes nothing
    failed(send(linkage("create", "M1", "UP2", T1)), "3.5")  # installed elsewhere
    failed(send(linkage("create", "M2", "UP1", T1)), "3.6")  # a second main meter
    ok(send(linkage("create", "M2", "UP1", T1, MeterRole="check")))  # a check meter is fine
    failed(send(linkage("create", "M9", "UP1", T1)), "2.15")
    failed(send(linkage("create", "M1", "UP9", T1)), "2.15")
    ok(send(linkage("close", "M2", "UP1", T2)))
    failed(send(linkage("create", "M2", "UP2", T1)), "3.7")  # overlaps its time at UP1
    assert meter_stages(hub) == {"M1": "installed", "M2": "removed"}
    failed(send(linkage("create", "M2", "UP2", T2)), "3.4")  # removed → installed: via store
    reply = send(_get("UsagePointConfig", "<Meter><mRID>M1</mRID></Meter>"))
    ok(reply)
    assert reply.root.findtext(".//{*}UsagePoint/{*}mRID") == "UP1"
    equipment = reply.root.xpath(".//*[local-name()='Equipments']/*/*[local-name()='name']/text()")
    assert equipment == ["DT1", "F1"]  # the hierarchy, through CIM


def test_retiring_verbs(send: Send, hub: Hub) -> None:
    setup(send)
    ok(send(linkage("create", "M1", "UP1", T0)))
    failed(send(meter_config("close", {"mrid": "M1"})), "3.8")  # still installed
    failed(send(usage_point_config("close", {"mrid": "UP1"})), "3.8")
    failed(send(meter_config("cancel", {"mrid": "M1"})), "3.8")  # has a history
    ok(send(linkage("cancel", "M1", "UP1", T0)))  # entered in error: voided
    assert meter_stages(hub)["M1"] == "received_in_store"  # the link's move is corrected
    ok(send(linkage("create", "M1", "UP1", T0)))
    ok(send(linkage("close", "M1", "UP1", T1)))
    ok(send(meter_config("close", {"mrid": "M1"})))  # removed → decommissioned
    assert meter_stages(hub)["M1"] == "decommissioned"
    ok(send(meter_config("delete", {"mrid": "M2"})))
    ok(send(usage_point_config("cancel", {"mrid": "UP2"})))
    failed(send(usage_point_config("create", {"mrid": "UP3", "dt": "DT9"})), "2.15")
    failed(send(usage_point_config("create", {"mrid": "UP1"})), "3.3")


def test_auto_registered_meters_are_adopted_by_master_data(
    send: Send, hub: Hub, answer: Callable[[bytes], object]
) -> None:
    from datetime import UTC, datetime

    ok(send(created_meter_readings([7], datetime(2024, 6, 1, tzinfo=UTC), intervals=4)))
    assert meter_stages(hub) == {meter_mrid(7): "unknown"}
    ok(
        send(
            meter_config(
                "create",
                {"mrid": meter_mrid(7), "serial": "MH4500007", "make": "A", "stage": "in_service"},
            )
        )
    )
    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        (meter,) = uow.master_queries.meters(tenant_id, {}, limit=10, offset=0).items
        history = uow.lifecycle.history(
            tenant_id, uow.meter_assets.require(tenant_id, [meter_mrid(7)])[meter_mrid(7)].id
        )
    assert (meter["auto_registered"], meter["make"], meter["lifecycle_stage"]) == (
        False,
        "A",
        "in_service",
    )
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [("unknown", "in_service")]


def test_a_tenant_may_turn_auto_registration_off(send: Send, hub: Hub) -> None:
    from datetime import UTC, datetime

    with hub.database.unit_of_work(hub=True) as uow:
        uow.tenants.configure(uow.tenants.ensure(TENANT), auto_register_meters=False)
    reply = send(created_meter_readings([8], datetime(2024, 6, 1, tzinfo=UTC), intervals=2))
    failed(reply, "2.15")
    assert meter_stages(hub) == {}


def _get(noun: str, query: str) -> bytes:
    return (
        f'<Get{noun} xmlns="http://iec.ch/TC57/2011/Get{noun}Message" '
        f'xmlns:msg="http://iec.ch/TC57/2011/schema/message"><Header><msg:Verb>get</msg:Verb>'
        f"<msg:Noun>{noun}</msg:Noun></Header><Request>"
        f'<Get{noun} xmlns="http://iec.ch/TC57/2011/Get{noun}#">{query}</Get{noun}>'
        f"</Request></Get{noun}>"
    ).encode()


def test_get_replies_validate(send: Send) -> None:
    from cimhub.message.schema import compiled_schema

    setup(send)
    ok(send(linkage("create", "M1", "UP1", T0)))
    for noun, query in (
        ("MeterConfig", "<UsagePoint><mRID>UP1</mRID></UsagePoint>"),
        ("UsagePointConfig", "<UsagePoint><Names><name>IV2</name></Names></UsagePoint>"),
    ):
        reply = send(_get(noun, query))
        ok(reply)
        assert compiled_schema().validate(reply.root), compiled_schema().error_log
    partial = send(
        _get("MeterConfig", "<Meter><mRID>M1</mRID></Meter><Meter><mRID>X</mRID></Meter>")
    )
    assert (partial.result, partial.codes) == ("PARTIAL", ["2.15"])
    assert etree.QName(partial.root).localname == "MeterConfigResponseMessage"


def test_a_meter_known_only_by_its_serial_is_adopted_under_its_new_mrid(
    send: Send, hub: Hub
) -> None:
    readings = (
        b'<CreatedMeterReadings xmlns="http://iec.ch/TC57/2011/MeterReadingsMessage" '
        b'xmlns:msg="http://iec.ch/TC57/2011/schema/message"><Header><msg:Verb>created</msg:Verb>'
        b"<msg:Noun>MeterReadings</msg:Noun></Header><Payload>"
        b'<MeterReadings xmlns="http://iec.ch/TC57/2011/MeterReadings#"><MeterReading>'
        b"<Meter><Names><name>SN-77</name></Names></Meter><Readings>"
        b"<timeStamp>2024-06-01T00:00:00Z</timeStamp><value>12.5</value>"
        b'<ReadingType ref="0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0"/></Readings></MeterReading>'
        b"</MeterReadings></Payload></CreatedMeterReadings>"
    )
    ok(send(readings))
    ok(send(meter_config("create", {"mrid": "MTR-77", "serial": "SN-77", "stage": "inService"})))
    reply = send(_get("MeterConfig", "<Meter><mRID>MTR-77</mRID></Meter>"))
    ok(reply)
    assert reply.root.findtext(".//{*}Meter/{*}serialNumber") == "SN-77"
    assert list(meter_stages(hub).values()) == ["in_service"]  # one meter, adopted
