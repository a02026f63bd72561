"""Helpers for command tests: a control message, meters with their head-end, endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from cimhub.app import Hub
from cimhub.domain.command import CommandKind
from cimhub.imports.csv_import import import_files
from cimhub.store.commands import CommandRepository, HesEndpoint, StoredCommand

TENANT = "t1"
HEADERS = {"Content-Type": "application/xml", "X-Cimhub-Tenant": TENANT}
CONTROL = """<?xml version="1.0" encoding="UTF-8"?>
<CreateEndDeviceControls xmlns="http://iec.ch/TC57/2011/EndDeviceControlsMessage"
                         xmlns:msg="http://iec.ch/TC57/2011/schema/message"
                         xmlns:c="http://iec.ch/TC57/2011/EndDeviceControls#">
  <Header>
    <msg:Verb>create</msg:Verb>
    <msg:Noun>EndDeviceControls</msg:Noun>
    <msg:Timestamp>2024-06-15T10:00:05+05:30</msg:Timestamp>
    <msg:Source>CIS</msg:Source>
    <msg:User><msg:UserID>{user}</msg:UserID></msg:User>
    <msg:MessageID>{message_id}</msg:MessageID>
  </Header>
  <Payload>
    <c:EndDeviceControls>
      <c:EndDeviceControl>
        <c:mRID>{mrid}</c:mRID>
        <c:reason>test</c:reason>
        <c:EndDeviceControlType ref="{code}"/>
        {devices}
      </c:EndDeviceControl>
    </c:EndDeviceControls>
  </Payload>
</CreateEndDeviceControls>
"""
CONNECT, DISCONNECT = "3.31.0.18", "3.31.0.23"
# cimhub profile codes, not published ones:
READ = "3.21.0.8"  # on-demand read
TIME_SYNC, MD_RESET = "3.36.116.13", "3.8.0.214"
PREPAID, POSTPAID = "3.20.9.26", "3.20.9.22"  # switch to prepaid / postpaid
DEVICE = "<c:EndDevices><c:mRID>{}</c:mRID></c:EndDevices>"
GROUP = "<c:EndDeviceGroups><c:mRID>G-{}</c:mRID>{}</c:EndDeviceGroups>"


def control(mrid: str, code: str, meter: str, user: str = "asha") -> bytes:
    return group_control(mrid, code, [meter], user=user)


def group_control(
    mrid: str, code: str, meters: list[str], group: Sequence[str] = (), user: str = "asha"
) -> bytes:
    """One control for several meters: ``meters`` as EndDevices, ``group`` as the members
    of an EndDeviceGroup (which comes first, in profile order)."""
    members = "".join(DEVICE.format(m) for m in group)
    devices = GROUP.format(mrid, members) if group else ""
    devices += "".join(DEVICE.format(m) for m in meters)
    return CONTROL.format(
        mrid=mrid, code=code, devices=devices, user=user, message_id=str(uuid.uuid4())
    ).encode()


def seed_meters(
    hub: Hub,
    tmp_path: Path,
    meters: dict[str, str],
    tenant: str = TENANT,
    stages: dict[str, str] | None = None,
) -> None:
    """Meters (mRID → head-end name), serial SN-<mRID>, in service (or their ``stages``)."""
    path = tmp_path / "meters.csv"
    stage = stages or {}
    rows = [f"{m},SN-{m},{hes},{stage.get(m, 'in_service')}" for m, hes in meters.items()]
    path.write_text("mrid,serial_number,hes,stage\n" + "\n".join(rows) + "\n")
    reports = import_files(hub.database, tenant, [path])
    assert all(r.applied for r in reports), [str(e) for r in reports for e in r.errors]


def set_endpoint(hub: Hub, endpoint: HesEndpoint) -> None:
    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        CommandRepository(uow).put_endpoint(tenant_id, endpoint)


def command(base: str, mrid: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/v1/commands/{mrid}", headers=HEADERS, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def push_intervals(base: str, meter: str, stamps: list[int], value: float = 0.25) -> None:
    """A head-end's 15-minute kWh reads of one meter (by mRID), as MeterReadings created."""
    from cimhub.bus.events import wrap
    from cimhub.domain.reading import MeterRef, ReadingKind
    from cimhub.mappings.meter_readings import SeriesOut, write_meter_readings
    from cimhub.message.verb import Noun, Verb
    from cimhub.testing.messages import KWH_15MIN
    from cimhub.testing.replies import ParsedReply

    n = len(stamps)
    series = SeriesOut(KWH_15MIN, ReadingKind.INTERVAL, stamps, [value] * n, [""] * n)
    payload = write_meter_readings([(MeterRef(meter), [series])])
    body = wrap(Noun.METER_READINGS.value, Verb.CREATED, payload, str(uuid.uuid4()), None)
    reply = httpx.post(f"{base}/cim", content=body, headers=HEADERS, timeout=30)
    assert ParsedReply.of(reply.content).result == "OK", reply.text


def read_commands(hub: Hub) -> list[StoredCommand]:
    """The tenant's READ commands, oldest first."""
    with hub.database.unit_of_work(hub=True) as uow:
        found, _ = CommandRepository(uow).query(uow.tenants.ensure(TENANT), limit=1000)
    return [s for s in reversed(found) if s.command.kind is CommandKind.READ]


def qualities(base: str, meter: str, stamps: list[int], reading_type: str) -> list[str]:
    """The validated ReadingQuality codes of a meter's readings of one type at ``stamps``
    ("absent" where there is none), asked without on-demand reads."""
    from cimhub.testing.bus import qualified_in
    from cimhub.testing.messages import get_meter_readings

    body = get_meter_readings([meter], options={"onDemand": "false"})
    reply = httpx.post(f"{base}/cim", content=body, headers=HEADERS, timeout=30)
    found = {ts: q for (_m, t, ts), (_v, q) in qualified_in([reply.content]).items()
             if t == reading_type}  # fmt: skip
    return [found.get(ts, "absent") for ts in stamps]


def delivered(found: list[str]) -> bool:
    """Each of these ``qualities`` is of a reading the head-end delivered: present, and not
    VEE's estimate of a missing interval. A delivered value may still fail a plausibility
    rule: the simulator's appliance bursts are spikes (5× the neighbours) at some hours,
    so which ones depends on the wall clock a test runs at."""
    from cimhub.vee.quality import MISSING

    return all(q != "absent" and MISSING not in q.split() for q in found)


def open_gaps(hub: Hub) -> list[tuple[int, int, int]]:
    """(meter id, first, last missing interval) of the tenant's open interval.missing
    findings, one per gap whatever the reading types."""
    from cimhub.store.findings import FindingRepository

    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        found = FindingRepository(uow).query(tenant_id, rules=["interval.missing"])
    return sorted({(f.meter_id, f.first_ts, f.last_ts) for f in found})


def send_with_a_gap(sim: Any, meter: str, start: int, missing: range = range(8, 12)) -> list[int]:
    """A simulated head-end (``cimhub.simulator``) sends six hours of a meter's block load
    from ``start`` without the ``missing`` quarter hours; their interval ends."""
    from cimhub.simulator.profiles import Batch

    blocks = sim.generator.blocks(sim.generator.meter(meter), start, start + 24 * 900)
    sim.send(Batch(blocks=[b for i, b in enumerate(blocks) if i not in missing]))
    return [blocks[i].end for i in missing]
