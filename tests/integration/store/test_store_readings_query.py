"""Querying readings: (start, end] ranges, type filter, keyset paging, tenant isolation;
the validated layer's pages of both kinds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cimhub.domain.installation import Window
from cimhub.domain.reading import MeterRef, ReadingKind, Series
from cimhub.store import validated
from cimhub.store.database import Database
from cimhub.store.readings import TABLES, Bounds, StoredSeries, page_query
from cimhub.store.validated import Row, ValidatedRepository

INTERVAL = ReadingKind.INTERVAL
KWH = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
KVARH = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.73.0"
REGISTER_KWH = "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
DAY = int(datetime(2024, 1, 31, tzinfo=UTC).timestamp())  # crosses into February
TS = [DAY + 3_600 * (i + 1) for i in range(30)]


@pytest.fixture
def stored(db: Database, tenant_id: int) -> tuple[list[int], dict[str, int]]:
    """3 meters × 2 reading types × 30 hourly readings, value = meter*1000 + type*100 + i."""
    with db.unit_of_work(hub=True) as uow:
        meters = [
            m
            for m in uow.meters.resolve(
                tenant_id, [MeterRef(f"m-{i}") for i in range(3)], auto_register=True
            )
            if m
        ]
        types = uow.reading_types.ids_for([KWH, KVARH])
        items = [
            (
                m,
                rt,
                Series(
                    MeterRef(),
                    code,
                    INTERVAL,
                    TS,
                    [m * 1000 + rt * 100 + i for i in range(30)],
                    [""] * 30,
                ),
            )
            for m in meters
            for code, rt in types.items()
        ]
        uow.readings.save(tenant_id, INTERVAL, items, source="", message_log_id=None, received_at=0)
    return meters, types


def query(
    db: Database,
    tenant_id: int,
    meter_ids: list[int],
    *,
    types: list[int] | None = None,
    start: int | None = None,
    end: int | None = None,
    after: tuple[int, int, int] | None = None,
    limit: int = 10_000,
) -> list[StoredSeries]:
    with db.unit_of_work(hub=True) as uow:
        return uow.readings.query(
            tenant_id,
            INTERVAL,
            meter_ids=meter_ids,
            reading_type_ids=types,
            start=start,
            end=end,
            after=after,
            limit=limit,
        )


def test_start_is_exclusive_and_end_inclusive(
    db: Database, tenant_id: int, stored: tuple[list[int], dict[str, int]]
) -> None:
    meters, types = stored
    got = query(db, tenant_id, meters[:1], types=[types[KWH]], start=TS[4], end=TS[9])
    assert len(got) == 1
    assert got[0].timestamps == TS[5:10]
    assert got[0].values == [meters[0] * 1000 + types[KWH] * 100 + i for i in range(5, 10)]
    assert query(db, tenant_id, meters[:1], start=TS[-1]) == []
    open_start = query(db, tenant_id, meters[:1], types=[types[KWH]], end=TS[2])
    assert open_start[0].timestamps == TS[:3]


def test_reading_type_filter_and_ordering(
    db: Database, tenant_id: int, stored: tuple[list[int], dict[str, int]]
) -> None:
    meters, types = stored
    only_kvarh = query(db, tenant_id, meters, types=[types[KVARH]])
    assert [(s.meter_id, s.reading_type_id) for s in only_kvarh] == [
        (m, types[KVARH]) for m in sorted(meters)
    ]
    everything = query(db, tenant_id, meters)
    assert [(s.meter_id, s.reading_type_id) for s in everything] == sorted(
        (m, rt) for m in meters for rt in types.values()
    )
    assert all(s.timestamps == TS and s.versions == [1] * 30 for s in everything)
    assert query(db, tenant_id, meters, types=[]) == []
    assert query(db, tenant_id, []) == []


def test_a_period_inside_the_data_without_a_type_filter_is_every_type_of_that_period(
    db: Database, tenant_id: int, stored: tuple[list[int], dict[str, int]]
) -> None:
    """No type asked: each meter's types, each cut to the period (across the month's end)."""
    meters, types = stored
    got = query(db, tenant_id, meters[1:], start=TS[10], end=TS[25])
    assert [(s.meter_id, s.reading_type_id) for s in got] == sorted(
        (m, rt) for m in meters[1:] for rt in types.values()
    )
    for s in got:
        assert s.timestamps == TS[11:26]
        assert s.values == [s.meter_id * 1000 + s.reading_type_id * 100 + i for i in range(11, 26)]


def test_keyset_paging_returns_every_reading_exactly_once(
    db: Database, tenant_id: int, stored: tuple[list[int], dict[str, int]]
) -> None:
    meters, _ = stored
    seen: list[tuple[int, int, int, float]] = []
    after = None
    pages = 0
    while True:
        page = query(db, tenant_id, meters, start=TS[0], after=after, limit=7)
        if not page:
            break
        pages += 1
        rows = [
            (s.meter_id, s.reading_type_id, ts, v)
            for s in page
            for ts, v in zip(s.timestamps, s.values, strict=True)
        ]
        assert len(rows) <= 7
        seen += rows
        after = rows[-1][:3]
    expected = [
        (m, rt, TS[i], m * 1000 + rt * 100 + i)
        for m in sorted(meters)
        for rt in sorted(stored[1].values())
        for i in range(1, 30)
    ]
    assert seen == expected
    assert pages == -(-len(expected) // 7)


def test_one_statement_serves_every_query_of_its_shape(
    db: Database, tenant_id: int, stored: tuple[list[int], dict[str, int]]
) -> None:
    """Built once per shape, its values bound at execution: a later query of the same
    shape reuses it and answers for its own meters and period, never the first one's."""
    meters, types = stored
    sources = ((TABLES[INTERVAL][0], INTERVAL),)

    def statement(bounds: Bounds) -> object:
        return page_query(sources, bounds, None, 10, tenant_id, db.dialect, kind_column=False)[0]

    one = statement(Bounds(meters[:1], [types[KWH]], TS[0], TS[3], None))
    assert statement(Bounds(meters[1:], [types[KVARH]], TS[5], TS[9], None)) is one
    assert statement(Bounds(meters, None, TS[5], TS[9], None)) is not one  # another shape
    windowed = Bounds(meters, None, None, None, {meters[0]: [Window(TS[0], TS[2])]})
    assert statement(windowed) is not statement(windowed)  # windows carry their own bounds

    first = query(db, tenant_id, meters[:1], types=[types[KWH]], start=TS[0], end=TS[3])
    later = query(db, tenant_id, meters[1:], types=[types[KVARH]], start=TS[5], end=TS[9])
    assert [(s.meter_id, s.timestamps) for s in first] == [(meters[0], TS[1:4])]
    assert [(s.meter_id, s.reading_type_id, s.timestamps) for s in later] == [
        (m, types[KVARH], TS[6:10]) for m in sorted(meters[1:])
    ]


