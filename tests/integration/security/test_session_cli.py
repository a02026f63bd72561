"""`cimhub session list | revoke | limit` and `cimhub user unlock` against a real store,
and what a login leaves in the logs (never its password or token)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from cimhub.cli import main
from cimhub.domain.session import Failures
from cimhub.endpoints.logins import Logins
from cimhub.settings import Settings
from cimhub.store.database import Database
from cimhub.store.security import Security
from cimhub.store.sessions import Sessions
from cimhub.testing.security import PASSWORD, provision


@pytest.fixture
def logins(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Logins]:
    provision(database_url)
    monkeypatch.setenv("CIMHUB_DATABASE_URL", database_url)
    database = Database(database_url)

    def reading() -> object:
        return database.unit_of_work(hub=True)

    yield Logins(Settings(database_url=database_url), database, reading)  # type: ignore[arg-type]
    database.dispose()


def login(logins: Logins) -> str:
    member = logins.password("asha", PASSWORD, "127.0.0.1", "a")
    assert member is not None
    return logins.open(member, "127.0.0.1").token


def test_sessions_are_listed_and_revoked_from_the_cli(
    logins: Logins, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = login(logins), login(logins)
    capsys.readouterr()
    assert main(["session", "list", "--tenant", "a"]) == 0
    listing = capsys.readouterr().out
    assert first.split(".")[0] in listing and second.split(".")[0] in listing
    assert first not in listing  # the token itself never
    assert main(["session", "list", "--tenant", "b"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["session", "revoke", first.split(".")[0]]) == 0
    assert isinstance(logins.resolve(first), str)  # refused: ended
    assert main(["session", "revoke", first.split(".")[0]]) == 1  # no longer open
    assert main(["session", "revoke", "--user", "asha"]) == 0
    assert "revoked 1 session(s)" in capsys.readouterr().out
    assert isinstance(logins.resolve(second), str)
    assert main(["session", "revoke"]) == 2


def test_limits_are_set_per_tenant_and_role_from_the_cli(
    logins: Logins, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["session", "limit", "--tenant", "a", "1", "--on-limit", "refuse"]) == 0
    assert main(["session", "limit", "--tenant", "a", "2", "--role", "operator"]) == 0
    capsys.readouterr()
    assert main(["session", "limit", "--tenant", "a"]) == 0
    shown = capsys.readouterr().out
    assert "at the limit refuse" in shown and "(every role)\t1" in shown and "operator\t2" in shown
    assert main(["session", "limit", "--tenant", "zz", "1"]) == 1
    assert main(["session", "limit", "--tenant", "a", "1", "--role", "god"]) == 1


def test_user_unlock_lifts_the_lock(logins: Logins) -> None:
    database = logins.database
    with database.unit_of_work(hub=True) as uow:
        member = Security(uow).active_user("asha")
        assert member is not None
        user_id = member[0].id
        Sessions(uow).set_failures(
            user_id,
            uow.tenants.find("a") or 0,
            Failures(0, int(time.time()), int(time.time()) + 900),
        )
    assert logins.password("asha", PASSWORD, None) is None  # locked
    assert main(["user", "unlock", "asha"]) == 0
    assert logins.password("asha", PASSWORD, None) is not None
    assert main(["user", "unlock", "nobody"]) == 1


def test_a_login_logs_neither_its_password_nor_its_token(
    logins: Logins, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = login(logins)
    assert logins.password("asha", "not-the-password-XYZ", "127.0.0.1") is None
    assert isinstance(logins.resolve(token + "x"), str)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "asha" in logged  # the refusal was logged, by name
    for secret in (PASSWORD, "not-the-password-XYZ", token, token.split(".")[1]):
        assert secret not in logged
