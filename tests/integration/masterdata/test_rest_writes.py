"""POST / PATCH meters and usage points over real HTTP with credentials: the same store
functions as the CIM config messages (same codes), the CIM permission on top of
rest.masterdata.write, every change audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cimhub.app import Hub
from cimhub.imports.csv_import import import_files
from cimhub.settings import Settings
from cimhub.store.audit import AuditLog
from cimhub.store.security import Security
from cimhub.testing.server import running_hub

TENANT = "discom"
NETWORK = """code,name,level,parent_code
SS1,Substation 1,substation,
F1,Feeder 1,feeder,SS1
DT1,DT 1,dt,F1
"""


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[Hub, dict[str, httpx.Client]]]:
    network = tmp_path / "network.csv"
    network.write_text(NETWORK)
    with running_hub(Settings(database_url=database_url)) as (hub, base):
        assert all(r.applied for r in import_files(hub.database, TENANT, [network]))
        with hub.database.unit_of_work(hub=True) as uow:
            security = Security(uow)
            keys = {
                role: security.create_credential(TENANT, name, [role], actor="test")
                for name, role in (("op", "operator"), ("ann", "analyst"))
            }
        url = f"{base}/api/v1/tenants/{TENANT}"
        clients = {
            role: httpx.Client(base_url=url, headers={"X-Api-Key": key}, timeout=10)
            for role, key in keys.items()
        }
        try:
            yield hub, clients
        finally:
            for client in clients.values():
                client.close()


def test_meters_are_created_and_changed_with_the_cim_codes(
    served: tuple[Hub, dict[str, httpx.Client]],
) -> None:
    hub, clients = served
    api = clients["operator"]
    new = {"mrid": "M1", "serial_number": "S1", "make": "Maker A", "phases": 1}
    made = api.post("/meters", json=new)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["mrid"], body["make"], body["lifecycle_stage"]) == (
        "M1",
        "Maker A",
        "received_in_store",
    )
    assert [m["to_stage"] for m in body["lifecycle"]] == ["received_in_store"]
    again = api.post("/meters", json=new)
    assert (again.status_code, again.json()["code"]) == (400, "3.3")
    # by serial: the meter it names changes, with a lifecycle move by the caller
    moved = api.patch("/meters/S1", json={"make": "Maker B", "stage": "issued_to_field",
                                          "reason": "to crew 7"})  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert (moved.json()["make"], moved.json()["lifecycle_stage"]) == ("Maker B", "issued_to_field")
    last = moved.json()["lifecycle"][-1]
    assert (last["to_stage"], last["changed_by"], last["reason"]) == (
        "issued_to_field",
        "op",
        "to crew 7",
    )
    illegal = api.patch("/meters/M1", json={"stage": "decommissioned"})
    assert (illegal.status_code, illegal.json()["code"]) == (400, "3.4")
    unknown = api.patch("/meters/NOPE", json={"make": "X"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "2.15")
    bad = api.post("/meters", json={"mrid": "M2", "phases": 2})
    assert (bad.status_code, bad.json()["code"]) == (400, "2.1")
    assert api.get("/meters/M1").json()["make"] == "Maker B"
    with hub.database.unit_of_work(hub=True) as uow:
        entries = [e for e in AuditLog(uow).entries(tenant=TENANT) if e.object == "meter:M1"]
    assert [(e.actor, e.action) for e in entries] == [
        ("op", "MeterConfig.create"),
        ("op", "MeterConfig.change"),
    ]
    assert json.loads(entries[1].after or "{}")["make"] == "Maker B"
    assert json.loads(entries[1].before or "{}")["make"] == "Maker A"


def test_usage_points_are_created_and_changed(
    served: tuple[Hub, dict[str, httpx.Client]],
) -> None:
    _, clients = served
    api = clients["operator"]
    made = api.post(
        "/usage-points",
        json={"consumer_number": "IV1", "category": "residential", "dt_code": "DT1"},
    )
    assert made.status_code == 201, made.text
    assert (made.json()["mrid"], made.json()["dt"], made.json()["feeder"]) == ("IV1", "DT1", "F1")
    changed = api.patch(
        "/usage-points/IV1", json={"tariff_code": "LT-1", "payment_mode": "prepaid"}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["tariff_code"], changed.json()["payment_mode"]) == ("LT-1", "prepaid")
    wrong = api.patch("/usage-points/IV1", json={"dt_code": "F1"})  # a feeder, not a DT
    assert (wrong.status_code, wrong.json()["code"]) == (400, "3.1")
    unknown = api.post("/usage-points", json={"mrid": "UP9", "dt_code": "DT9"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "2.15")
    typo = api.patch("/usage-points/IV1", json={"tarif_code": "LT-2"})
    assert typo.status_code == 422


def test_writing_needs_the_write_permission(served: tuple[Hub, dict[str, httpx.Client]]) -> None:
    _, clients = served
    analyst = clients["analyst"]
    assert analyst.get("/meters").status_code == 200
    refused = analyst.post("/meters", json={"mrid": "M1"})
    assert (refused.status_code, refused.json()["code"]) == (403, "6.2")
    assert analyst.patch("/usage-points/X", json={"name": "y"}).status_code == 403
    assert analyst.get("/meters").json()["total"] == 0


def test_rest_keeps_the_record_of_a_deleted_meter(
    served: tuple[Hub, dict[str, httpx.Client]],
) -> None:
    hub, clients = served
    api = clients["operator"]
    for mrid in ("M1", "M2"):
        assert api.post("/meters", json={"mrid": mrid}).status_code == 201
    with hub.database.unit_of_work(hub=True) as uow:  # as DeleteMeterConfig does
        tenant_id = uow.tenants.ensure(TENANT)
        uow.meter_assets.set_status(
            [uow.meter_assets.require(tenant_id, ["M1"])["M1"].id], "deleted"
        )
    assert api.get("/meters/M1").json()["record_status"] == "deleted"  # the record view
    live = api.get("/meters", params={"record_status": "active"}).json()
    assert [m["mrid"] for m in live["items"]] == ["M2"]
    gone = api.patch("/meters/M1", json={"make": "X"})
    assert (gone.status_code, gone.json()["code"]) == (404, "2.15")
