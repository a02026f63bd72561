"""VEE's REST face on SQLite and PostgreSQL: findings (filters, paging, one finding), manual
edits and bulk corrections of validated readings (raw untouched, versions, audit chain,
problem+json refusals), a reading's version history, and the rule configuration in force.
Tenant A never sees or edits tenant B's findings or readings, even where both tenants name
a meter alike."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.endpoints.rest.vee_schemas import EditRequest
from cimhub.settings import Settings
from cimhub.store.audit import AuditLog
from cimhub.testing.billing import Stay, add_usage_points, install
from cimhub.testing.messages import readings_message
from cimhub.testing.security import JWT_SECRET, SECRET_KEY, provision
from cimhub.testing.server import running_hub
from cimhub.testing.tenancy import as_tenant

KWH = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
KWH_UNSEEN = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.9"  # valid, never stored
IST = 330 * 60
#: local midnight two days ago (recent for "old read date", past the re-acquisition wait)
DAY = (int(time.time()) + IST) // 86_400 * 86_400 - IST - 2 * 86_400
TS = [DAY + 900 * (i + 1) for i in range(96)]
SPIKE, GAP = 40, (60, 61)
A, B = "discom-a", "discom-b"
PROBLEM = "application/problem+json"


def day(spike: float = 6.5) -> dict[int, float]:
    values = {ts: round(0.3 + 0.01 * (i % 9), 3) for i, ts in enumerate(TS)}
    values[TS[SPIKE]] = spike
    for i in GAP:
        del values[TS[i]]
    return values


@pytest.fixture
def api(database_url: str) -> Iterator[tuple[Hub, httpx.Client]]:
    """Tenant A: meter M-1 with a spike and a gap. Tenant B: its own M-1 (same mRID) with
    another spike, and meter B-9."""
    with running_hub(Settings(database_url=database_url, default_tenant=A)) as (hub, base):
        for tenant, meter, values in ((A, "M-1", day()), (B, "M-1", day(7.5)), (B, "B-9", day())):
            with hub.database.unit_of_work(hub=True) as uow:
                uow.tenants.ensure(tenant)
            answer = hub.pipeline.process(
                Inbound(readings_message(meter, {KWH: values}), tenant, "test")
            )
            assert answer.result.value == "OK", answer.body
        with httpx.Client(base_url=base, headers=as_tenant(A), timeout=30) as client:
            yield hub, client


def findings(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/vee/findings", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def edit(client: httpx.Client, meter: str = "M-1", **body: Any) -> Any:
    payload = {"reading_type": KWH, "reason": "site visit: display read", "user": "op-17"}
    return client.post(f"/api/v1/meters/{meter}/readings/edits", json={**payload, **body})


def correct(client: httpx.Client, **body: Any) -> Any:
    payload = {"reading_type": KWH, "reason": "CT ratio keyed wrong", "user": "op-17"}
    return client.post("/api/v1/meters/M-1/readings/corrections", json={**payload, **body})


def versions(client: httpx.Client, ts: int, meter: str = "M-1") -> Any:
    return client.get(f"/api/v1/meters/{meter}/readings/{KWH}/{ts}/versions")


def test_findings_are_filtered_and_paged_within_the_tenant(
    api: tuple[Hub, httpx.Client],
) -> None:
    _, client = api
    every = findings(client)
    rules = {f["rule"] for f in every["items"]}
    assert {"usage.spike", "interval.missing"} <= rules
    assert {f["meter"] for f in every["items"]} == {"M-1"}  # never B's M-1 or B-9
    assert all(f["status"] == "open" and f["reading_type"] == KWH for f in every["items"])
    spikes = findings(client, rule="usage.spike")["items"]
    assert [(f["first_ts"], f["severity"]) for f in spikes] == [(TS[SPIKE], "error")]
    assert spikes[0]["data"] and spikes[0]["quality"] == "3.5.258"
    missing = findings(client, rule="interval.missing", meter="M-1")["items"]
    assert [(f["first_ts"], f["last_ts"], f["count"]) for f in missing] == [
        (TS[GAP[0]], TS[GAP[1]], 2)
    ]
    assert findings(client, start=TS[GAP[1]], end=TS[-1])["total"] < every["total"]
    assert findings(client, severity="info", rule="usage.spike")["total"] == 0
    assert findings(client, status="cleared")["total"] == 0
    first = findings(client, limit=1)
    assert (first["total"], len(first["items"])) == (every["total"], 1)
    following = client.get(first["next"]).json()
    assert following["offset"] == 1 and following["items"][0] == every["items"][1]
    as_b = client.get("/api/v1/vee/findings", headers=as_tenant(B)).json()
    assert {f["meter"] for f in as_b["items"]} == {"M-1", "B-9"}
    assert not {f["id"] for f in as_b["items"]} & {f["id"] for f in every["items"]}


def test_a_usage_points_findings_are_its_meters_while_installed_there(
    api: tuple[Hub, httpx.Client],
) -> None:
    hub, client = api
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure(A)
        add_usage_points(uow, tenant, ["UP-A"])
        install(uow, tenant, [Stay("UP-A", "M-1", TS[50])])  # after the spike, before the gap
    rules = {f["rule"] for f in findings(client, usage_point="UP-A")["items"]}
    assert "interval.missing" in rules and "usage.spike" not in rules
    assert findings(client, usage_point="UP-A", meter="M-1")["total"] == len(
        findings(client, usage_point="UP-A")["items"]
    )


def test_the_daily_failures_report_counts_a_local_days_findings(
    api: tuple[Hub, httpx.Client],
) -> None:
    _, client = api
    day_text = time.strftime("%Y-%m-%d", time.gmtime(DAY + IST))
    report = client.get("/api/v1/vee/report", params={"day": day_text}).json()
    assert (report["tenant"], report["day"], report["start"]) == (A, day_text, DAY)
    spikes = [r for r in report["by_rule"] if r["rule"] == "usage.spike"]
    assert spikes == [{"rule": "usage.spike", "severity": "error", "findings": 1, "meters": 1}]
    assert report["findings"] == sum(r["findings"] for r in report["by_rule"]) > 0
    yesterday = client.get("/api/v1/vee/report").json()  # default: yesterday, nothing found
    assert yesterday["findings"] == 0 and yesterday["day"] > day_text
    assert client.get("/api/v1/vee/report", params={"day": "22-11-2026"}).status_code == 422
    as_b = client.get("/api/v1/vee/report", params={"day": day_text}, headers=as_tenant(B))
    assert as_b.json()["tenant"] == B and as_b.json()["findings"] > report["findings"]


def test_bad_finding_filters_are_problems(api: tuple[Hub, httpx.Client]) -> None:
    _, client = api
    for params, status in (
        ({"meter": "B-9"}, 404),  # B's meter is unknown to A
        ({"usage_point": "nowhere"}, 404),
        ({"severity": "fatal"}, 422),
        ({"status": "maybe"}, 422),
        ({"limit": 0}, 422),
    ):
        response = client.get("/api/v1/vee/findings", params=params)
        assert response.status_code == status, (params, response.text)
        assert response.headers["content-type"] == PROBLEM
    unknown = client.get("/api/v1/vee/findings", headers=as_tenant("nobody"))
    assert unknown.status_code == 404


def test_one_finding_carries_its_readings_and_another_tenants_is_unknown(
    api: tuple[Hub, httpx.Client],
) -> None:
    _, client = api
    [missing] = findings(client, rule="interval.missing")["items"]
    one = client.get(f"/api/v1/vee/findings/{missing['id']}").json()
    assert one["timestamps"] == [TS[i] for i in GAP] and one["id"] == missing["id"]
    as_b = client.get("/api/v1/vee/findings", headers=as_tenant(B)).json()
    b_ids = [f["id"] for f in as_b["items"]]
    assert b_ids
    for finding_id in b_ids:
        response = client.get(f"/api/v1/vee/findings/{finding_id}")
        assert response.status_code == 404 and response.json()["code"] == "2.15"
    assert client.get("/api/v1/vee/findings/0").status_code == 422


def test_a_finding_is_acknowledged_then_closed_with_who_and_why(
    api: tuple[Hub, httpx.Client],
) -> None:
    hub, client = api
    [spike] = findings(client, rule="usage.spike")["items"]
    assert (spike["review"], spike["reviewed_by"]) == ("new", None)
    url = f"/api/v1/vee/findings/{spike['id']}/review"
    seen = client.post(url, json={"review": "acknowledged", "note": "CT checked", "user": "op-9"})
    assert seen.status_code == 200, seen.text
    assert (seen.json()["review"], seen.json()["reviewed_by"]) == ("acknowledged", "op-9")
    closed = client.post(url, json={"review": "closed", "note": "edited", "user": "op-9"}).json()
    assert (closed["review"], closed["review_note"]) == ("closed", "edited")
    assert closed["timestamps"] == [TS[SPIKE]] and closed["status"] == "open"
    assert [f["id"] for f in findings(client, review="closed")["items"]] == [spike["id"]]
    assert spike["id"] not in [f["id"] for f in findings(client, review="new")["items"]]
    for body, status in (
        ({"review": "closed", "note": "again", "user": "op-9"}, 409),
        ({"review": "new", "note": "undo", "user": "op-9"}, 422),
        ({"review": "acknowledged", "note": "  ", "user": "op-9"}, 409),
        ({"review": "acknowledged", "note": "no user"}, 422),
    ):
        response = client.post(url, json=body)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"] == PROBLEM
    as_b = client.get("/api/v1/vee/findings", headers=as_tenant(B)).json()["items"]
    b_url = f"/api/v1/vee/findings/{as_b[0]['id']}/review"
    foreign = client.post(b_url, json={"review": "closed", "note": "x", "user": "op-9"})
    assert foreign.status_code == 404
    b_after = client.get(f"/api/v1/vee/findings/{as_b[0]['id']}", headers=as_tenant(B)).json()
    assert b_after["review"] == "new"
    with hub.database.unit_of_work(hub=True) as uow:
        moves = [
            (e.actor, e.before, e.after)
            for e in AuditLog(uow).entries(tenant=A)
            if e.action == "vee.finding.review"
        ]
    assert [m[0] for m in moves] == ["op-9", "op-9"]
    assert '"review":"new"' in (moves[0][1] or "") and '"note":"edited"' in (moves[1][2] or "")


def test_a_manual_edit_is_a_new_version_raw_stays_and_the_audit_chain_says_who_and_why(
    api: tuple[Hub, httpx.Client],
) -> None:
    hub, client = api
    estimate = versions(client, TS[SPIKE]).json()["validated"][-1]["value"]
    response = edit(
        client, readings=[{"ts": TS[SPIKE], "value": 0.35}, {"ts": TS[0], "value": 0.3}]
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["user"], result["changed"], result["unchanged"]) == ("op-17", 2, 0)
    assert result["readings"] == [
        {"ts": TS[0], "before": 0.3, "after": 0.3},
        {"ts": TS[SPIKE], "before": estimate, "after": 0.35},
    ]
    history = versions(client, TS[SPIKE]).json()
    assert history["kind"] == "interval"
    assert [(r["version"], r["value"]) for r in history["raw"]] == [(1, 6.5)]  # untouched
    old, new = history["validated"]
    assert (old["value"], old["user"], old["superseded_at"] is not None) == (estimate, "", True)
    assert (new["value"], new["quality"], new["method"]) == (0.35, "3.7.0", "edited")
    assert (new["user"], new["reason"], new["superseded_at"]) == (
        "op-17", "site visit: display read", None,
    )  # fmt: skip
    with hub.database.unit_of_work(hub=True) as uow:
        log = AuditLog(uow)
        [entry] = [e for e in log.entries(tenant=A) if e.id == result["audit_id"]]
        assert log.verify() is None
    assert (entry.actor, entry.action, entry.object) == ("op-17", "vee.edit", f"meter:M-1/{KWH}")
    assert '"reason":"site visit: display read"' in (entry.after or "")
    assert f"[{TS[SPIKE]},{estimate}]" in (entry.before or "")
    b_history = client.get(
        f"/api/v1/meters/M-1/readings/{KWH}/{TS[SPIKE]}/versions", headers=as_tenant(B)
    ).json()
    assert [v["user"] for v in b_history["validated"]] == [""]  # B's M-1 untouched
    assert [r["value"] for r in b_history["raw"]] == [7.5]


def test_refused_edits_are_problems_and_change_nothing(api: tuple[Hub, httpx.Client]) -> None:
    _, client = api
    one = [{"ts": TS[1], "value": 1.0}]
    cases = [
        (edit(client, readings=one, user=None), 422),  # open mode: the user must be named
        (edit(client, readings=one, reason="   "), 409),
        (edit(client, readings=one, user="  "), 409),
        (edit(client, "B-9", readings=one), 404),  # B's meter
        (edit(client, "nobody", readings=one), 404),
        (edit(client, readings=one, reading_type="1.2.3"), 422),
        (edit(client, readings=one, reading_type=KWH_UNSEEN), 404),
        (edit(client, readings=[]), 422),
        (edit(client, readings=one + one), 422),
        (edit(client, readings=[{"ts": TS[1], "value": "lots"}]), 422),
        (edit(client, readings=one, extra=1), 422),
        (correct(client, start=TS[5], end=TS[1], operation="scale", factor=2.0), 422),
        (correct(client, start=TS[1], end=TS[5], operation="scale"), 409),  # no factor
        (correct(client, start=TS[-1], end=TS[-1] + 9000, operation="replace", value=0), 409),
        (correct(client, start=TS[90], end=TS[95], operation="interpolate"), 409),  # no right
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == PROBLEM
    history = versions(client, TS[1]).json()
    assert [v["user"] for v in history["validated"]] == [""]  # VEE's version only


def test_bulk_corrections_scale_replace_and_interpolate_over_a_period(
    api: tuple[Hub, httpx.Client],
) -> None:
    _, client = api
    before = {r["ts"]: r["before"] for r in edit(client, readings=[
        {"ts": ts, "value": 0.3} for ts in TS[:8]]).json()["readings"]}  # fmt: skip
    assert len(before) == 8
    scaled = correct(client, start=TS[0], end=TS[3], operation="scale", factor=2.5).json()
    assert [(r["ts"], r["before"], r["after"]) for r in scaled["readings"]] == [
        (ts, 0.3, 0.75) for ts in TS[1:4]
    ]
    replaced = correct(client, start=TS[3], end=TS[5], operation="replace", value=0.0).json()
    assert [r["after"] for r in replaced["readings"]] == [0.0, 0.0]
    line = correct(client, start=TS[GAP[0] - 1], end=TS[GAP[1]], operation="interpolate").json()
    left = versions(client, TS[GAP[0] - 1]).json()["validated"][-1]["value"]
    right = versions(client, TS[GAP[1] + 1]).json()["validated"][-1]["value"]
    step = (right - left) / 3
    assert [r["after"] for r in line["readings"]] == pytest.approx([left + step, left + 2 * step])
    history = versions(client, TS[GAP[0]]).json()
    assert history["raw"] == [] and history["kind"] is None  # a gap: never received
    assert history["validated"][-1]["reason"] == "CT ratio keyed wrong"
    vee = correct(client, start=DAY, end=TS[GAP[1]], operation="revalidate").json()
    back = {r["ts"]: (r["before"], r["after"]) for r in vee["readings"]}
    assert back[TS[1]] == (0.75, 0.31) and back[TS[4]] == (0.0, 0.34)  # raw again
    assert back[TS[SPIKE]][1] < 1  # VEE's estimate for the spike again
    undone = versions(client, TS[GAP[0]]).json()["validated"][-1]
    assert (undone["user"], undone["quality"].split()[0]) == ("", "3.8.0")  # re-estimated
    assert vee["changed"] >= 8
    nothing = correct(client, start=TS[-1], end=TS[-1] + 9000, operation="revalidate")
    assert nothing.status_code == 409


def test_version_history_of_an_unknown_reading_is_a_problem(api: tuple[Hub, httpx.Client]) -> None:
    _, client = api
    assert versions(client, TS[0] + 1).status_code == 404
    assert versions(client, TS[0], meter="B-9").status_code == 404
    assert (
        client.get(f"/api/v1/meters/M-1/readings/{KWH_UNSEEN}/{TS[0]}/versions").status_code == 404
    )


def test_the_rules_in_force_are_shown_honestly(api: tuple[Hub, httpx.Client]) -> None:
    _, client = api
    config = client.get("/api/v1/vee/rules").json()
    assert (config["tenant"], config["config_version"], config["stored"]) == (A, "builtin", None)
    assert config["source"] == "built-in defaults" and config["editable"] is True
    rules = {r["id"]: r for r in config["rules"]}
    assert len(rules) >= 27 and all(r["clause"] and r["enabled"] for r in rules.values())
    assert config["parameters"]["spike_factor"] == 5.0
    assert config["parameters"]["disabled"] == []


def test_a_tenants_stored_overrides_change_how_vee_judges_its_new_data(
    api: tuple[Hub, httpx.Client],
) -> None:
    hub, client = api
    body = {
        "parameters": {"spike_factor": 100.0, "disabled": ["usage.static"]},
        "category": {"agricultural": {"zero_run_intervals": 48}},
        "reason": "pumps run in long flat blocks",
        "user": "vee-admin",
    }
    response = client.put("/api/v1/vee/config", json=body)
    assert response.status_code == 200, response.text
    config = response.json()
    assert config["config_version"] == "builtin+t1" and "version 1" in config["source"]
    assert config["stored"]["version"] == 1 and config["parameters"]["spike_factor"] == 100.0
    assert {r["id"]: r["enabled"] for r in config["rules"]}["usage.static"] is False
    assert config["category"] == {"agricultural": {"zero_run_intervals": 48}}
    assert client.get("/api/v1/vee/rules").json() == config
    theirs = client.get("/api/v1/vee/rules", headers=as_tenant(B)).json()
    assert theirs["parameters"]["spike_factor"] == 5.0 and theirs["stored"] is None
    for tenant in (A, B):  # the same spiky day for a new meter in each tenant
        answer = hub.pipeline.process(
            Inbound(readings_message("M-2", {KWH: day()}), tenant, "test")
        )
        assert answer.result.value == "OK"
    spikes = {
        tenant: client.get("/api/v1/vee/findings", headers=as_tenant(tenant),
                           params={"meter": "M-2", "rule": "usage.spike"}).json()["total"]
        for tenant in (A, B)
    }  # fmt: skip
    assert spikes == {A: 0, B: 1}
    with hub.database.unit_of_work(hub=True) as uow:
        [entry] = [e for e in AuditLog(uow).entries(tenant=A) if e.action == "vee.config"]
    assert entry.actor == "vee-admin" and '"spike_factor":100.0' in (entry.after or "")
    again = client.put("/api/v1/vee/config", json={"reason": "back to the file", "user": "x"})
    assert again.json()["config_version"] == "builtin+t2"
    assert again.json()["parameters"]["spike_factor"] == 5.0


def test_bad_configuration_changes_are_problems(api: tuple[Hub, httpx.Client]) -> None:
    _, client = api
    ok = {"reason": "tuning", "user": "vee-admin"}
    for body, status in (
        ({**ok, "parameters": {"spike_factr": 4.0}}, 422),
        ({**ok, "parameters": {"spike_factor": "high"}}, 422),
        ({**ok, "parameters": {"like_day_statistic": "median"}}, 422),
        ({**ok, "category": {"agricultural": {"disabled": ["usage.statics"]}}}, 422),
        ({**ok, "meter_type": {"3P-CT": {"disabled": "usage.static"}}}, 422),
        ({**ok, "tenant": {"other": {}}}, 422),
        ({"parameters": {"spike_factor": 4.0}, "reason": "no user"}, 422),
        ({**ok, "reason": "   "}, 409),
    ):
        response = client.put("/api/v1/vee/config", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"] == PROBLEM
    assert client.get("/api/v1/vee/rules").json()["stored"] is None


def test_the_rules_follow_the_tenants_file_configuration(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "vee.toml"
    path.write_text(
        'version = "2026-11-22.7"\n[defaults]\nspike_factor = 4.0\n'
        f'[tenant.{A}]\ndisabled = ["usage.static"]\n'
        f"[tenant.{A}.category.agricultural]\nzero_run_intervals = 48\n"
    )
    settings = Settings(database_url=database_url, default_tenant=A, vee_config=str(path))
    with running_hub(settings) as (hub, base):
        with hub.database.unit_of_work(hub=True) as uow:
            uow.tenants.ensure(A)
            uow.tenants.ensure(B)
        mine = httpx.get(f"{base}/api/v1/vee/rules").json()
        theirs = httpx.get(f"{base}/api/v1/vee/rules", headers=as_tenant(B)).json()
    assert mine["config_version"] == "2026-11-22.7" and str(path) in mine["source"]
    assert mine["parameters"]["spike_factor"] == 4.0
    assert {r["id"]: r["enabled"] for r in mine["rules"]}["usage.static"] is False
    assert mine["category"] == {"agricultural": {"zero_run_intervals": 48}}
    assert {r["id"]: r["enabled"] for r in theirs["rules"]}["usage.static"] is True
    assert theirs["category"] == {}


def test_the_vee_routes_are_documented(api: tuple[Hub, httpx.Client]) -> None:
    _, client = api
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in (
        ("/api/v1/vee/findings", "get"),
        ("/api/v1/vee/findings/{finding_id}", "get"),
        ("/api/v1/vee/rules", "get"),
        ("/api/v1/vee/report", "get"),
        ("/api/v1/vee/config", "put"),
        ("/api/v1/vee/findings/{finding_id}/review", "post"),
        ("/api/v1/meters/{key}/readings/edits", "post"),
        ("/api/v1/meters/{key}/readings/corrections", "post"),
        ("/api/v1/meters/{key}/readings/{reading_type}/{ts}/versions", "get"),
    ):
        operation = paths[path][method]
        assert {"404", "422"} <= set(operation["responses"]), path
    assert "409" in paths["/api/v1/meters/{key}/readings/edits"]["post"]["responses"]


def test_with_authentication_the_editor_is_the_principal_and_roles_decide(
    database_url: str,
) -> None:
    keys = provision(database_url)
    settings = Settings(database_url=database_url, jwt_secret=JWT_SECRET, secret_key=SECRET_KEY)
    with running_hub(settings) as (hub, base):
        for tenant in ("a", "b"):
            answer = hub.pipeline.process(
                Inbound(readings_message("M-1", {KWH: day()}), tenant, "test")
            )
            assert answer.result.value == "OK", answer.body

        def as_(name: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {keys[name]}"}

        url = f"{base}/api/v1/meters/M-1/readings/edits"
        body = {"reading_type": KWH, "reason": "display read", "readings": [
            {"ts": TS[SPIKE], "value": 0.4}]}  # fmt: skip
        done = httpx.post(url, json=body, headers=as_("op-a"))
        assert done.status_code == 200, done.text
        assert done.json()["user"] == "op-a"
        other = httpx.post(url, json={**body, "user": "op-17"}, headers=as_("op-a"))
        assert other.status_code == 422 and "op-a" in other.json()["detail"]
        assert httpx.post(url, json=body, headers=as_("ro-a")).status_code == 403
        assert httpx.post(url, json={**body, "user": "x"}).status_code == 401
        history = httpx.get(
            f"{base}/api/v1/meters/M-1/readings/{KWH}/{TS[SPIKE]}/versions", headers=as_("ro-a")
        ).json()
        assert [(v["user"], v["value"]) for v in history["validated"]][-1] == ("op-a", 0.4)
        mine = httpx.get(f"{base}/api/v1/vee/findings", headers=as_("ro-a")).json()["items"]
        theirs = httpx.get(f"{base}/api/v1/vee/findings", headers=as_("ro-b")).json()["items"]
        assert mine and theirs and not {f["id"] for f in mine} & {f["id"] for f in theirs}
        for finding in mine:
            response = httpx.get(f"{base}/api/v1/vee/findings/{finding['id']}", headers=as_("ro-b"))
            assert response.status_code == 404
        b_history = httpx.get(
            f"{base}/api/v1/meters/M-1/readings/{KWH}/{TS[SPIKE]}/versions", headers=as_("ro-b")
        ).json()
        assert [v["user"] for v in b_history["validated"]] == [""]  # b's M-1: VEE's only
        with hub.database.unit_of_work(hub=True) as uow:
            [entry] = [e for e in AuditLog(uow).entries(tenant="a") if e.action == "vee.edit"]
        assert entry.actor == "op-a" and '"user":"op-a"' in (entry.after or "")


def test_the_kind_of_an_edited_series_follows_its_reading_type() -> None:
    register = "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0"  # no measuring period: a register
    one = [{"ts": TS[0], "value": 1.0}]
    assert EditRequest(reading_type=KWH, reason="r", readings=one).series_kind == "interval"
    assert EditRequest(reading_type=register, reason="r", readings=one).series_kind == "register"
    asked = EditRequest(reading_type=register, kind="interval", reason="r", readings=one)
    assert asked.series_kind == "interval"


def test_an_edit_over_rest_goes_to_subscribers_as_changed(api: tuple[Hub, httpx.Client]) -> None:
    from cimhub.store.subscriptions import Subscription
    from cimhub.testing.bus import qualified_in
    from cimhub.testing.receiver import Receiver

    hub, client = api
    with Receiver() as receiver:
        assert hub.bus is not None
        hub.bus.put_subscription(
            Subscription("billing", "MeterReadings", ("changed",), receiver.url, tenant=A)
        )
        response = edit(client, readings=[{"ts": TS[SPIKE], "value": 0.35}])
        assert response.status_code == 200, response.text
        [body] = receiver.wait_for(1)
    got = qualified_in([body])
    assert got == {("M-1", KWH, TS[SPIKE]): (0.35, "3.7.0")}  # the edit, nothing else
    assert b"<msg:Verb>changed</msg:Verb>" in body or b">changed<" in body
