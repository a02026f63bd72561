"""Tenants and reading types: get-or-create, decoded, cached only once committed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cimhub.errors import InvalidValueError
from cimhub.store.database import Database
from cimhub.store.models import ReadingType, Tenant

KWH_15MIN = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
KVARH_REGISTER = "0.0.0.9.19.1.12.0.0.0.0.1.0.0.0.3.73.0"


def test_tenant_ensure_is_get_or_create(db: Database) -> None:
    with db.unit_of_work(hub=True) as uow:
        first = uow.tenants.ensure("discom-a", "DISCOM A")
        assert uow.tenants.ensure("discom-a") == first
    with db.unit_of_work(hub=True) as uow:
        assert uow.tenants.ensure("discom-a") == first
        assert uow.tenants.ensure("discom-b") != first
        names = dict(uow.session.execute(select(Tenant.code, Tenant.name)).all())
    assert names == {"discom-a": "DISCOM A", "discom-b": "discom-b"}


def test_a_rolled_back_tenant_is_not_cached(db: Database) -> None:
    with pytest.raises(RuntimeError), db.unit_of_work(hub=True) as uow:
        uow.tenants.ensure("ghost")
        raise RuntimeError
    with db.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure("ghost")
        assert uow.session.get(Tenant, tenant_id) is not None


def test_reading_types_are_decoded(db: Database) -> None:
    with db.unit_of_work(hub=True) as uow:
        ids = uow.reading_types.ids_for([KWH_15MIN, KVARH_REGISTER, KWH_15MIN])
        kwh = uow.session.get(ReadingType, ids[KWH_15MIN])
        kvarh = uow.session.get(ReadingType, ids[KVARH_REGISTER])
    assert kwh is not None and kvarh is not None
    assert (kwh.code, kwh.macro_period, kwh.measuring_period, kwh.interval_seconds) == (
        KWH_15MIN,
        0,
        2,
        900,
    )
    assert (kwh.accumulation, kwh.flow_direction, kwh.commodity, kwh.measurement_kind) == (
        4,
        1,
        1,
        12,
    )
    assert (kwh.multiplier, kwh.unit, kwh.unit_symbol, kwh.tou, kwh.phases) == (3, 72, "kWh", 0, 0)
    assert (
        kvarh.accumulation,
        kvarh.flow_direction,
        kvarh.tou,
        kvarh.interval_seconds,
        kvarh.unit_symbol,
    ) == (9, 19, 1, 0, "kVArh")


def test_reading_type_ids_are_stable_and_reversible(db: Database) -> None:
    with db.unit_of_work(hub=True) as uow:
        ids = uow.reading_types.ids_for([KWH_15MIN])
    with db.unit_of_work(hub=True) as uow:
        assert uow.reading_types.ids_for([KWH_15MIN, KVARH_REGISTER])[KWH_15MIN] == ids[KWH_15MIN]
        assert uow.reading_types.codes_for([ids[KWH_15MIN], 999_999]) == {ids[KWH_15MIN]: KWH_15MIN}
        assert uow.session.scalar(select(func.count()).select_from(ReadingType)) == 2


def test_find_ids_never_creates(db: Database) -> None:
    with db.unit_of_work(hub=True) as uow:
        assert uow.reading_types.find_ids([KWH_15MIN]) == {}
        created = uow.reading_types.ids_for([KWH_15MIN])
        assert uow.reading_types.find_ids([KWH_15MIN, KVARH_REGISTER]) == created
        assert uow.session.scalar(select(func.count()).select_from(ReadingType)) == 1


def test_a_malformed_reading_type_is_an_invalid_value(db: Database) -> None:
    with pytest.raises(InvalidValueError), db.unit_of_work(hub=True) as uow:
        uow.reading_types.ids_for(["0.0.2.4"])


def test_a_rolled_back_reading_type_is_not_cached(db: Database) -> None:
    with pytest.raises(RuntimeError), db.unit_of_work(hub=True) as uow:
        uow.reading_types.ids_for([KWH_15MIN])
        raise RuntimeError
    with db.unit_of_work(hub=True) as uow:
        rt_id = uow.reading_types.ids_for([KWH_15MIN])[KWH_15MIN]
        assert uow.session.get(ReadingType, rt_id) is not None
