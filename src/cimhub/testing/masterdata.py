"""Master-data helpers for tests and benchmarks: golden seeds and a synthetic DISCOM.

``write_discom`` writes the four CSV files a billing system would hand over for a DISCOM
of any size (the Ladakh RfP's is 60 000 meters): organisation and network hierarchies,
meters (consumer meters in service, plus a feeder meter per feeder and a DT meter per DT)
and consumers, each linked to its meter.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

CONSUMERS_PER_DT = 50
DTS_PER_FEEDER = 20
FEEDERS_PER_SUBSTATION = 10
SECTIONS_PER_SUBDIVISION = 4
CATEGORIES = ("residential",) * 8 + ("commercial", "agricultural")


def seed_golden(hub: Any, tenant: str, path: Path, send: Callable[..., Any]) -> None:
    """Load a golden seed: a CIM message (must be answered OK) or a master-data CSV."""
    if path.suffix == ".csv":
        from cimhub.imports.csv_import import import_files

        reports = import_files(hub.database, tenant, [path])
        assert all(r.applied for r in reports), [str(e) for r in reports for e in r.errors]
        return
    answer = send(path.read_bytes(), tenant)
    assert answer.result.value == "OK", answer.body.decode()


def _write(path: Path, header: list[str], rows: Any) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_discom(
    directory: Path,
    consumers: int,
    *,
    prefix: str = "",
    head_ends: Sequence[str] = ("HES-A", "HES-B", "HES-C"),
) -> list[Path]:
    """The four CSV files of a DISCOM with ``consumers`` metered consumers (their meters on
    ``head_ends`` in turn); returns them."""
    dts = max(1, -(-consumers // CONSUMERS_PER_DT))
    feeders = max(1, -(-dts // DTS_PER_FEEDER))
    substations = max(1, -(-feeders // FEEDERS_PER_SUBSTATION))
    sections = max(1, feeders)
    subdivisions = max(1, -(-sections // SECTIONS_PER_SUBDIVISION))
    org = [("R1", "Region 1", "region", ""), ("C1", "Circle 1", "circle", "R1"),
           ("D1", "Division 1", "division", "C1")]  # fmt: skip
    org += [(f"SD{i}", f"Sub-division {i}", "subdivision", "D1") for i in range(subdivisions)]
    org += [
        (f"SEC{i}", f"Section {i}", "section", f"SD{i // SECTIONS_PER_SUBDIVISION}")
        for i in range(sections)
    ]
    net = [(f"SS{i}", f"Substation {i}", "substation", "") for i in range(substations)]
    net += [(f"F{i}", f"Feeder {i}", "feeder", f"SS{i // FEEDERS_PER_SUBSTATION}")
            for i in range(feeders)]  # fmt: skip
    net += [(f"DT{i}", f"DT {i}", "dt", f"F{i // DTS_PER_FEEDER}") for i in range(dts)]
    node_header = ["code", "name", "level", "parent_code"]
    meter_header = ["serial_number", "make", "model", "meter_type", "phases", "ct_ratio",
                    "pt_ratio", "dials", "firmware", "hes", "stage", "stage_date", "node_code",
                    "role"]  # fmt: skip
    makes = ("Maker A", "Maker B", "Maker C")

    def meters() -> Any:
        for i in range(consumers):
            yield (f"{prefix}SM{i:07d}", makes[i % 3], "SM1P", "1ph_wc", 1, "", "", 6,
                   "1.2.0", head_ends[i % len(head_ends)], "in_service", "2024-01-15", "",
                   "")  # fmt: skip
        for i in range(feeders):
            yield (f"{prefix}FM{i:05d}", "Maker B", "HT3P", "feeder", 3, 40, 100, 8, "2.0",
                   "HES-B", "in_service", "2023-06-01", f"F{i}", "feeder")  # fmt: skip
        for i in range(dts):
            yield (f"{prefix}DM{i:06d}", "Maker C", "LTCT3P", "dt", 3, 60, "", 7, "2.0",
                   "HES-C", "in_service", "2023-06-01", f"DT{i}", "dt")  # fmt: skip

    consumer_header = ["consumer_number", "name", "address", "mobile", "category",
                       "sanctioned_load", "load_unit", "tariff_code", "payment_mode", "dt_code",
                       "org_code", "latitude", "longitude", "connection_date", "meter_serial",
                       "installed_on", "initial_read"]  # fmt: skip

    def points() -> Any:
        for i in range(consumers):
            dt = i // CONSUMERS_PER_DT
            yield (f"{prefix}N{i:08d}", f"Consumer {i}", f"House {i}, Leh", f"9{i:09d}",
                   CATEGORIES[i % len(CATEGORIES)], 2 + i % 5, "kW", "LT-I",
                   "prepaid" if i % 2 else "postpaid", f"DT{dt}",
                   f"SEC{dt // DTS_PER_FEEDER}", f"{34.1 + (i % 100) / 1000:.4f}",
                   f"{77.5 + (i % 97) / 1000:.4f}", "2024-01-15", f"{prefix}SM{i:07d}",
                   "2024-01-15", 0)  # fmt: skip

    return [
        _write(directory / "organisation.csv", node_header, org),
        _write(directory / "network.csv", node_header, net),
        _write(directory / "meter.csv", meter_header, meters()),
        _write(directory / "consumer.csv", consumer_header, points()),
    ]


MSG = "http://iec.ch/TC57/2011/schema/message"


def _message(noun: str, verb: str, body: str, source: str = "TEST") -> bytes:
    element = verb.capitalize() + noun
    return (
        f'<{element} xmlns="http://iec.ch/TC57/2011/{noun}Message" xmlns:msg="{MSG}">'
        f"<Header><msg:Verb>{verb}</msg:Verb><msg:Noun>{noun}</msg:Noun>"
        f"<msg:Source>{source}</msg:Source><msg:MessageID>{uuid.uuid4()}</msg:MessageID>"
        f'</Header><Payload><{noun} xmlns="http://iec.ch/TC57/2011/{noun}#">{body}</{noun}>'
        f"</Payload></{element}>"
    ).encode()


def _names(names: dict[str, str]) -> str:
    return "".join(
        f"<Names><name>{v}</name><NameType><name>{k}</name></NameType></Names>"
        for k, v in names.items()
    )


def meter_config(verb: str, *meters: dict[str, Any]) -> bytes:
    """A MeterConfig message; each meter: mrid, serial, make, stage, at (xs:dateTime), reason."""
    body = ""
    for m in meters:
        make = m.get("make")
        info = (
            f"<EndDeviceInfo><AssetModel><Manufacturer><Names><name>{make}</name></Names>"
            f"</Manufacturer></AssetModel></EndDeviceInfo>"
            if make
            else ""
        )
        status = ""
        if m.get("stage"):
            status = (
                "<status>"
                + (f"<dateTime>{m['at']}</dateTime>" if m.get("at") else "")
                + (f"<reason>{m['reason']}</reason>" if m.get("reason") else "")
                + f"<value>{m['stage']}</value></status>"
            )
        serial = f"<serialNumber>{m['serial']}</serialNumber>" if m.get("serial") else ""
        body += f"<Meter><mRID>{m['mrid']}</mRID>{serial}{info}{status}</Meter>"
    return _message("MeterConfig", verb, body)


def usage_point_config(verb: str, *points: dict[str, Any]) -> bytes:
    """A UsagePointConfig message; each point: mrid, dt (DT code), and typed names."""
    body = ""
    for p in points:
        dt = p.get("dt")
        equipment = (
            f"<Equipments><Names><name>{dt}</name><NameType><name>DistributionTransformer"
            f"</name></NameType></Names></Equipments>"
            if dt
            else ""
        )
        names = {k: v for k, v in p.items() if k not in ("mrid", "dt")}
        body += f"<UsagePoint><mRID>{p['mrid']}</mRID>{equipment}{_names(names)}</UsagePoint>"
    return _message("UsagePointConfig", verb, body)


def linkage(verb: str, meter: str, usage_point: str, at: str, **names: Any) -> bytes:
    """A MasterDataLinkageConfig linking (or unlinking) a meter and a usage point at ``at``;
    ``names`` become typed Names of the ConfigurationEvent (MeterRole, FinalReading, …)."""
    event = (
        f"<ConfigurationEvent><effectiveDateTime>{at}</effectiveDateTime>"
        f"<modifiedBy>tester</modifiedBy><reason>{verb} link</reason>"
        f"{_names({k: str(v) for k, v in names.items()})}</ConfigurationEvent>"
    )
    objects = (
        f"<Meter><mRID>{meter}</mRID></Meter><UsagePoint><mRID>{usage_point}</mRID></UsagePoint>"
    )
    body = event + objects
    return _message("MasterDataLinkageConfig", verb, body)
