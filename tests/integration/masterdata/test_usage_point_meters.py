"""UsagePointConfig installs the meters it lists (Meters / EndDevices) as a linkage create
would; a different meter in the same role or an unknown meter refuses the whole message."""

from __future__ import annotations

from collections.abc import Callable

from cimhub.app import Hub
from cimhub.testing.masterdata import meter_config, usage_point_config
from cimhub.testing.replies import ParsedReply

TENANT = "discom"  # as the conftest loads it
Send = Callable[[bytes], ParsedReply]
AT = "2024-06-01T10:00:00+05:30"
AT_EPOCH = 1717216200


def with_meters(message: bytes, *refs: str, at: str | None = AT) -> bytes:
    """The first usage point of ``message`` listing ``refs`` (``M…`` as Meters by mRID,
    anything else as EndDevices by name), effective ``at``."""
    event = f"<ConfigurationEvents><effectiveDateTime>{at}</effectiveDateTime>" * bool(at)
    event += "<modifiedBy>crew 7</modifiedBy></ConfigurationEvents>" * bool(at)
    devices = "".join(
        f"<EndDevices><Names><name>{r}</name></Names></EndDevices>"
        for r in refs
        if not r.startswith("M")
    )
    meters = "".join(f"<Meters><mRID>{r}</mRID></Meters>" for r in refs if r.startswith("M"))
    head, sep, tail = message.decode().partition("</mRID>")
    return (head + sep + event + devices + meters + tail).encode()


def ok(reply: ParsedReply) -> None:
    assert (reply.result, reply.codes[0]) == ("OK", "0.0"), reply.reasons


def failed(reply: ParsedReply, code: str) -> None:
    assert (reply.result, reply.codes[0]) == ("FAILED", code), reply.reasons


def installed(hub: Hub, key: str) -> list[tuple[str, int, int | None, str]]:
    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        found = uow.master_queries.usage_points_by_keys(tenant_id, [key])
        if not found:
            return []
        return [
            (i["meter"], i["start_ts"], i["end_ts"], i["role"])
            for i in uow.master_queries.installations(tenant_id, usage_point_id=found[key]["id"])
        ]


def meters(send: Send) -> None:
    ok(
        send(
            meter_config(
                "create",
                {"mrid": "M1", "serial": "S1", "stage": "inStore"},
                {"mrid": "M2", "serial": "S2", "stage": "inStore"},
            )
        )
    )


def test_a_new_usage_point_gets_the_meters_it_lists(send: Send, hub: Hub) -> None:
    meters(send)
    up = usage_point_config("create", {"mrid": "UP1"}, {"mrid": "UP2"})
    up = with_meters(up, "M1")  # the first usage point
    up = up.replace(b"<mRID>UP2</mRID>", b"<mRID>UP2</mRID><EndDevices ref='S2'/>")
    ok(send(up))
    # S2 names meter M2 (its serial): installed from the message's time, no event given
    assert installed(hub, "UP1") == [("M1", AT_EPOCH, None, "main")]
    ((meter, _, end, role),) = installed(hub, "UP2")
    assert (meter, end, role) == ("M2", None, "main")


def test_listing_the_installed_meter_again_changes_nothing(send: Send, hub: Hub) -> None:
    meters(send)
    ok(send(with_meters(usage_point_config("create", {"mrid": "UP1"}), "M1")))
    change = with_meters(usage_point_config("change", {"mrid": "UP1", "IVRS": "IV1"}), "M1")
    ok(send(change))
    assert installed(hub, "UP1") == [("M1", AT_EPOCH, None, "main")]
    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        (meter,) = uow.master_queries.meters_by_keys(tenant_id, ["M1"]).values()
    assert (meter["usage_point"], meter["lifecycle_stage"]) == ("UP1", "installed")


def test_a_second_main_meter_or_an_unknown_meter_refuses_the_message(send: Send, hub: Hub) -> None:
    meters(send)
    ok(send(with_meters(usage_point_config("create", {"mrid": "UP1"}), "M1")))
    change = with_meters(usage_point_config("change", {"mrid": "UP1", "IVRS": "IV9"}), "M2")
    failed(send(change), "3.6")  # the main role is taken: exchange meters with a linkage
    failed(send(with_meters(usage_point_config("create", {"mrid": "UP2"}), "M9")), "2.15")
    failed(send(with_meters(usage_point_config("create", {"mrid": "UP3"}), "M1")), "3.5")
    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        found = uow.master_queries.usage_points_by_keys(tenant_id, ["UP1", "UP2", "UP3"])
    # nothing partially applied: UP1 unchanged, UP2 and UP3 not created
    assert list(found) == ["UP1"] and found["UP1"]["consumer_number"] is None
    assert installed(hub, "UP1") == [("M1", AT_EPOCH, None, "main")]
