"""One-time codes for approvals, per tenant setting (seed 004, MP practice): asked for over
REST, sent through the notification sender to the approver's registered contact, bound to
the approver and the exact list, single use, with expiry and attempt limits; every step in
the audit chain. On both backends, through the file sender and a real SMTP exchange."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from cimhub.app import Hub
from cimhub.handlers.approval import Approvals
from cimhub.settings import Settings
from cimhub.store.approval_codes import ApprovalCodeRepository
from cimhub.store.approval_models import ApprovalCodeRow
from cimhub.store.audit import AuditLog
from cimhub.testing.commands import DISCONNECT, HEADERS, TENANT, command, control, seed_meters
from cimhub.testing.security import JWT_SECRET, SECRET_KEY, Secured, provision
from cimhub.testing.server import running_hub
from cimhub.testing.smtp import SmtpServer

JSON = {"X-Cimhub-Tenant": TENANT}
APPROVER = "anonymous"  # open loopback mode: every REST caller is "anonymous"
CONTACT = "control.centre@discom.example"


def configure(hub: Hub, tenant: str = TENANT, codes: bool | None = True, **contacts: str) -> None:
    """The tenant's setting and its approvers' contacts."""
    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(tenant)
        uow.tenants.configure(tenant_id, approval_codes=codes)
        for name, address in contacts.items():
            ApprovalCodeRepository(uow).set_contact(tenant_id, name, address, "test")


def disconnects(hub: Hub, base: str, tmp_path: Path, *mrids: str, user: str = "asha") -> None:
    seed_meters(hub, tmp_path, {f"M-{m}": "HES-X" for m in mrids})
    for mrid in mrids:
        reply = httpx.post(f"{base}/cim", content=control(mrid, DISCONNECT, f"M-{mrid}", user),
                           headers=HEADERS)  # fmt: skip
        assert ">awaiting_approval<" in reply.text, reply.text


def ask(base: str, *mrids: str, headers: dict[str, str] = JSON) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/commands/approval-codes", json={"mrids": list(mrids)},
                      headers=headers)  # fmt: skip


def approve(
    base: str, mrids: list[str], code: str | None, headers: dict[str, str] = JSON
) -> httpx.Response:
    body: dict[str, Any] = {"mrids": mrids} | ({"code": code} if code is not None else {})
    return httpx.post(f"{base}/api/v1/commands/approve", json=body, headers=headers)


def refused(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def sent_codes(path: Path) -> list[tuple[list[str], str]]:
    """(recipients, code) of every notification the file sender wrote."""
    notes = [json.loads(line) for line in path.read_text().splitlines()]
    return [(n["to"], re.match(r"(\d{6,10}) is your", n["body"]).group(1)) for n in notes]


def trail(hub: Hub) -> list[tuple[str, str, str | None]]:
    """(actor, action, refusal code) of the approval-code entries, the chain verified."""
    with hub.database.unit_of_work(hub=True) as uow:
        audit = AuditLog(uow)
        assert audit.verify() is None
        entries = [e for e in audit.entries() if e.action.startswith("approval.code.")]
    return [(e.actor, e.action, json.loads(e.after or "{}").get("code")) for e in entries]


@pytest.fixture
def codes_hub(serve: Callable[..., Any], tmp_path: Path) -> tuple[Hub, str, Path]:
    outbox = tmp_path / "notifications.jsonl"
    hub, base = serve(notify_url=f"file://{outbox}", default_tenant=TENANT)
    return hub, base, outbox


def test_a_disconnect_list_is_approved_with_the_code_sent_to_the_approver(
    codes_hub: tuple[Hub, str, Path], tmp_path: Path
) -> None:
    hub, base, outbox = codes_hub
    configure(hub, **{APPROVER: CONTACT})
    disconnects(hub, base, tmp_path, "D-1", "D-2")
    disconnects(hub, base, tmp_path, "D-3", user=APPROVER)  # the approver's own request

    assert refused(approve(base, ["D-1", "D-2"], None)) == (403, "3.10")
    asked = ask(base, "D-2", "D-1", "D-3")
    assert asked.status_code == 201, asked.text
    assert {k: v for k, v in asked.json().items() if k != "expires_at"} == {
        "id": asked.json()["id"],
        "mrids": ["D-1", "D-2", "D-3"],
        "sent_to": "c***@discom.example",
        "attempts": 3,
    }
    ((to, code),) = sent_codes(outbox)
    assert to == [CONTACT]
    wrong = "000000" if code != "000000" else "111111"

    assert refused(approve(base, ["D-1", "D-2"], code)) == (403, "3.15")  # not the list
    bad = approve(base, ["D-1", "D-2", "D-3"], wrong)
    assert refused(bad) == (403, "3.11") and "2 attempt(s) left" in bad.json()["detail"]
    assert command(base, "D-1")["state"] == "awaiting_approval"
    ok = approve(base, ["D-3", "D-2", "D-1", "D-2"], code)  # any order, repeats aside
    assert ok.status_code == 200, ok.text
    assert ok.json()["approved"] == ["D-2", "D-1"]
    assert [(r["mrid"], r["code"]) for r in ok.json()["refused"]] == [("D-3", "3.9"),
                                                                       ("D-2", "3.4")]  # fmt: skip
    assert refused(approve(base, ["D-1", "D-2", "D-3"], code)) == (403, "3.13")  # used
    assert [command(base, m)["state"] for m in ("D-1", "D-2", "D-3")] == [
        "sent", "sent", "awaiting_approval",
    ]  # fmt: skip
    assert trail(hub) == [
        (APPROVER, "approval.code.missing", "3.10"),
        (APPROVER, "approval.code.requested", None),
        (APPROVER, "approval.code.other-list", "3.15"),
        (APPROVER, "approval.code.wrong", "3.11"),
        (APPROVER, "approval.code.accepted", None),
        (APPROVER, "approval.code.reused", "3.13"),
    ]


def test_an_expired_code_and_one_voided_by_wrong_attempts_are_refused(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    outbox = tmp_path / "codes.jsonl"
    hub, base = serve(notify_url=f"file://{outbox}", approval_code_max_attempts=2)
    configure(hub, **{APPROVER: CONTACT})
    disconnects(hub, base, tmp_path, "D-4", "D-5")

    assert ask(base, "D-4").status_code == 201
    with hub.database.unit_of_work(hub=True) as uow:  # its five minutes are over
        uow.session.execute(update(ApprovalCodeRow).values(expires_at=0))
    ((_, code),) = sent_codes(outbox)
    assert refused(approve(base, ["D-4"], code)) == (403, "3.12")

    assert ask(base, "D-5").status_code == 201
    code = sent_codes(outbox)[-1][1]
    wrong = "000000" if code != "000000" else "111111"
    single = f"{base}/api/v1/commands/D-5/approve"
    assert refused(httpx.post(single, json={"code": wrong}, headers=JSON)) == (403, "3.11")
    assert refused(httpx.post(single, json={"code": wrong}, headers=JSON)) == (403, "3.14")
    assert refused(httpx.post(single, json={"code": code}, headers=JSON)) == (403, "3.14")
    assert refused(httpx.post(single, headers=JSON)) == (403, "3.10")

    assert ask(base, "D-5").status_code == 201  # a new code for the same list works
    approved = httpx.post(single, json={"code": sent_codes(outbox)[-1][1]}, headers=JSON)
    assert approved.status_code == 200 and approved.json()["state"] == "sent"
    assert [a for _, a, _ in trail(hub)][-6:] == [
        "approval.code.wrong", "approval.code.void", "approval.code.void",
        "approval.code.missing", "approval.code.requested", "approval.code.accepted",
    ]  # fmt: skip


def test_a_tenant_without_the_setting_keeps_one_step_approvals(
    codes_hub: tuple[Hub, str, Path], tmp_path: Path
) -> None:
    hub, base, outbox = codes_hub
    configure(hub, codes=None, **{APPROVER: CONTACT})  # the hub-wide default: off
    disconnects(hub, base, tmp_path, "D-6")
    assert refused(ask(base, "D-6")) == (409, "3.1")
    assert approve(base, ["D-6"], None).json() == {"approved": ["D-6"], "refused": []}
    assert not outbox.exists()
    assert trail(hub) == [(APPROVER, "approval.code.refused", "3.1")]


def test_no_contact_an_unknown_command_and_no_sender_are_refused_and_nothing_is_sent(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve(approval_codes=True)  # hub-wide on; no CIMHUB_NOTIFY_URL
    disconnects(hub, base, tmp_path, "D-7")
    configure(hub, codes=None)
    assert refused(ask(base, "D-7")) == (409, "3.16")
    configure(hub, codes=None, **{APPROVER: "+919812345678"})
    assert refused(ask(base, "D-7", "NOPE")) == (404, "2.15")
    assert refused(ask(base, "D-7")) == (503, "5.4")
    assert [c for *_, c in trail(hub)] == ["3.16", "2.15", "5.4"]


def test_the_code_goes_out_by_smtp_and_a_failing_mail_server_voids_it(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    with SmtpServer() as smtp:
        hub, base = serve(notify_url=f"smtp://127.0.0.1:{smtp.port}",
                          notify_from="cimhub@discom.example")  # fmt: skip
        configure(hub, **{APPROVER: CONTACT})
        disconnects(hub, base, tmp_path, "D-8")
        assert ask(base, "D-8").status_code == 201
        (mail,) = smtp.wait_for(1)
    assert (mail["To"], mail["From"]) == (CONTACT, "cimhub@discom.example")
    assert "one-time approval code" in mail["Subject"]
    code = re.match(r"(\d{6}) is your", mail.get_payload(decode=True).decode()).group(1)
    assert code not in mail["Subject"]
    assert approve(base, ["D-8"], code).json() == {"approved": ["D-8"], "refused": []}

    # the mail server is gone now: the code cannot reach anyone and is void at once
    disconnects(hub, base, tmp_path, "D-9")
    failed = ask(base, "D-9")
    assert refused(failed) == (503, "5.4")
    assert refused(approve(base, ["D-9"], "123456")) == (403, "3.12")
    assert [a for _, a, _ in trail(hub)][-3:] == [
        "approval.code.requested", "approval.code.undelivered", "approval.code.expired",
    ]  # fmt: skip


@pytest.fixture
def secured(database_url: str, tmp_path: Path) -> Iterator[tuple[Secured, Path]]:
    keys = provision(database_url)
    outbox = tmp_path / "codes.jsonl"
    settings = Settings(database_url=database_url, jwt_secret=JWT_SECRET, secret_key=SECRET_KEY,
                        notify_url=f"file://{outbox}")  # fmt: skip
    with running_hub(settings) as (hub, base):
        yield Secured(hub, base, keys, settings), outbox


def test_a_code_is_bound_to_the_approver_who_asked_for_it(
    secured: tuple[Secured, Path], tmp_path: Path
) -> None:
    server, outbox = secured
    hub, base = server.hub, server.base

    def as_(sub: str, role: str = "field supervisor") -> dict[str, str]:
        return {"Authorization": f"Bearer {server.token(sub=sub, roles=[role])}"}

    configure(hub, tenant="a", ravi="ravi@discom.example", kiran="kiran@discom.example")
    seed_meters(hub, tmp_path, {"M-B1": "HES-X"}, tenant="a")
    xml = {"Content-Type": "application/xml", **as_("meera", "operator")}
    created = httpx.post(f"{base}/cim", content=control("D-B1", DISCONNECT, "M-B1"), headers=xml)
    assert ">awaiting_approval<" in created.text, created.text

    assert refused(ask(base, "D-B1", headers=as_("ravi", "operator"))) == (403, "6.2")
    assert ask(base, "D-B1", headers=as_("ravi")).status_code == 201
    ((to, code),) = sent_codes(outbox)
    assert to == ["ravi@discom.example"]
    assert refused(approve(base, ["D-B1"], code, headers=as_("kiran"))) == (403, "3.10")
    ok = approve(base, ["D-B1"], code, headers=as_("ravi"))
    assert ok.json() == {"approved": ["D-B1"], "refused": []}
    with hub.database.unit_of_work(hub=True) as uow:
        actors = [(e.actor, e.action) for e in AuditLog(uow).entries(tenant="a")]
    assert ("kiran", "approval.code.missing") in actors
    assert actors.index(("ravi", "approval.code.accepted")) < actors.index(
        ("ravi", "command.approved")
    )


def test_an_approver_may_ask_for_only_so_many_codes_in_a_window(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    """Two codes per window here: the third request is 429 (6.3) with Retry-After, and
    audited; with one wrong try per code, two voided codes leave no third — the guesses
    are bounded. Once the codes have left the window, a new one is issued."""
    outbox = tmp_path / "codes.jsonl"
    hub, base = serve(notify_url=f"file://{outbox}", default_tenant=TENANT,
                      approval_code_requests=2, approval_code_max_attempts=1)  # fmt: skip
    configure(hub, **{APPROVER: CONTACT})
    disconnects(hub, base, tmp_path, "D-L1")
    single = f"{base}/api/v1/commands/D-L1/approve"
    for _ in range(2):
        assert ask(base, "D-L1").status_code == 201
        code = sent_codes(outbox)[-1][1]
        wrong = "000000" if code != "000000" else "111111"
        assert refused(httpx.post(single, json={"code": wrong}, headers=JSON)) == (403, "3.14")

    limited = ask(base, "D-L1")
    assert refused(limited) == (429, "6.3")
    assert limited.headers["content-type"] == "application/problem+json"
    assert 1 <= int(limited.headers["Retry-After"]) <= 900
    assert "at most 2" in limited.json()["detail"]
    assert len(sent_codes(outbox)) == 2  # nothing sent
    assert refused(httpx.post(single, json={"code": code}, headers=JSON)) == (403, "3.14")
    assert command(base, "D-L1")["state"] == "awaiting_approval"

    with hub.database.unit_of_work(hub=True) as uow:  # the window has passed
        uow.session.execute(
            update(ApprovalCodeRow).values(created_at=ApprovalCodeRow.created_at - 900)
        )
    assert ask(base, "D-L1").status_code == 201
    approved = httpx.post(single, json={"code": sent_codes(outbox)[-1][1]}, headers=JSON)
    assert approved.status_code == 200 and approved.json()["state"] == "sent"
    assert trail(hub) == [
        (APPROVER, "approval.code.requested", None),
        (APPROVER, "approval.code.void", "3.14"),
        (APPROVER, "approval.code.requested", None),
        (APPROVER, "approval.code.void", "3.14"),
        (APPROVER, "approval.code.rate-limited", "6.3"),
        (APPROVER, "approval.code.void", "3.14"),
        (APPROVER, "approval.code.requested", None),
        (APPROVER, "approval.code.accepted", None),
    ]


def test_the_code_request_limit_is_per_approver_and_per_tenant(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    """One code per window: ravi's limit in t1 leaves kiran in t1 and ravi in t2 free."""
    outbox = tmp_path / "codes.jsonl"
    hub, base = serve(notify_url=f"file://{outbox}", approval_code_requests=1)
    for tenant in (TENANT, "t2"):
        configure(hub, tenant=tenant, ravi="ravi@discom.example", kiran="kiran@discom.example")
        seed_meters(hub, tmp_path, {f"M-{tenant}": "HES-X"}, tenant=tenant)
        headers = {**HEADERS, "X-Cimhub-Tenant": tenant}
        reply = httpx.post(f"{base}/cim", content=control(f"D-{tenant}", DISCONNECT,
                           f"M-{tenant}"), headers=headers)  # fmt: skip
        assert ">awaiting_approval<" in reply.text, reply.text

    def ask_as(approver: str, tenant: str) -> str | None:
        """None when a code was issued, else the refusal's code."""
        with hub.database.unit_of_work(hub=True) as uow:
            tenant_id = uow.tenants.ensure(tenant)
            out = Approvals(uow, hub.settings).ask(tenant_id, approver, [f"D-{tenant}"])
        return out.error.code if out.error is not None else None

    assert ask_as("ravi", TENANT) is None
    assert ask_as("ravi", TENANT) == "6.3"
    assert ask_as("kiran", TENANT) is None
    assert ask_as("ravi", "t2") is None
    assert ask_as("kiran", TENANT) == "6.3"
    with hub.database.unit_of_work(hub=True) as uow:
        limited = [(e.actor, e.tenant) for e in AuditLog(uow).entries()
                   if e.action == "approval.code.rate-limited"]  # fmt: skip
    assert sorted(limited) == [("kiran", TENANT), ("ravi", TENANT)]
