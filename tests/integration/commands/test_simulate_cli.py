"""`cimhub simulate hes` against a real hub: a replayed night (a billing date in it) over
HTTP or SOAP lands as readings, less exactly the intervals its faults file says it dropped."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cimhub.cli import main
from cimhub.simulator.cim_head_end import free_port
from cimhub.simulator.cim_writer import KWH_IMPORT, MD_KW
from cimhub.simulator.fleet import meter_mrid
from cimhub.store.models import IntervalReading, RegisterReading

KWH_15 = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
BILLING = 1_717_180_200  # 2024-06-01T00:00+05:30


def stored(hub: Any, table: Any, meter: str, code: str) -> list[int]:
    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure("t1")
        (meter_id,) = uow.meters.find(tenant_id, [_ref(meter)])
        (type_id,) = uow.reading_types.ids_for([code]).values()
        return list(
            uow.session.scalars(
                select(table.ts).where(table.meter_id == meter_id, table.reading_type_id == type_id)
                .order_by(table.ts)
            )
        )  # fmt: skip


def _ref(mrid: str) -> Any:
    from cimhub.domain.reading import MeterRef

    return MeterRef(mrid)


@pytest.mark.parametrize("transport", ["http", "soap"])
def test_a_replayed_night_lands_less_the_dropped_intervals(
    serve: Callable[..., Any], tmp_path: Path, transport: str
) -> None:
    hub, base = serve()
    faults = tmp_path / "faults.jsonl"
    code = main([
        "simulate", "hes", "--hub", base, "--tenant", "t1", "--transport", transport,
        "--port", str(free_port()), "--meters", "3", "--start", "2024-05-31T22:00",
        "--end", "2024-06-01T04:00", "--speed", "0", "--missing-rate", "0.08", "--seed", "4",
        "--faults-out", str(faults),
    ])  # fmt: skip
    assert code == 0
    dropped = [json.loads(line) for line in faults.read_text().splitlines()]
    assert dropped and {d["kind"] for d in dropped} == {"missing"}
    for n in (1, 2, 3):
        serial = f"MH{4_500_000 + n}"
        gone = {d["end"] for d in dropped if d["meters"] == [serial]}
        expected = [BILLING - 7200 + 900 * i for i in range(1, 25)]
        assert stored(hub, IntervalReading, meter_mrid(n), KWH_15) == [
            t for t in expected if t not in gone
        ]
        assert stored(hub, RegisterReading, meter_mrid(n), KWH_IMPORT) == [BILLING]
        assert len(stored(hub, RegisterReading, meter_mrid(n), MD_KW)) == 1
    with hub.database.unit_of_work(hub=True) as uow:
        assert uow.session.scalar(select(func.count()).select_from(IntervalReading)) > 3 * 7 * 20
