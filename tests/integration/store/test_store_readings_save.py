"""Saving readings: inserted, unchanged on re-send, versioned on change, never duplicated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from cimhub.domain.reading import MeterRef, ReadingKind, SaveCounts, Series
from cimhub.errors import InvalidValueError
from cimhub.store.database import Database

INTERVAL = ReadingKind.INTERVAL
KWH_15MIN = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
JAN_31 = int(datetime(2024, 1, 31, 22, 0, tzinfo=UTC).timestamp())
Item = tuple[int, int, Series]


def series(
    timestamps: list[int],
    values: list[float],
    qualities: list[str] | None = None,
) -> Series:
    return Series(
        MeterRef("m"),
        KWH_15MIN,
        INTERVAL,
        timestamps,
        values,
        qualities if qualities is not None else [""] * len(timestamps),
    )


@pytest.fixture
def ids(db: Database, tenant_id: int) -> tuple[int, int]:
    """(meter id, reading type id) of one meter."""
    with db.unit_of_work(hub=True) as uow:
        meter_id = uow.meters.resolve(tenant_id, [MeterRef("m-1")], auto_register=True)[0]
        assert meter_id is not None
        return meter_id, uow.reading_types.ids_for([KWH_15MIN])[KWH_15MIN]


def save(
    db: Database,
    tenant_id: int,
    items: list[Item],
    *,
    kind: ReadingKind = INTERVAL,
    source: str = "hes-a",
    received_at: int = 1_000,
) -> SaveCounts:
    with db.unit_of_work(hub=True) as uow:
        return uow.readings.save(
            tenant_id, kind, items, source=source, message_log_id=None, received_at=received_at
        )


def everything(
    db: Database,
    tenant_id: int,
    meter_id: int,
    kind: ReadingKind = INTERVAL,
) -> list[tuple[int, float, str, int]]:
    with db.unit_of_work(hub=True) as uow:
        stored = uow.readings.query(
            tenant_id,
            kind,
            meter_ids=[meter_id],
            reading_type_ids=None,
            start=None,
            end=None,
            after=None,
            limit=100_000,
        )
    return [
        row
        for s in stored
        for row in zip(s.timestamps, s.values, s.qualities, s.versions, strict=True)
    ]


def test_new_readings_are_inserted_as_version_1(
    db: Database, tenant_id: int, ids: tuple[int, int]
) -> None:
    ts = [JAN_31 + 900 * i for i in range(4)]
    counts = save(db, tenant_id, [(*ids, series(ts, [1.0, 2.25, 0.0, -4.5], ["", "", "x", ""]))])
    assert counts == SaveCounts(inserted=4)
    assert everything(db, tenant_id, ids[0]) == [
        (ts[0], 1.0, "", 1),
        (ts[1], 2.25, "", 1),
        (ts[2], 0.0, "x", 1),
        (ts[3], -4.5, "", 1),
    ]


def test_an_identical_resend_changes_nothing(
    db: Database, tenant_id: int, ids: tuple[int, int]
) -> None:
    batch = [(*ids, series([JAN_31, JAN_31 + 900], [1.122, 3.0]))]
    save(db, tenant_id, batch)
    before = everything(db, tenant_id, ids[0])
    assert save(db, tenant_id, batch, received_at=2_000) == SaveCounts(unchanged=2)
    assert everything(db, tenant_id, ids[0]) == before
    with db.unit_of_work(hub=True) as uow:
        assert uow.readings.count(tenant_id, INTERVAL) == 2
        assert uow.readings.versions(tenant_id, INTERVAL, *ids, JAN_31) == [
            (1, 1.122, "", "hes-a", 1_000)
        ]


def test_a_changed_value_becomes_version_2_and_keeps_version_1(
    db: Database, tenant_id: int, ids: tuple[int, int]
) -> None:
    save(db, tenant_id, [(*ids, series([JAN_31, JAN_31 + 900], [1.0, 2.0]))])
    counts = save(
        db,
        tenant_id,
        [(*ids, series([JAN_31, JAN_31 + 900, JAN_31 + 1800], [1.0, 2.5, 3.0]))],
        source="hes-b",
        received_at=2_000,
    )
    assert counts == SaveCounts(inserted=1, unchanged=1, changed=1)
    assert everything(db, tenant_id, ids[0]) == [
        (JAN_31, 1.0, "", 1),
        (JAN_31 + 900, 2.5, "", 2),
        (JAN_31 + 1800, 3.0, "", 1),
    ]
    with db.unit_of_work(hub=True) as uow:
        assert uow.readings.versions(tenant_id, INTERVAL, *ids, JAN_31 + 900) == [
            (1, 2.0, "", "hes-a", 1_000),
            (2, 2.5, "", "hes-b", 2_000),
        ]
        assert uow.readings.count(tenant_id, INTERVAL) == 3


def test_a_changed_quality_alone_is_a_new_version(
    db: Database, tenant_id: int, ids: tuple[int, int]
) -> None:
    save(db, tenant_id, [(*ids, series([JAN_31], [5.0], [""]))])
    assert save(db, tenant_id, [(*ids, series([JAN_31], [5.0], ["1.4.9"]))]) == SaveCounts(
        changed=1
    )
    assert save(db, tenant_id, [(*ids, series([JAN_31], [6.0], ["1.4.9"]))]) == SaveCounts(
        changed=1
    )
    with db.unit_of_work(hub=True) as uow:
        history = uow.readings.versions(tenant_id, INTERVAL, *ids, JAN_31)
    assert [(v, value, q) for v, value, q, _, _ in history] == [
        (1, 5.0, ""),
        (2, 5.0, "1.4.9"),
        (3, 6.0, "1.4.9"),
    ]


def test_register_and_interval_readings_are_kept_apart(
    db: Database, tenant_id: int, ids: tuple[int, int]
) -> None:
    save(db, tenant_id, [(*ids, series([JAN_31], [12345.5]))], kind=ReadingKind.REGISTER)
    save(db, tenant_id, [(*ids, series([JAN_31], [7.0]))], kind=ReadingKind.REGISTER)
    assert everything(db, tenant_id, ids[0], ReadingKind.REGISTER) == [(JAN_31, 7.0, "", 2)]
    assert everything(db, tenant_id, ids[0]) == []
    with db.unit_of_work(hub=True) as uow:
        assert uow.readings.versions(tenant_id, ReadingKind.REGISTER, *ids, JAN_31)[0][:2] == (
            1,
            12345.5,
        )


def test_a_batch_over_two_months_lands_in_two_partitions(
    db: Database, tenant_id: int, ids: tuple[int, int]
) -> None:
    ts = [JAN_31 + 900 * i for i in range(16)]  # 22:15 on Jan 31 to 02:00 on Feb 1
    assert save(db, tenant_id, [(*ids, series(ts, [float(i) for i in range(16)]))]) == (
        SaveCounts(inserted=16)
    )
    assert [row[0] for row in everything(db, tenant_id, ids[0])] == ts
    if db.dialect == "postgresql":
        assert partitions(db) == {"interval_reading_y2024m01": 8, "interval_reading_y2024m02": 8}


def partitions(db: Database) -> dict[str, int]:
    """Rows per partition of interval_reading."""
    with db.engine.connect() as connection:
        names = (
            connection.execute(
                text(
                    "SELECT inhrelid::regclass::text FROM pg_inherits "
                    "WHERE inhparent = 'interval_reading'::regclass"
                )
            )
            .scalars()
            .all()
        )
        return {
            name: connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
            for name in names
        }


def test_a_rolled_back_unit_of_work_leaves_nothing(
    db: Database, tenant_id: int, ids: tuple[int, int]
) -> None:
    with pytest.raises(RuntimeError), db.unit_of_work(hub=True) as uow:
        uow.readings.save(
            tenant_id,
            INTERVAL,
            [(*ids, series([JAN_31], [1.0]))],
            source="",
            message_log_id=None,
            received_at=1,
        )
        raise RuntimeError("handler failed after saving")
    assert everything(db, tenant_id, ids[0]) == []
    if db.dialect == "postgresql":
        assert partitions(db) == {}  # the CREATE was rolled back too…
    # …and not remembered as existing: the next save creates it again.
    assert save(db, tenant_id, [(*ids, series([JAN_31], [1.0]))]) == SaveCounts(inserted=1)


def test_two_saves_in_one_unit_of_work(db: Database, tenant_id: int, ids: tuple[int, int]) -> None:
    with db.unit_of_work(hub=True) as uow:
        first = uow.readings.save(
            tenant_id,
            INTERVAL,
            [(*ids, series([JAN_31], [1.0]))],
            source="",
            message_log_id=7,
            received_at=1,
        )
        second = uow.readings.save(
            tenant_id,
            INTERVAL,
            [(*ids, series([JAN_31], [2.0]))],
            source="",
            message_log_id=8,
            received_at=2,
        )
    assert (first, second) == (SaveCounts(inserted=1), SaveCounts(changed=1))
    assert everything(db, tenant_id, ids[0]) == [(JAN_31, 2.0, "", 2)]


def test_ragged_series_are_refused(db: Database, tenant_id: int, ids: tuple[int, int]) -> None:
    with pytest.raises(InvalidValueError), db.unit_of_work(hub=True) as uow:
        uow.readings.save(
            tenant_id,
            INTERVAL,
            [(*ids, series([JAN_31, JAN_31 + 900], [1.0], [""]))],
            source="",
            message_log_id=None,
            received_at=1,
        )


def test_an_empty_batch_saves_nothing(db: Database, tenant_id: int, ids: tuple[int, int]) -> None:
    assert save(db, tenant_id, []) == SaveCounts()
    assert save(db, tenant_id, [(*ids, series([], []))]) == SaveCounts()


def test_100_meters_by_96_intervals_read_back_exactly(db: Database, tenant_id: int) -> None:
    day = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp())
    ts = [day + 900 * (i + 1) for i in range(96)]
    with db.unit_of_work(hub=True) as uow:
        meters = uow.meters.resolve(
            tenant_id, [MeterRef(f"m-{i:03d}") for i in range(100)], auto_register=True
        )
        rt = uow.reading_types.ids_for([KWH_15MIN])[KWH_15MIN]
    sent = {m: [round(m * 0.001 + i * 0.1234567, 7) for i in range(96)] for m in meters}
    items = [
        (m, rt, series(ts, sent[m], ["" if i % 7 else "1.4.9" for i in range(96)])) for m in meters
    ]
    assert save(db, tenant_id, items) == SaveCounts(inserted=9_600)
    with db.unit_of_work(hub=True) as uow:
        stored = uow.readings.query(
            tenant_id,
            INTERVAL,
            meter_ids=meters,
            reading_type_ids=[rt],
            start=day,
            end=day + 86_400,
            after=None,
            limit=10_000,
        )
        assert uow.readings.count(tenant_id, INTERVAL) == 9_600
    assert [s.meter_id for s in stored] == sorted(meters)
    for s in stored:
        assert (s.reading_type_id, s.timestamps, s.values) == (rt, ts, sent[s.meter_id])
        assert s.qualities == ["" if i % 7 else "1.4.9" for i in range(96)]
        assert s.versions == [1] * 96
    assert save(db, tenant_id, items) == SaveCounts(unchanged=9_600)
