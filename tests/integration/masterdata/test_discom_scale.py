"""A 60 000-meter DISCOM (the Ladakh RfP size) imports from CSV on PostgreSQL, and its
hierarchy and lifecycle answer through CIM. Prints the time; asserts no time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.imports.csv_import import import_files
from cimhub.settings import Settings
from cimhub.testing.databases import postgres_database
from cimhub.testing.masterdata import write_discom
from cimhub.testing.replies import ParsedReply

CONSUMERS = 60_000


@pytest.mark.slow
@pytest.mark.postgres
def test_a_60000_meter_discom_imports_from_csv(tmp_path: Path) -> None:
    files = write_discom(tmp_path, CONSUMERS)
    with postgres_database() as url:
        hub = Hub.build(Settings(database_url=url))
        started = time.perf_counter()
        reports = import_files(hub.database, "ladakh", files)
        seconds = time.perf_counter() - started
        print(
            f"\n60 000-meter DISCOM imported in {seconds:.1f} s: "
            + ", ".join(f"{r.file} {r.rows} rows {r.seconds:.1f} s" for r in reports)
        )
        assert [r.errors for r in reports] == [[], [], [], []]
        assert reports[2].created == CONSUMERS + 1_200 + 60  # + DT and feeder meters
        assert reports[3].links == CONSUMERS
        query = (
            b'<GetUsagePointConfig xmlns="http://iec.ch/TC57/2011/GetUsagePointConfigMessage" '
            b'xmlns:msg="http://iec.ch/TC57/2011/schema/message"><Header><msg:Verb>get</msg:Verb>'
            b"<msg:Noun>UsagePointConfig</msg:Noun></Header><Request>"
            b'<GetUsagePointConfig xmlns="http://iec.ch/TC57/2011/GetUsagePointConfig#">'
            b"<Meter><mRID>SM0059999</mRID></Meter></GetUsagePointConfig></Request>"
            b"</GetUsagePointConfig>"
        )
        reply = ParsedReply.of(hub.pipeline.process(Inbound(query, "ladakh", "test")).body)
        assert reply.result == "OK", reply.reasons
        names = reply.root.xpath("//*[local-name()='Equipments']//*[local-name()='name']/text()")
        assert names[:2] == ["DT1199", "DistributionTransformer"]
        hub.close()
