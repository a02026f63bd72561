"""The store's master data as VEE context: meters, their state and their usage points."""

from __future__ import annotations

from pathlib import Path

from cimhub.domain.reading import MeterRef
from cimhub.imports.csv_import import import_files
from cimhub.store.database import Database
from cimhub.store.vee_master import StoreMasterData
from cimhub.testing.masterdata import write_discom
from cimhub.vee.context import MeterState

JAN_2025 = 1_735_689_600


def test_meters_and_their_usage_points_become_vee_contexts(
    database_url: str, tmp_path: Path
) -> None:
    db = Database(database_url)
    db.upgrade()
    reports = import_files(db, "discom-a", write_discom(tmp_path, 3))
    assert all(r.applied for r in reports)
    with db.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("discom-a")
        consumer, feeder = uow.meters.find(
            tenant, [MeterRef(None, ("SM0000001",)), MeterRef(None, ("FM00000",))]
        )
        assert consumer is not None and feeder is not None
        contexts = StoreMasterData(uow).contexts(
            tenant, [consumer, feeder, 999_999], JAN_2025, JAN_2025 + 86_400
        )
    db.dispose()
    home = contexts[consumer]
    assert (home.meter.meter_type, home.meter.dials, home.meter.state) == (
        "1ph_wc",
        6,
        MeterState.IN_SERVICE,
    )
    assert home.meter.multiplier is None  # no CT/PT: unknown, not 1
    # consumer 1 of write_discom: residential, 2 + 1 kW
    assert (home.usage_point.category, home.usage_point.sanctioned_load_kw) == ("residential", 3.0)
    assert home.outages is None  # no power event from it or its head-end: unknown, zero rule quiet
    assert contexts[feeder].meter.multiplier == 4000.0  # CT 40 × PT 100
    assert contexts[feeder].usage_point.sanctioned_load_kw is None  # a feeder has no consumer
    # maximum demand resets on the billing cycle day: the tenant's (1 unless configured)
    assert home.usage_point.billing_day == contexts[feeder].usage_point.billing_day == 1
    assert 999_999 not in contexts
