"""The reference a Python integrator would otherwise write: xmlschema + the SQLAlchemy ORM.

Validate and decode each message into dicts with xmlschema, look every meter and
reading type up (creating it if missing), add one ORM object per reading, commit.
Plain, correct and typical — and what cimhub's pipeline is compared against.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from importlib.resources import as_file
from typing import Any

import xmlschema
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cimhub.domain.reading_type import parse_reading_type
from cimhub.message.schema import xsd_dir
from cimhub.store.models import IntervalReading, Meter, MeterName, ReadingType, Tenant
from cimhub.store.reading_types import DECODED


@cache
def _schema() -> xmlschema.XMLSchema:
    with as_file(xsd_dir() / "MeterReadingsMessage.xsd") as path:
        return xmlschema.XMLSchema(str(path))


def ingest(
    engine: Engine, messages: Sequence[bytes], budget: float, advance: Callable[[float], None]
) -> tuple[int, float]:
    """Ingest messages until ``budget`` seconds have passed; (readings, seconds)."""
    schema = _schema()
    with Session(engine) as session, session.begin():
        session.add(Tenant(code="naive", name="naive", created_at=0))
    readings, started, shown = 0, time.perf_counter(), 0.0
    for raw in messages:
        readings += _one(engine, schema, raw)
        elapsed = time.perf_counter() - started
        advance(min(elapsed, budget) - shown)
        shown = min(elapsed, budget)
        if elapsed >= budget:
            break
    return readings, time.perf_counter() - started


def _one(engine: Engine, schema: xmlschema.XMLSchema, raw: bytes) -> int:
    decoded: Any = schema.decode(raw.decode())
    payload = _child(_child(decoded, "Payload"), "MeterReadings")
    count = 0
    with Session(engine) as session, session.begin():
        tenant = session.scalars(select(Tenant).where(Tenant.code == "naive")).one()
        for reading in payload.get("MeterReading", []):
            meter = _meter(session, tenant.id, reading["Meter"])
            for block in reading.get("IntervalBlocks", []):
                type_id = _reading_type(session, block["ReadingType"]["@ref"])
                for r in block.get("IntervalReadings", []):
                    session.add(
                        IntervalReading(
                            tenant_id=tenant.id,
                            meter_id=meter.id,
                            reading_type_id=type_id,
                            ts=int(datetime.fromisoformat(r["timeStamp"]).timestamp()),
                            value=float(r["value"]),
                            quality="",
                            version=1,
                            source="naive",
                            received_at=int(time.time()),
                        )
                    )
                    count += 1
    return count


def _child(decoded: dict[str, Any], local: str) -> Any:
    return next(v for k, v in decoded.items() if k.rpartition(":")[2] == local)


def _meter(session: Session, tenant_id: int, ref: dict[str, Any]) -> Meter:
    mrid = ref["mRID"]
    meter = session.scalars(
        select(Meter).where(Meter.tenant_id == tenant_id, Meter.mrid == mrid)
    ).first()
    if meter is None:
        meter = Meter(tenant_id=tenant_id, mrid=mrid, created_at=0, auto_registered=True)
        session.add(meter)
        session.flush()
        for name in ref.get("Names", []):
            session.add(MeterName(tenant_id=tenant_id, meter_id=meter.id, name=name["name"]))
    return meter


def _reading_type(session: Session, code: str) -> int:
    found = session.scalars(select(ReadingType.id).where(ReadingType.code == code)).first()
    if found is not None:
        return found
    decoded = parse_reading_type(code)
    row = ReadingType(code=code, **{name: getattr(decoded, name) for name in DECODED})
    session.add(row)
    session.flush()
    return row.id
