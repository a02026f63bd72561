"""The REST API over real HTTP: tenants, hierarchy, usage points, meters, histories,
paging and filters, problem+json errors, reports as JSON and CSV, OpenAPI."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cimhub.bus.pipeline import Inbound
from cimhub.imports.csv_import import import_files
from cimhub.settings import Settings
from cimhub.testing.masterdata import linkage, meter_config, write_discom
from cimhub.testing.server import running_hub

TENANT = "ladakh"


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    with running_hub(Settings(database_url=database_url)) as (hub, base):
        assert all(
            r.applied for r in import_files(hub.database, TENANT, write_discom(tmp_path, 120))
        )
        for raw in (
            meter_config(
                "create", {"mrid": "SPARE", "serial": "SP1", "make": "Maker Z", "stage": "inStore"}
            ),
            meter_config(
                "change",
                {
                    "mrid": "SM0000005",
                    "stage": "faulty",
                    "at": "2024-03-01T10:00:00+05:30",
                    "reason": "display blank",
                },
            ),
            linkage("close", "SM0000005", "N00000005", "2024-03-02T10:00:00+05:30"),
        ):
            assert hub.pipeline.process(Inbound(raw, TENANT, "test")).result.value == "OK"
        with httpx.Client(base_url=f"{base}/api/v1/tenants/{TENANT}", timeout=10) as client:
            yield client


def test_lists_are_paged_and_filtered(api: httpx.Client) -> None:
    page = api.get("/meters", params={"limit": 50}).json()
    assert (page["total"], len(page["items"]), page["offset"]) == (124 + 1, 50, 0)
    following = httpx.get(page["next"]).json()
    assert following["offset"] == 50 and following["items"][0] != page["items"][0]
    makes = api.get("/meters", params={"make": "Maker Z"}).json()
    assert [m["mrid"] for m in makes["items"]] == ["SPARE"] and makes["next"] is None
    dt_meters = api.get("/meters", params={"meter_type": "dt"}).json()
    assert dt_meters["total"] == 3 and {m["role"] for m in dt_meters["items"]} == {"dt"}
    prepaid = api.get("/usage-points", params={"payment_mode": "prepaid", "dt": "DT0"}).json()
    assert prepaid["total"] == 25
    assert {p["feeder"] for p in prepaid["items"]} == {"F0"}
    dts = api.get("/hierarchy/nodes", params={"parent": "F0"}).json()
    assert [n["code"] for n in dts["items"]] == ["DT0", "DT1", "DT2"]


def test_details_carry_lifecycle_and_installation_history(api: httpx.Client) -> None:
    meter = api.get("/meters/SM0000005").json()
    assert meter["lifecycle_stage"] == "removed" and meter["usage_point"] is None
    moves = [(m["from_stage"], m["to_stage"], m["reason"]) for m in meter["lifecycle"]]
    assert moves == [
        (None, "in_service", "billing import"),
        ("in_service", "faulty", "display blank"),
        ("faulty", "removed", "close link"),
    ]
    assert [(i["usage_point"], i["end_ts"] is not None) for i in meter["installations"]] == [
        ("N00000005", True)
    ]
    assert api.get("/meters/SM0000005/lifecycle").json() == meter["lifecycle"]
    point = api.get("/usage-points/N00000006").json()
    assert point["meters"][0]["mrid"] == "SM0000006" and point["dt"] == "DT0"
    tenant = httpx.get(str(api.base_url).rstrip("/")).json()
    assert (tenant["meters"], tenant["usage_points"], tenant["hierarchy_nodes"]) == (125, 120, 10)


def test_errors_are_problem_json(api: httpx.Client) -> None:
    for path, status, code in (
        ("/meters/NOPE", 404, "2.15"),
        ("/meters?limit=5000", 422, "2.4"),
        ("/meters?lifecycle_stage=lost", 422, "2.4"),
    ):
        reply = api.get(path)
        assert reply.status_code == status
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.json()["code"] == code
    unknown = httpx.get(str(api.base_url).replace(TENANT, "nowhere") + "meters")
    assert unknown.status_code == 404 and unknown.json()["detail"] == "unknown tenant 'nowhere'"


def test_reports_as_json_and_csv(api: httpx.Client) -> None:
    inventory = api.get("/reports/meter-inventory").json()
    assert inventory["summary"]["by_stage"] == {
        "in_service": 123,
        "received_in_store": 1,
        "removed": 1,
    }
    assert inventory["summary"]["by_make"]["Maker Z"] == 1
    as_of = 1_718_000_000  # 2024-06-10: nothing has been read yet
    silent = api.get("/reports/not-communicating", params={"days": 7, "as_of": as_of}).json()
    assert silent["summary"]["installed"] == silent["summary"]["not_communicating"] == 123
    as_csv = api.get(
        "/reports/not-communicating", params={"days": 7, "as_of": as_of, "format": "csv"}
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 123 and rows[0].keys() >= {"mrid", "usage_point", "last_reading"}


def test_openapi_documents_the_api(api: httpx.Client) -> None:
    spec = httpx.get(str(api.base_url).split("/api/")[0] + "/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/tenants/{tenant}/meters/{key}/lifecycle" in spec["paths"]
    params = {
        p["name"] for p in spec["paths"]["/api/v1/tenants/{tenant}/meters"]["get"]["parameters"]
    }
    assert params >= {"limit", "offset", "lifecycle_stage", "make", "usage_point"}
