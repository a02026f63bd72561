"""A meter replaced mid-month: the usage point's consumption over the month stays exact.

The old meter's final read and the new meter's initial read, both given with the
MasterDataLinkageConfig that swaps them, are stored as register reads at the replacement
instant; consumption = (old final − old at month start) + (new at month end − new initial).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from cimhub.app import Hub
from cimhub.domain.installation import KWH_REGISTER
from cimhub.domain.reading import ReadingKind
from cimhub.mappings.timestamp import to_epoch
from cimhub.store.consumption import usage_point_consumption
from cimhub.testing.masterdata import linkage, meter_config, usage_point_config
from cimhub.testing.messages import get_meter_readings
from cimhub.testing.replies import ParsedReply

TENANT = "discom"
MONTH_START = "2024-06-01T00:00:00+05:30"
REPLACED_AT = "2024-06-15T10:00:00+05:30"
MONTH_END = "2024-07-01T00:00:00+05:30"
Send = Callable[[bytes], ParsedReply]


def register_reads(meter: str, reads: list[tuple[str, float]], usage_point: str) -> bytes:
    readings = "".join(
        f"<Readings><timeStamp>{ts}</timeStamp><value>{v}</value>"
        f'<ReadingType ref="{KWH_REGISTER}"/></Readings>'
        for ts, v in reads
    )
    return (
        '<CreatedMeterReadings xmlns="http://iec.ch/TC57/2011/MeterReadingsMessage" '
        'xmlns:msg="http://iec.ch/TC57/2011/schema/message"><Header><msg:Verb>created</msg:Verb>'
        "<msg:Noun>MeterReadings</msg:Noun></Header><Payload>"
        '<MeterReadings xmlns="http://iec.ch/TC57/2011/MeterReadings#"><MeterReading>'
        f"<Meter><mRID>{meter}</mRID></Meter>{readings}"
        f"<UsagePoint><mRID>{usage_point}</mRID></UsagePoint></MeterReading></MeterReadings>"
        "</Payload></CreatedMeterReadings>"
    ).encode()


def ok(reply: ParsedReply) -> None:
    assert (reply.result, reply.codes[0]) == ("OK", "0.0"), reply.reasons


def test_mid_month_replacement_keeps_consumption_exact(send: Send, hub: Hub) -> None:
    ok(
        send(
            meter_config(
                "create",
                {"mrid": "OLD", "serial": "S-OLD", "stage": "inService"},
                {"mrid": "NEW", "serial": "S-NEW", "stage": "inStore"},
            )
        )
    )
    ok(send(usage_point_config("create", {"mrid": "UP1", "dt": "DT1", "IVRS": "IV1"})))
    ok(send(linkage("create", "OLD", "UP1", "2024-01-10T11:00:00+05:30", InitialReading=400)))
    ok(
        send(
            register_reads(
                "OLD", [(MONTH_START, 1100.0), ("2024-06-10T00:00:00+05:30", 1180.25)], "UP1"
            )
        )
    )
    ok(
        send(
            linkage(
                "create",
                "NEW",
                "UP1",
                REPLACED_AT,
                ReplacedMeter="OLD",
                FinalReading=1234.5,
                InitialReading=0.7,
            )
        )
    )
    ok(
        send(
            register_reads("NEW", [("2024-06-20T00:00:00+05:30", 50.7), (MONTH_END, 120.2)], "UP1")
        )
    )

    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        month = usage_point_consumption(
            uow, tenant_id, "UP1", KWH_REGISTER, to_epoch(MONTH_START), to_epoch(MONTH_END)
        )
        first_half = usage_point_consumption(
            uow, tenant_id, "IV1", KWH_REGISTER, to_epoch(MONTH_START), to_epoch(REPLACED_AT)
        )
        stays = uow.master_queries.installations(tenant_id, usage_point_id=1)
        old = uow.meter_assets.require(tenant_id, ["OLD"])["OLD"]
        history = uow.lifecycle.history(tenant_id, old.id)
    assert month.total == pytest.approx((1234.5 - 1100.0) + (120.2 - 0.7))
    assert month.parts == [("OLD", pytest.approx(134.5)), ("NEW", pytest.approx(119.5))]
    assert first_half.total == pytest.approx(134.5)
    assert [(s["meter"], s["start_ts"], s["end_ts"]) for s in stays] == [
        ("OLD", to_epoch("2024-01-10T11:00:00+05:30"), to_epoch(REPLACED_AT)),
        ("NEW", to_epoch(REPLACED_AT), None),
    ]
    assert old.lifecycle_stage == "removed"
    assert (history[-1]["to_stage"], history[-1]["at"], history[-1]["changed_by"]) == (
        "removed",
        to_epoch(REPLACED_AT),
        "tester",
    )


def test_readings_by_usage_point_follow_the_installation_history(send: Send) -> None:
    ok(
        send(
            meter_config(
                "create", {"mrid": "OLD", "stage": "inService"}, {"mrid": "NEW", "stage": "inStore"}
            )
        )
    )
    ok(send(usage_point_config("create", {"mrid": "UP1", "IVRS": "IV1"})))
    ok(send(linkage("create", "OLD", "UP1", MONTH_START)))
    ok(send(linkage("create", "NEW", "UP1", REPLACED_AT, FinalReading=10, InitialReading=0)))
    query = (
        b'<GetMeterReadings xmlns="http://iec.ch/TC57/2011/GetMeterReadingsMessage" '
        b'xmlns:msg="http://iec.ch/TC57/2011/schema/message"><Header><msg:Verb>get</msg:Verb>'
        b"<msg:Noun>MeterReadings</msg:Noun></Header><Request>"
        # the register reads of a replacement are raw readings (VEE validates what HES send)
        b"<Option><msg:name>raw</msg:name><msg:value>true</msg:value></Option>"
        b'<GetMeterReadings xmlns="http://iec.ch/TC57/2011/GetMeterReadings#"><UsagePoint><Names>'
        b"<name>IV1</name></Names></UsagePoint></GetMeterReadings></Request></GetMeterReadings>"
    )
    reply = send(query)
    ok(reply)
    assert {mrid for mrid, _, _ in reply.readings()} == {"OLD", "NEW"}
    assert reply.readings()[("NEW", KWH_REGISTER, to_epoch(REPLACED_AT))] == 0.0
    assert reply.readings()[("OLD", KWH_REGISTER, to_epoch(REPLACED_AT))] == 10.0


def test_replacing_with_a_meter_installed_elsewhere_changes_nothing(send: Send, hub: Hub) -> None:
    ok(
        send(
            meter_config(
                "create", {"mrid": "A", "stage": "inService"}, {"mrid": "B", "stage": "inService"}
            )
        )
    )
    ok(send(usage_point_config("create", {"mrid": "UP1"}, {"mrid": "UP2"})))
    ok(send(linkage("create", "A", "UP1", MONTH_START)))
    ok(send(linkage("create", "B", "UP2", MONTH_START)))
    reply = send(linkage("create", "B", "UP1", REPLACED_AT, FinalReading=5, InitialReading=1))
    assert (reply.result, reply.codes[0]) == ("FAILED", "3.5")
    with hub.database.unit_of_work(hub=True) as uow:  # A is still at UP1, no reads were stored
        tenant_id = uow.tenants.ensure(TENANT)
        stays = uow.master_queries.installations(tenant_id, usage_point_id=1)
        assert [(s["meter"], s["end_ts"]) for s in stays] == [("A", None)]
        assert uow.meter_assets.require(tenant_id, ["A"])["A"].lifecycle_stage == "in_service"
        assert uow.readings.count(tenant_id, ReadingKind.REGISTER) == 0


def test_a_replacement_naming_the_wrong_old_meter_is_refused(send: Send) -> None:
    ok(
        send(
            meter_config(
                "create",
                {"mrid": "A", "stage": "inService"},
                {"mrid": "B", "stage": "inStore"},
                {"mrid": "C", "stage": "inStore"},
            )
        )
    )
    ok(send(usage_point_config("create", {"mrid": "UP1"})))
    ok(send(linkage("create", "A", "UP1", MONTH_START)))
    reply = send(linkage("create", "B", "UP1", REPLACED_AT, ReplacedMeter="C", FinalReading=5))
    assert (reply.result, reply.codes[0]) == ("FAILED", "3.1"), reply.reasons
    assert "the replaced meter is 'C'" in reply.reasons[0]


def test_replacement_reads_are_in_the_validated_layer(send: Send) -> None:
    """The final and initial reads go through VEE on arrival, as any register read does,
    so a validated GetMeterReadings (the default) shows them, not only Option raw."""
    ok(
        send(
            meter_config(
                "create",
                {"mrid": "OLD", "stage": "inService"},
                {"mrid": "NEW", "stage": "inStore"},
            )
        )
    )
    ok(send(usage_point_config("create", {"mrid": "UP1", "dt": "DT1"})))
    ok(send(linkage("create", "OLD", "UP1", MONTH_START, InitialReading=1100)))
    ok(send(register_reads("OLD", [("2024-06-10T00:00:00+05:30", 1180.25)], "UP1")))
    swap = linkage(
        "create", "NEW", "UP1", REPLACED_AT, ReplacedMeter="OLD", FinalReading=1234.5,
        InitialReading=0.7,
    )  # fmt: skip
    ok(send(swap))
    june = (datetime(2024, 5, 31, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC))
    reply = send(get_meter_readings(["OLD", "NEW"], *june))
    ok(reply)
    at = to_epoch(REPLACED_AT)
    assert reply.readings()[("OLD", KWH_REGISTER, at)] == 1234.5
    assert reply.readings()[("NEW", KWH_REGISTER, at)] == 0.7
    assert reply.readings()[("OLD", KWH_REGISTER, to_epoch(MONTH_START))] == 1100


def test_a_removal_final_read_is_in_the_validated_layer(send: Send) -> None:
    ok(send(meter_config("create", {"mrid": "OLD", "stage": "inService"})))
    ok(send(usage_point_config("create", {"mrid": "UP1", "dt": "DT1"})))
    ok(send(linkage("create", "OLD", "UP1", MONTH_START)))
    ok(send(linkage("close", "OLD", "UP1", REPLACED_AT, FinalReading=1234.5)))
    june = (datetime(2024, 5, 31, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC))
    reply = send(get_meter_readings(["OLD"], *june))
    ok(reply)
    assert reply.readings() == {("OLD", KWH_REGISTER, to_epoch(REPLACED_AT)): 1234.5}
