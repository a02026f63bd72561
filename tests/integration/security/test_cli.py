"""`cimhub credential | user | role` and `cimhub serve`'s secure default, against a real store."""

from __future__ import annotations

import pytest

from cimhub.cli import listen_refusal, main
from cimhub.security_commands import auth_configured
from cimhub.settings import Settings
from cimhub.store.database import Database
from cimhub.store.security import Security


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("CIMHUB_JWT_SECRET", "CIMHUB_JWT_SECRET_FILE", "CIMHUB_JWT_PUBLIC_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CIMHUB_DATABASE_URL", database_url)
    assert main(["tenant", "a", "--name", "DISCOM A"]) == 0
    return database_url


def test_credential_create_prints_the_key_once_and_it_authenticates(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    args = ["credential", "create", "--tenant", "a", "--name", "hes-a", "--role", "HES system"]
    assert main([*args, "--allow", "10.0.0.0/8"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("ck_") and "." in key
    database = Database(env)
    with database.unit_of_work(hub=True) as uow:
        member = Security(uow).credential_by_key(key)
    database.dispose()
    assert member is not None
    assert (member.tenant, member.name, member.allow) == ("a", "hes-a", ("10.0.0.0/8",))
    assert "MeterReadings.created" in member.permissions
    assert main(["credential", "list"]) == 0
    listing = capsys.readouterr().out
    assert key.split(".")[0] in listing and key not in listing  # the secret is never shown
    assert main(["credential", "roles", key.split(".")[0], "--role", "read-only"]) == 0
    database = Database(env)
    with database.unit_of_work(hub=True) as uow:
        member = Security(uow).credential_by_key(key)
    database.dispose()
    assert member is not None and member.roles == frozenset({"read-only"})
    assert "MeterReadings.created" not in member.permissions
    assert main(["credential", "revoke", key.split(".")[0]]) == 0
    assert main(["credential", "list"]) == 0
    assert "revoked" in capsys.readouterr().out


def test_credential_with_an_unknown_role_or_tenant_is_refused(env: str) -> None:
    assert main(["credential", "create", "--tenant", "a", "--name", "x", "--role", "god"]) == 1
    assert main(["credential", "create", "--tenant", "zz", "--name", "x", "--role", "analyst"]) == 1


def test_user_create_reads_the_password_from_the_environment(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CIMHUB_NEW_PASSWORD", "a long enough password")
    assert main(["user", "create", "--tenant", "a", "--name", "asha", "--role", "operator"]) == 0
    assert main(["user", "list"]) == 0
    assert "asha\toperator\tactive" in capsys.readouterr().out
    database = Database(env)
    with database.unit_of_work(hub=True) as uow:
        assert Security(uow).user_by_password("asha", "a long enough password") is not None
        assert Security(uow).user_by_password("asha", "wrong") is None
    monkeypatch.setenv("CIMHUB_NEW_PASSWORD", "another long password")
    assert main(["user", "password", "asha"]) == 0
    with database.unit_of_work(hub=True) as uow:
        assert Security(uow).user_by_password("asha", "a long enough password") is None
        assert Security(uow).user_by_password("asha", "another long password") is not None
    assert main(["user", "roles", "asha", "--role", "analyst", "--role", "billing system"]) == 0
    assert main(["user", "roles", "nobody", "--role", "analyst"]) == 1
    assert main(["user", "disable", "asha"]) == 0
    with database.unit_of_work(hub=True) as uow:
        assert Security(uow).user_by_password("asha", "another long password") is None
    database.dispose()


def test_role_grant_and_revoke(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["role", "grant", "meter reader", "MeterReadings.get"]) == 0
    assert main(["role", "list"]) == 0
    assert "meter reader\tMeterReadings.get" in capsys.readouterr().out
    assert main(["role", "revoke", "meter reader", "MeterReadings.get"]) == 0
    assert main(["role", "revoke", "meter reader", "MeterReadings.get"]) == 1
    assert main(["audit", "verify"]) == 0


def test_serve_refuses_a_public_address_until_authentication_is_configured(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings()
    assert not auth_configured(settings)
    assert listen_refusal("0.0.0.0", auth_configured(settings))
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "refusing to listen" in capsys.readouterr().err
    assert main(["credential", "create", "--tenant", "a", "--name", "n", "--role", "analyst"]) == 0
    assert auth_configured(settings)
    assert listen_refusal("0.0.0.0", auth_configured(settings)) is None
    assert listen_refusal("127.0.0.1", False) is None


def test_a_jwt_key_alone_configures_authentication(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIMHUB_DATABASE_URL", "sqlite:////nonexistent/never.db")
    monkeypatch.setenv("CIMHUB_JWT_SECRET", "x" * 32)
    assert auth_configured(Settings())


def test_tenant_creation_and_settings_are_audited(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenant", "a", "--auto-register", "off"]) == 0
    capsys.readouterr()
    assert main(["audit", "list", "--tenant", "a"]) == 0
    listing = capsys.readouterr().out
    assert "tenant.create\ttenant:a" in listing and "tenant.configure\ttenant:a" in listing
