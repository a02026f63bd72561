"""The audit log is a hash chain: it verifies, any edited or removed row is found, and
concurrent writers never fork it."""

from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import text

from cimhub.cli import main
from cimhub.store.database import Database
from cimhub.store.security import Security


@pytest.fixture
def database(database_url: str) -> Database:
    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()


def record(database: Database, n: int, actor: str = "test") -> None:
    with database.unit_of_work(hub=True) as uow:
        audit = Security(uow).audit
        for i in range(n):
            audit.record(actor, "thing.change", f"thing:{i}", tenant="a",
                         before={"v": i}, after={"v": i + 1})  # fmt: skip


def verify(database: Database):
    with database.unit_of_work(hub=True) as uow:
        return Security(uow).audit.verify()


def test_an_untouched_chain_verifies(database: Database) -> None:
    record(database, 5)
    assert verify(database) is None
    with database.unit_of_work(hub=True) as uow:
        entries = Security(uow).audit.entries()
    assert [e.id for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].before == '{"v":0}' and entries[0].after == '{"v":1}'
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))


@pytest.mark.parametrize(
    ("statement", "broken_at"),
    [
        ("UPDATE audit_log SET after = 'changed' WHERE id = 3", 3),
        ("UPDATE audit_log SET actor = 'mallory' WHERE id = 1", 1),
        ("DELETE FROM audit_log WHERE id = 2", 2),
        ("DELETE FROM audit_log WHERE id = 5", 4),  # cut at the end: the head knows
    ],
    ids=["edited-after", "edited-actor", "removed-middle", "removed-last"],
)
def test_a_tampered_row_is_found(database: Database, statement: str, broken_at: int) -> None:
    record(database, 5)
    with database.engine.begin() as connection:
        connection.execute(text(statement))
    broken = verify(database)
    assert broken is not None
    assert broken.entry_id == broken_at


def test_cli_audit_verify_exits_1_on_a_tampered_chain(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CIMHUB_DATABASE_URL", database.url)
    record(database, 3)
    assert main(["audit", "verify"]) == 0
    assert "intact: 3 entries" in capsys.readouterr().out
    assert main(["audit", "list"]) == 0
    assert "thing:2" in capsys.readouterr().out
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET object = 'thing:x' WHERE id = 2"))
    assert main(["audit", "verify"]) == 1
    assert "BROKEN at entry 2" in capsys.readouterr().err


def test_concurrent_writers_do_not_fork_the_chain(database: Database) -> None:
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for _ in range(10):
                record(database, 2, actor=name)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert verify(database) is None
    with database.unit_of_work(hub=True) as uow:
        assert [e.id for e in Security(uow).audit.entries()] == list(range(1, 81))
