"""CSV rows → domain specs, one reader per file kind; every bad cell reported by row.

Kinds and their columns (a header row names them; unknown columns are ignored, empty
cells mean "not said"):

* ``organisation`` / ``network``: code, name, level, parent_code, valid_from, valid_to
* ``meter``: serial_number (or mrid), mrid, make, model, meter_type, phases, ct_ratio,
  pt_ratio, dials, firmware, comm_module, hes, purchase_order, warranty_until,
  lot_number, stage, stage_date, node_code (feeder / DT / boundary meters), role
* ``consumer``: consumer_number (or mrid), mrid, name, address, mobile, email, category,
  sanctioned_load, load_unit, tariff_code, payment_mode, net_metering, pv_capacity_kw,
  supply_voltage, dt_code, feeder_code, org_code, latitude, longitude, metered,
  connected_load_kw, operating_hours, status, connection_date, meter_serial, meter_role,
  installed_on, final_read (of the meter it replaces), initial_read
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from functools import lru_cache
from typing import Any

from cimhub.domain.hierarchy import NodeSpec, parse_level
from cimhub.domain.installation import LinkSpec, parse_role
from cimhub.domain.lifecycle import parse_stage
from cimhub.domain.meter import MeterSpec, parse_meter_type
from cimhub.domain.rule import DuplicateError
from cimhub.domain.usage_point import UsagePointSpec, parse_category, parse_payment_mode
from cimhub.errors import CimHubError, InvalidValueError

IST = timezone(timedelta(hours=5, minutes=30))


class Kind(StrEnum):
    ORGANISATION = "organisation"
    NETWORK = "network"
    METER = "meter"
    CONSUMER = "consumer"


#: The order files are applied in: what a file refers to comes first.
ORDER = (Kind.ORGANISATION, Kind.NETWORK, Kind.METER, Kind.CONSUMER)


@dataclass(frozen=True, slots=True)
class RowError:
    file: str
    row: int  # 1-based data row; the header is row 0
    code: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}: [{self.code}] {self.reason}"


@dataclass(slots=True)
class Parsed:
    """A file's specs, each with its row number, and the rows that could not be read."""

    nodes: list[tuple[int, NodeSpec]]
    meters: list[tuple[int, MeterSpec]]
    points: list[tuple[int, UsagePointSpec]]
    links: list[tuple[int, LinkSpec]]
    errors: list[RowError]


@lru_cache(maxsize=1024)
def when(text: str) -> int:
    """'2024-06-12' (midnight IST) or an ISO date-time with a zone → epoch seconds."""
    text = text.strip()
    try:
        if len(text) == 10:
            return int(
                datetime.combine(date.fromisoformat(text), datetime.min.time(), IST).timestamp()
            )
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValueError(f"{text!r} is not a date (YYYY-MM-DD) or date-time") from None
    return int(
        (moment if moment.tzinfo else moment.replace(tzinfo=IST)).astimezone(UTC).timestamp()
    )