def test_a_tenant_sees_nothing_of_another_tenants_readings(
    db: Database, tenant_id: int, stored: tuple[list[int], dict[str, int]]
) -> None:
    meters, types = stored
    with db.unit_of_work(hub=True) as uow:
        other = uow.tenants.ensure("discom-b")
        assert uow.readings.count(other, INTERVAL) == 0
        assert uow.readings.count(tenant_id, INTERVAL) == 180
        assert uow.readings.versions(other, INTERVAL, meters[0], types[KWH], TS[0]) == []
    assert query(db, other, meters) == []


def test_the_validated_layer_pages_both_kinds_from_one_scan(
    db: Database, tenant_id: int, stored: tuple[list[int], dict[str, int]]
) -> None:
    """Interval and register readings share the validated layer: a first page reads it
    once and still returns every interval series before any register one; pages cut
    anywhere resume without losing or repeating a reading."""
    meters, types = stored
    with db.unit_of_work(hub=True) as uow:
        register = uow.reading_types.ids_for([REGISTER_KWH])[REGISTER_KWH]
        rows = [
            Row(m, types[KWH], ts, "interval", float(i), "1.0.0", "", "", "", "", "1")
            for m in meters[:2]
            for i, ts in enumerate(TS[:4])
        ] + [
            Row(m, register, ts, "register", 100.0 + i, "1.0.0", "", "", "", "", "1")
            for m in meters[:2]
            for i, ts in enumerate(TS[:2])
        ]
        ValidatedRepository(uow).apply(tenant_id, rows, now=1)
    kinds = (INTERVAL, ReadingKind.REGISTER)
    first, _ = page_query(
        tuple((validated.CURRENT, k) for k in kinds),
        Bounds(meters, None, None, None, None),
        None,
        10,
        tenant_id,
        db.dialect,
        kind_column=True,
    )
    assert str(first).count("FROM validated_reading") == 1

    def page(
        after: tuple[int, int, int] | None, kinds: tuple[ReadingKind, ...], limit: int
    ) -> dict[ReadingKind, list[StoredSeries]]:
        with db.unit_of_work(hub=True) as uow:
            return ValidatedRepository(uow).query_kinds(
                tenant_id,
                kinds,
                meter_ids=meters,
                reading_type_ids=None,
                start=None,
                end=None,
                after=after,
                limit=limit,
            )

    whole = page(None, kinds, 100)
    assert [(s.meter_id, s.values) for s in whole[INTERVAL]] == [
        (m, [0.0, 1.0, 2.0, 3.0]) for m in sorted(meters[:2])
    ]
    assert [(s.meter_id, s.values) for s in whole[ReadingKind.REGISTER]] == [
        (m, [100.0, 101.0]) for m in sorted(meters[:2])
    ]
    cut = page(None, kinds, 10)  # all 8 interval readings, then 2 of the 4 register ones
    assert sum(len(s.values) for s in cut[INTERVAL]) == 8
    assert [(s.meter_id, s.values) for s in cut[ReadingKind.REGISTER]] == [
        (min(meters[:2]), [100.0, 101.0])
    ]
    short = page(None, kinds, 3)  # inside the interval readings: no register one yet
    assert [s.values for s in short[INTERVAL]] == [[0.0, 1.0, 2.0]]
    assert short[ReadingKind.REGISTER] == []
    resumed = page((min(meters[:2]), types[KWH], TS[2]), kinds, 100)
    assert [s.values for s in resumed[INTERVAL]] == [[3.0], [0.0, 1.0, 2.0, 3.0]]
    assert len(resumed[ReadingKind.REGISTER]) == 2
