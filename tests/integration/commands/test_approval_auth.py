"""With authentication: who may approve (EndDeviceControls.approve), and never their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cimhub.settings import Settings
from cimhub.store.audit import AuditLog
from cimhub.testing.commands import DISCONNECT, control, seed_meters
from cimhub.testing.security import JWT_SECRET, SECRET_KEY, Secured, provision
from cimhub.testing.server import running_hub

XML = {"Content-Type": "application/xml"}


@pytest.fixture
def secured(database_url: str) -> Iterator[Secured]:
    keys = provision(database_url)
    settings = Settings(database_url=database_url, jwt_secret=JWT_SECRET, secret_key=SECRET_KEY)
    with running_hub(settings) as (hub, base):
        yield Secured(hub, base, keys, settings)


def auth(secured: Secured, sub: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secured.token(sub=sub, roles=[role])}"}


def test_only_a_second_person_holding_the_approve_permission_approves(
    secured: Secured, tmp_path: Path
) -> None:
    seed_meters(secured.hub, tmp_path, {"M-A1": "HES-X"}, tenant="a")
    asked = httpx.post(f"{secured.base}/cim", content=control("D-A1", DISCONNECT, "M-A1"),
                       headers={**XML, **auth(secured, "meera", "operator")})  # fmt: skip
    assert ">awaiting_approval<" in asked.text, asked.text
    url = f"{secured.base}/api/v1/commands/D-A1"

    operator = httpx.post(url + "/approve", headers=auth(secured, "ravi", "operator"))
    assert (operator.status_code, operator.json()["code"]) == (403, "6.2")
    herself = httpx.post(url + "/approve", headers=auth(secured, "meera", "field supervisor"))
    assert (herself.status_code, herself.json()["code"]) == (403, "3.9")
    nobody = httpx.post(url + "/approve")
    assert nobody.status_code == 401

    approved = httpx.post(url + "/approve", headers=auth(secured, "ravi", "field supervisor"))
    assert approved.status_code == 200, approved.text
    moves = [(t["state"], t["actor"]) for t in approved.json()["transitions"]]
    assert moves[0] == ("requested", "meera") and ("approved", "ravi") in moves

    read_only = {"Authorization": f"Bearer {secured.keys['ro-a']}"}
    assert httpx.get(url, headers=read_only).json()["state"] == "sent"
    refused = httpx.post(url + "/cancel", headers=read_only)
    assert (refused.status_code, refused.json()["code"]) == (403, "6.2")
    other_tenant = {"Authorization": f"Bearer {secured.keys['ro-b']}"}
    assert httpx.get(url, headers=other_tenant).status_code == 404

    with secured.hub.database.unit_of_work(hub=True) as uow:  # every move is in the audit chain
        audit = AuditLog(uow)
        trail = [(e.actor, e.action) for e in audit.entries() if e.object == "command:D-A1"]
        assert audit.verify() is None
    assert trail == [(actor, f"command.{state}") for state, actor in moves]
    assert trail[:3] == [
        ("meera", "command.requested"),
        ("cimhub", "command.awaiting_approval"),  # the hub's rule: disconnects wait
        ("ravi", "command.approved"),
    ]


def test_a_disconnect_list_is_approved_item_by_item_and_summarised(
    secured: Secured, tmp_path: Path
) -> None:
    seed_meters(secured.hub, tmp_path, {"M-L1": "HES-X", "M-L2": "HES-X"}, tenant="a")
    for mrid, meter, who in (("D-L1", "M-L1", "meera"), ("D-L2", "M-L2", "meera"),
                             ("D-L3", "M-L2", "ravi")):  # fmt: skip
        httpx.post(f"{secured.base}/cim", content=control(mrid, DISCONNECT, meter),
                   headers={**XML, **auth(secured, who, "field supervisor")})  # fmt: skip
    answer = httpx.post(
        f"{secured.base}/api/v1/commands/approve",
        json={"mrids": ["D-L1", "D-L2", "D-L3", "NOPE"]},
        headers=auth(secured, "ravi", "field supervisor"),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["approved"] == ["D-L1", "D-L2"]
    assert [(r["mrid"], r["code"]) for r in body["refused"]] == [("D-L3", "3.9"), ("NOPE", "2.15")]
    summary = httpx.get(f"{secured.base}/api/v1/commands/summary",
                        headers=auth(secured, "ravi", "analyst")).json()  # fmt: skip
    assert summary == {"kinds": {"disconnect": {"awaiting_approval": 1, "sent": 2}}, "total": 3}