def _num(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidValueError(f"{text!r} is not a number") from None


def _int(text: str | None) -> int | None:
    value = _num(text)
    return None if value is None else int(value)


def _flag(text: str | None) -> bool | None:
    if not text:
        return None
    key = text.strip().lower()
    if key in ("y", "yes", "true", "1"):
        return True
    if key in ("n", "no", "false", "0"):
        return False
    raise InvalidValueError(f"{text!r} is not yes/no")


def _opt(parse: Callable[[str], Any], text: str | None) -> Any:
    return parse(text) if text else None


def node(row: dict[str, str]) -> NodeSpec:
    spec = NodeSpec(
        code=row.get("code", ""),
        level=parse_level(row.get("level", "")),
        name=row.get("name"),
        parent_code=row.get("parent_code"),
        valid_from=_opt(when, row.get("valid_from")),
        valid_to=_opt(when, row.get("valid_to")),
    )
    spec.check()
    return spec


def meter(row: dict[str, str]) -> tuple[MeterSpec, LinkSpec | None]:
    stage_text = row.get("stage")
    stage = parse_stage(stage_text)
    if stage_text and stage is None:
        raise InvalidValueError(f"{stage_text!r} is not a lifecycle stage")
    spec = MeterSpec(
        mrid=row.get("mrid"),
        serial_number=row.get("serial_number"),
        make=row.get("make"),
        model=row.get("model"),
        meter_type=_opt(parse_meter_type, row.get("meter_type")),
        phases=_int(row.get("phases")),
        ct_ratio=_num(row.get("ct_ratio")),
        pt_ratio=_num(row.get("pt_ratio")),
        dials=_int(row.get("dials")),
        firmware=row.get("firmware"),
        comm_module=row.get("comm_module"),
        hes=row.get("hes"),
        purchase_order=row.get("purchase_order"),
        warranty_until=row.get("warranty_until"),
        lot_number=row.get("lot_number"),
        stage=stage,
        stage_at=_opt(when, row.get("stage_date")),
        changed_by=row.get("changed_by"),
        reason=row.get("reason") or ("billing import" if stage else None),
    )
    spec.check()
    link = None
    if row.get("node_code"):
        link = LinkSpec(
            meter=spec.key,
            at=spec.stage_at or when(row.get("installed_on") or "1970-01-01"),
            node=row["node_code"],
            role=parse_role(row.get("role") or "feeder"),
            reason="billing import",
            replaces=True,
        )
    return spec, link


def consumer(row: dict[str, str]) -> tuple[UsagePointSpec, LinkSpec | None]:
    spec = UsagePointSpec(
        mrid=row.get("mrid"),
        consumer_number=row.get("consumer_number"),
        name=row.get("name"),
        address=row.get("address"),
        mobile=row.get("mobile"),
        email=row.get("email"),
        category=_opt(parse_category, row.get("category")),
        sanctioned_load=_num(row.get("sanctioned_load")),
        load_unit=row.get("load_unit"),
        tariff_code=row.get("tariff_code"),
        payment_mode=_opt(parse_payment_mode, row.get("payment_mode")),
        net_metering=_flag(row.get("net_metering")),
        pv_capacity_kw=_num(row.get("pv_capacity_kw")),
        supply_voltage=_num(row.get("supply_voltage")),
        dt_code=row.get("dt_code"),
        feeder_code=row.get("feeder_code"),
        org_code=row.get("org_code"),
        latitude=_num(row.get("latitude")),
        longitude=_num(row.get("longitude")),
        metered=_flag(row.get("metered")),
        connected_load_kw=_num(row.get("connected_load_kw")),
        operating_hours=_num(row.get("operating_hours")),
        status=row.get("status"),
        connected_on=_opt(when, row.get("connection_date")),
    )
    spec.check()
    link = None
    if row.get("meter_serial"):
        at = row.get("installed_on") or row.get("connection_date")
        if not at:
            raise InvalidValueError("a meter_serial needs installed_on (or connection_date)")
        link = LinkSpec(
            meter=row["meter_serial"],
            at=when(at),
            usage_point=spec.key,
            role=parse_role(row.get("meter_role")),
            reason=row.get("reason") or "billing import",
            replaces=True,
            final_read=_num(row.get("final_read")),
            initial_read=_num(row.get("initial_read")),
        )
    return spec, link


def parse(kind: Kind, file: str, rows: list[dict[str, str]]) -> Parsed:
    """Read every row; a row that cannot be read, or that repeats an identifier of an
    earlier row (3.3), becomes a RowError, the rest specs."""
    out = Parsed([], [], [], [], [])
    columns: dict[tuple[str, ...], list[tuple[str, str]]] = {}  # per header (one, for a file)
    seen: dict[str, int] = {}  # identifier → the row that gave it first
    for number, raw in enumerate(rows, 1):
        keys = tuple(raw)
        if keys not in columns:
            columns[keys] = [(k, k.strip().lower()) for k in keys if k]
        row = {n: v for k, n in columns[keys] if (v := (raw[k] or "").strip())}
        try:
            _read(kind, row, number, out, seen)
        except CimHubError as exc:
            out.errors.append(RowError(file, number, exc.code, exc.reason))
    return out


def _read(kind: Kind, row: dict[str, str], number: int, out: Parsed, seen: dict[str, int]) -> None:
    link: LinkSpec | None = None
    specs: list[tuple[int, Any]]
    if kind in (Kind.ORGANISATION, Kind.NETWORK):
        spec: Any = node(row)
        ids: tuple[str | None, ...] = (spec.code,)
        specs = out.nodes
    elif kind is Kind.METER:
        spec, link = meter(row)
        ids, specs = (spec.mrid, spec.serial_number), out.meters
    else:
        spec, link = consumer(row)
        ids, specs = (spec.mrid, spec.consumer_number), out.points
    for key in {i for i in ids if i}:
        if key in seen:
            raise DuplicateError(f"{key!r} appears on row {seen[key]} already", object_id=key)
    seen.update((i, number) for i in ids if i)
    specs.append((number, spec))
    if link:
        out.links.append((number, link))
