"""`cimhub tenant --approval-codes`, `cimhub control contact set|list` (audited)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cimhub.cli import main
from cimhub.store.audit import AuditLog
from cimhub.store.database import Database


def test_the_tenant_setting_and_approvers_contacts_are_set_listed_and_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("CIMHUB_DATABASE_URL", url)
    assert main(["tenant", "t1", "--approval-codes", "on"]) == 0
    assert capsys.readouterr().out == (
        "t1\tt1\tauto-register default\tapproval-codes on\ton-demand-stale-minutes default\n"
    )
    assert main(["control", "contact", "set", "ravi", "--to", "ravi@discom.example",
                 "--tenant", "t1"]) == 0  # fmt: skip
    assert main(["control", "contact", "set", "ravi", "--to", "+919812345678",
                 "--tenant", "t1"]) == 0  # fmt: skip
    assert main(["control", "contact", "set", "kiran", "--to", " ", "--tenant", "t1"]) == 2
    with pytest.raises(SystemExit, match="unknown tenant 'nope'"):
        main(["control", "contact", "list", "--tenant", "nope"])
    capsys.readouterr()
    assert main(["control", "contact", "list", "--tenant", "t1"]) == 0
    assert json.loads(capsys.readouterr().out) == {"ravi": "+919812345678"}

    database = Database(url)
    with database.unit_of_work(hub=True) as uow:
        entries = [(e.action, e.object, e.before, e.after) for e in AuditLog(uow).entries()]
    database.dispose()
    assert entries[-3:] == [
        ("tenant.configure", "tenant:t1", None, '{"approval_codes":true}'),
        ("approver.contact.set", "approver:ravi", None, '"ravi@discom.example"'),
        ("approver.contact.set", "approver:ravi", '"ravi@discom.example"', '"+919812345678"'),
    ]


def test_a_tenant_s_on_demand_staleness_threshold_is_set_shown_and_reset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("CIMHUB_DATABASE_URL", url)
    assert main(["tenant", "t1", "--on-demand-stale-minutes", "30"]) == 0
    assert capsys.readouterr().out.endswith("\ton-demand-stale-minutes 30\n")
    assert main(["tenant", "t1", "--on-demand-stale-minutes", "default"]) == 0
    assert capsys.readouterr().out.endswith("\ton-demand-stale-minutes default\n")
    for wrong in ("-5", "an hour"):
        with pytest.raises(SystemExit):
            main(["tenant", "t1", "--on-demand-stale-minutes", wrong])

    database = Database(url)
    with database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.get(uow.tenants.ensure("t1"))
        entries = [(e.action, e.after) for e in AuditLog(uow).entries()]
    database.dispose()
    assert tenant.on_demand_stale_minutes is None
    assert entries[-2:] == [
        ("tenant.configure", '{"on_demand_stale_minutes":30}'),
        ("tenant.configure", '{"on_demand_stale_minutes":null}'),
    ]
