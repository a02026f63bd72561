"""Audited actions: an operator's edit of validated readings, credential changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from cimhub.store.security import Security
from cimhub.testing.messages import created_meter_readings
from cimhub.testing.security import Secured, as_change

DAY = datetime(2026, 11, 20, tzinfo=UTC)


def test_an_edit_of_validated_readings_is_audited_with_its_principal(secured: Secured) -> None:
    url, xml = f"{secured.base}/cim", {"Content-Type": "application/xml"}
    hes = {**xml, "Authorization": f"Bearer {secured.keys['hes-a']}"}
    operator = {**xml, "Authorization": f"Bearer {secured.keys['op-a']}"}
    assert httpx.post(url, content=created_meter_readings([1], DAY, 4), headers=hes).is_success
    edit = as_change(created_meter_readings([1], DAY, 4), "op-17", "site visit")
    reply = httpx.post(url, content=edit, headers=operator)
    assert reply.status_code == 200, reply.text
    with secured.hub.database.unit_of_work(hub=True) as uow:
        audit = Security(uow).audit
        edits = [e for e in audit.entries(tenant="a") if e.action == "MeterReadings.change"]
        assert audit.verify() is None
    assert len(edits) == 1
    assert edits[0].actor == "op-a"
    after = json.loads(edits[0].after or "{}")
    assert (after["user"], after["reason"], after["edited"]) == ("op-17", "site visit", 4)


def test_credential_and_user_changes_are_audited(secured: Secured) -> None:
    with secured.hub.database.unit_of_work(hub=True) as uow:
        actions = [(e.action, e.tenant) for e in Security(uow).audit.entries()]
    assert ("credential.create", "a") in actions and ("credential.create", "b") in actions
    assert ("user.create", "a") in actions


def test_a_master_data_change_is_audited(secured: Secured) -> None:
    from importlib import resources

    body = (resources.files("cimhub") / "cim/messages/MeterConfig/create-2-meters.xml").read_bytes()
    headers = {"Content-Type": "application/xml", "Authorization": f"Bearer {secured.keys['op-a']}"}
    reply = httpx.post(f"{secured.base}/cim", content=body, headers=headers)
    assert reply.status_code == 200, reply.text
    with secured.hub.database.unit_of_work(hub=True) as uow:
        entries = [e for e in Security(uow).audit.entries(tenant="a") if e.actor == "op-a"]
    assert [e.action for e in entries if e.action.startswith("MeterConfig")] == [
        "MeterConfig.create"
    ]
    assert "2 meters" in json.loads(entries[-1].after or "{}")["summary"]


def test_subscription_changes_are_audited_without_their_credentials(secured: Secured) -> None:
    body = {
        "noun": "MeterReadings",
        "address": "http://127.0.0.1:9/cim",
        "credentials": "billing:s3cret-of-billing",
    }
    headers = {"Authorization": f"Bearer {secured.keys['op-a']}"}
    url = f"{secured.base}/api/v1/subscriptions/billing-a"
    assert httpx.put(url, json=body, headers=headers).status_code == 200
    assert httpx.delete(url, headers=headers).status_code == 204
    with secured.hub.database.unit_of_work(hub=True) as uow:
        entries = [e for e in Security(uow).audit.entries() if e.object == "subscription:billing-a"]
    assert [(e.action, e.actor, e.tenant) for e in entries] == [
        ("subscription.put", "credential:op-a", "a"),
        ("subscription.remove", "credential:op-a", "a"),
    ]
    assert "s3cret" not in (entries[0].after or "")
