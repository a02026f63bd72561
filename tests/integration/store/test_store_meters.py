"""Meters: bulk resolution by mRID or name, auto-registration, tenant isolation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from cimhub.domain.reading import MeterRef
from cimhub.store.database import Database
from cimhub.store.models import Meter, MeterName


@contextmanager
def counted_statements(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_auto_register_then_resolve_by_mrid_and_by_name(db: Database, tenant_id: int) -> None:
    refs = [MeterRef("m-1", ("SER-1",)), MeterRef(None, ("SER-2", "HES-2"))]
    with db.unit_of_work(hub=True) as uow:
        created = uow.meters.resolve(tenant_id, refs, auto_register=True)
    assert None not in created and created[0] != created[1]
    with db.unit_of_work(hub=True) as uow:
        assert uow.meters.find(tenant_id, [MeterRef("m-1")]) == [created[0]]
        assert uow.meters.find(tenant_id, [MeterRef(None, ("SER-1",))]) == [created[0]]
        assert uow.meters.find(tenant_id, [MeterRef(None, ("HES-2",))]) == [created[1]]
        # an unknown mRID still matches by one of its names
        assert uow.meters.find(tenant_id, [MeterRef("other", ("SER-2",))]) == [created[1]]
        described = uow.meters.describe(tenant_id, created)
        rows = uow.session.execute(
            select(Meter.auto_registered, MeterName.name_type).join(
                MeterName, MeterName.meter_id == Meter.id
            )
        ).all()
    assert described[created[0]] == MeterRef("m-1", ("SER-1",))
    assert described[created[1]].names == ("SER-2", "HES-2")
    assert len(described[created[1]].mrid or "") == 36  # a uuid4 was given
    assert set(rows) == {(True, "name")}


def test_unknown_meters_are_none_without_auto_register(db: Database, tenant_id: int) -> None:
    with db.unit_of_work(hub=True) as uow:
        known = uow.meters.resolve(tenant_id, [MeterRef("m-1")], auto_register=True)[0]
        got = uow.meters.resolve(
            tenant_id,
            [MeterRef("m-1"), MeterRef("nope"), MeterRef(None, ("no-name",))],
            auto_register=False,
        )
        assert got == [known, None, None]
        assert uow.meters.find(tenant_id, [MeterRef("new")]) == [None]
        assert uow.session.scalar(select(func.count()).select_from(Meter)) == 1


def test_repeated_refs_in_one_batch_make_one_meter(db: Database, tenant_id: int) -> None:
    refs = [MeterRef("m-1"), MeterRef(None, ("S",)), MeterRef("m-1"), MeterRef(None, ("S",))]
    with db.unit_of_work(hub=True) as uow:
        ids = uow.meters.resolve(tenant_id, refs, auto_register=True)
        assert ids[0] == ids[2] and ids[1] == ids[3] and ids[0] != ids[1]
        assert uow.session.scalar(select(func.count()).select_from(Meter)) == 2


def test_find_costs_one_query_whatever_the_number_of_refs(db: Database, tenant_id: int) -> None:
    refs = [MeterRef(f"m-{i}", (f"S-{i}",)) for i in range(2_000)]
    with db.unit_of_work(hub=True) as uow:
        uow.meters.resolve(tenant_id, refs, auto_register=True)
    with db.unit_of_work(hub=True) as uow, counted_statements(db) as statements:
        ids = uow.meters.find(tenant_id, [*refs[:1000], MeterRef(None, ("S-1500",))])
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert None not in ids and len(set(ids)) == 1001


def test_tenants_do_not_see_each_others_meters(db: Database, tenant_id: int) -> None:
    with db.unit_of_work(hub=True) as uow:
        other = uow.tenants.ensure("discom-b")
        mine = uow.meters.resolve(tenant_id, [MeterRef("m-1", ("S-1",))], auto_register=True)
        assert uow.meters.find(other, [MeterRef("m-1"), MeterRef(None, ("S-1",))]) == [None, None]
        assert uow.meters.describe(other, mine) == {}
        # the same mRID and name are free to use in another tenant
        theirs = uow.meters.resolve(other, [MeterRef("m-1", ("S-1",))], auto_register=True)
    assert theirs != mine and None not in theirs


def test_a_rolled_back_registration_leaves_no_meter(db: Database, tenant_id: int) -> None:
    with pytest.raises(RuntimeError, match="handler failed"), db.unit_of_work(hub=True) as uow:
        uow.meters.resolve(tenant_id, [MeterRef("m-1", ("S-1",))], auto_register=True)
        raise RuntimeError("handler failed")
    with db.unit_of_work(hub=True) as uow:
        assert uow.meters.find(tenant_id, [MeterRef("m-1"), MeterRef(None, ("S-1",))]) == [
            None,
            None,
        ]
