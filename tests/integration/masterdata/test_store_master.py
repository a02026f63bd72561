"""Master-data repositories on each backend: hierarchy rules, all-or-nothing batches,
tenant settings, and the not-communicating report reading the reading tables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cimhub.domain.hierarchy import Level, NodeSpec
from cimhub.domain.installation import LinkSpec
from cimhub.domain.meter import MeterSpec
from cimhub.domain.reading import MeterRef, ReadingKind, Series
from cimhub.domain.usage_point import UsagePointSpec
from cimhub.errors import CimHubError
from cimhub.store.database import Database
from cimhub.store.master_data import Provenance
from cimhub.store.meter_assets import Mode
from cimhub.store.reports import DAY, meter_inventory, not_communicating

ORIGIN = Provenance("test", None, 0)
KWH_15MIN = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.upgrade()
    with database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure("t")
        uow.hierarchy.save(
            tenant_id,
            [
                NodeSpec("F1", Level.FEEDER, parent_code="SS1"),
                NodeSpec("SS1", Level.SUBSTATION),
                NodeSpec("DT1", Level.DT, parent_code="F1"),
            ],
        )
    yield database
    database.dispose()


def refused(db: Database, code: str, work: object) -> None:
    with pytest.raises(CimHubError) as caught, db.unit_of_work(hub=True) as uow:
        work(uow, uow.tenants.ensure("t"))  # type: ignore[operator]
    assert caught.value.code == code, caught.value.reason


def test_hierarchy_rules(db: Database) -> None:
    refused(
        db,
        "2.15",
        lambda uow, t: uow.hierarchy.save(t, [NodeSpec("DT2", Level.DT, parent_code="F9")]),
    )
    # SS1 fed from F1, which hangs under SS1: a cycle
    refused(
        db,
        "3.2",
        lambda uow, t: uow.hierarchy.save(t, [NodeSpec("SS1", Level.SUBSTATION, parent_code="F1")]),
    )
    refused(
        db,
        "3.1",
        lambda uow, t: uow.hierarchy.save(t, [NodeSpec("DT1", Level.DT, parent_code="SS1")]),
    )
    refused(db, "3.3", lambda uow, t: uow.hierarchy.save(t, [NodeSpec("X", Level.REGION)] * 2))
    with db.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure("t")
        # re-parenting to a substation fed from a feeder is allowed (no cycle)
        uow.hierarchy.save(
            tenant_id,
            [
                NodeSpec("SS2", Level.SUBSTATION, parent_code="F1"),
                NodeSpec("F2", Level.FEEDER, parent_code="SS2"),
                NodeSpec("DT1", Level.DT, parent_code="F2"),
            ],
        )
        parents = {
            n["code"]: n["parent"]
            for n in uow.master_queries.nodes(tenant_id, {}, limit=10, offset=0).items
        }
    assert parents == {"SS1": None, "F1": "SS1", "DT1": "F2", "SS2": "F1", "F2": "SS2"}


def test_a_refused_batch_leaves_nothing_behind(db: Database) -> None:
    def work(uow, tenant_id):  # type: ignore[no-untyped-def]
        uow.meter_assets.save(
            tenant_id,
            [MeterSpec(serial_number="A"), MeterSpec(serial_number="B")],
            Mode.CREATE,
            source="t",
        )
        uow.usage_points.save(
            tenant_id, [UsagePointSpec(consumer_number="C1", dt_code="DT1")], Mode.CREATE
        )
        uow.master.install(
            tenant_id,
            [LinkSpec("A", 100, usage_point="C1"), LinkSpec("B", 100, usage_point="C1")],
            ORIGIN,
        )

    refused(db, "3.6", work)
    with db.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure("t")
        queries = uow.master_queries
        assert queries.meters(tenant_id, {}, limit=1, offset=0).total == 0
        assert queries.usage_points(tenant_id, {}, limit=1, offset=0).total == 0


def test_tenant_settings_live_on_the_tenant_row(db: Database) -> None:
    with db.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure("t")
        assert uow.tenants.get(tenant_id).auto_registers(True) is True
        uow.tenants.configure(tenant_id, auto_register_meters=False)
    with db.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure("t")
        assert uow.tenants.get(tenant_id).auto_register_meters is False
        assert uow.meters.resolve(tenant_id, [MeterRef("new")], auto_register=True) == [None]


def test_the_reconciliation_report_reads_the_latest_reading(db: Database) -> None:
    as_of = 1_718_150_400  # 2024-06-12
    with db.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure("t")
        uow.meter_assets.save(
            tenant_id,
            [
                MeterSpec(serial_number=s, make=m)
                for s, m in (("HEARD", "A"), ("SILENT", "A"), ("NEVER", "B"), ("SPARE", "B"))
            ],
            Mode.CREATE,
            source="t",
        )
        uow.usage_points.save(
            tenant_id, [UsagePointSpec(consumer_number=c) for c in ("C1", "C2", "C3")], Mode.CREATE
        )
        uow.master.install(
            tenant_id,
            [
                LinkSpec(m, as_of - 30 * DAY, usage_point=c)
                for m, c in (("HEARD", "C1"), ("SILENT", "C2"), ("NEVER", "C3"))
            ],
            ORIGIN,
        )
        ids = uow.meter_assets.require(tenant_id, ["HEARD", "SILENT"])
        type_id = uow.reading_types.ids_for([KWH_15MIN])[KWH_15MIN]
        for key, ts in (("HEARD", as_of - DAY), ("SILENT", as_of - 5 * DAY)):
            uow.readings.save(
                tenant_id,
                ReadingKind.INTERVAL,
                [
                    (
                        ids[key].id,
                        type_id,
                        Series(MeterRef(key), KWH_15MIN, ReadingKind.INTERVAL, [ts], [0.5], [""]),
                    )
                ],
                source="t",
                message_log_id=None,
                received_at=ts,
            )
    with db.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure("t")
        report = not_communicating(uow, tenant_id, days=3, as_of=as_of)
        inventory = meter_inventory(uow, tenant_id)
    assert [(r["mrid"], r["usage_point"], r["days_silent"]) for r in report.rows] == [
        ("NEVER", "C3", None),
        ("SILENT", "C2", 5),
    ]
    assert report.summary["installed"] == 3 and report.summary["communicating"] == 1
    assert inventory.summary["by_stage"] == {"installed": 3, "received_in_store": 1}
    assert inventory.summary["by_make"] == {"A": 2, "B": 2}


def test_nodes_are_effective_dated(db: Database) -> None:
    with db.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure("t")
        uow.hierarchy.save(
            tenant_id,
            [NodeSpec("DT-OLD", Level.DT, parent_code="F1", valid_from=1_000, valid_to=2_000)],
        )
        queries = uow.master_queries

        def dts(at: int) -> list[str]:
            page = queries.nodes(tenant_id, {"level": "dt", "as_of": at}, limit=10, offset=0)
            return [n["code"] for n in page.items]

        assert dts(1_500) == ["DT1", "DT-OLD"]
        assert dts(2_000) == ["DT1"]
