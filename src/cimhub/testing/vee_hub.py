"""A DISCOM's hub for VEE tests through the store: send it messages, read back its
validated values and findings, give its meters outages, switch their relays.

Meters from ``write_discom``: ``SM0000000`` … (meter ``i``), in service, head-end
``HES-A`` / ``B`` / ``C`` by ``i % 3``, consumers of ``2 + i % 5`` kW sanctioned load.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lxml import etree

from cimhub.app import Hub
from cimhub.bus.pipeline import Answer, Inbound
from cimhub.domain.command import CONTROL_CODES, CommandKind
from cimhub.domain.reading import MeterRef
from cimhub.handlers.commands import Commands
from cimhub.imports.csv_import import import_files
from cimhub.mappings.vee_findings import read_vee_findings
from cimhub.message import ns
from cimhub.message.schema import xsd_dir
from cimhub.settings import Settings
from cimhub.store.findings import FindingRepository, StoredFinding
from cimhub.store.validated import ValidatedRepository
from cimhub.testing.commands import control
from cimhub.testing.events import Ev, created_end_device_events
from cimhub.testing.masterdata import write_discom
from cimhub.testing.messages import KWH_15MIN as KWH
from cimhub.testing.vee_days import iso

TENANT = "t1"
FINDINGS = "VeeFindings"
POWER_OFF, POWER_ON = "3.26.0.85", "3.26.0.216"
#: RCD-switch events: remote connect done, remote disconnect done
CONNECTED, DISCONNECTED = "3.31.0.42", "3.31.0.68"
EXECUTED = """<ExecutedEndDeviceControls xmlns="http://iec.ch/TC57/2011/EndDeviceControlsMessage"
 xmlns:msg="http://iec.ch/TC57/2011/schema/message"
 xmlns:c="http://iec.ch/TC57/2011/EndDeviceControls#">
 <Header><msg:Verb>executed</msg:Verb><msg:Noun>EndDeviceControls</msg:Noun>
  <msg:Source>HES-A</msg:Source><msg:MessageID>{mrid}-done</msg:MessageID></Header>
 <Payload><c:EndDeviceControls><c:EndDeviceControl><c:mRID>{mrid}</c:mRID>
  <c:EndDeviceControlType ref="{code}"/><c:EndDevices><c:mRID>{meter}</c:mRID></c:EndDevices>
  <c:status><c:value>executed</c:value><c:dateTime>{at}</c:dateTime></c:status>
 </c:EndDeviceControl></c:EndDeviceControls></Payload>
</ExecutedEndDeviceControls>"""


def meter(i: int) -> str:
    return f"SM{i:07d}"


@dataclass
class VeeHub:
    hub: Hub

    @classmethod
    def build(
        cls, database_url: str, folder: Path, meters: int = 5, *, serve: bool = True, **kw: Any
    ) -> VeeHub:
        """``serve=False``: no outbox relay runs (nothing leaves, nothing is taken promptly)."""
        settings = Settings(database_url=database_url, default_tenant=TENANT, **kw)
        hub = Hub.build(settings, serve=serve)
        reports = import_files(hub.database, TENANT, write_discom(folder, meters))
        assert all(r.applied for r in reports), [str(e) for r in reports for e in r.errors]
        return cls(hub)

    def send(self, raw: bytes) -> Answer:
        return self.hub.pipeline.process(Inbound(raw, TENANT, "test"))

    def ids(self, *meters: int) -> tuple[int, int, list[int]]:
        """(tenant id, the kWh ReadingType's id or 0, the meters' ids)."""
        with self.hub.database.unit_of_work(hub=True) as uow:
            tenant = uow.tenants.ensure(TENANT)
            found = uow.meters.find(tenant, [MeterRef(meter(i)) for i in meters])
            rt = uow.reading_types.find_ids([KWH]).get(KWH, 0)
            return tenant, rt, [m for m in found if m]

    def current(self, meter_no: int, stamps: list[int]) -> list[tuple[float, str, str]]:
        """(value, quality, method) of the validated intervals at ``stamps``."""
        tenant, rt, [m] = self.ids(meter_no)
        with self.hub.database.unit_of_work(tenant) as uow:
            repo = ValidatedRepository(uow)
            latest = (repo.versions(tenant, m, rt, ts)[-1] for ts in stamps)
            return [(v.value, v.quality, v.method) for v in latest]

    def findings(self, meter_no: int, rule: str, *, cleared: bool = False) -> list[StoredFinding]:
        tenant, _, [m] = self.ids(meter_no)
        with self.hub.database.unit_of_work(tenant) as uow:
            return FindingRepository(uow).query(
                tenant, meter_ids=[m], rules=[rule], include_cleared=cleared
            )

    def exceptions(self) -> list[Any]:
        """The tenant's exceptions, newest first."""
        from cimhub.store.exceptions import ExceptionRepository, ExceptionRow

        tenant, _, _ = self.ids()
        with self.hub.database.unit_of_work(tenant) as uow:
            return ExceptionRepository(uow).page(ExceptionRow, tenant, {}, 100, 0)[0]

    def outage(self, meter_no: int, start: int, end: int) -> Answer:
        """The head-end reports the meter's supply lost at ``start``, back at ``end``."""
        events = [
            Ev(meter(meter_no), iso(start), POWER_OFF),
            Ev(meter(meter_no), iso(end), POWER_ON),
        ]
        answer = self.send(created_end_device_events(events))
        assert answer.result.value == "OK", answer.body
        return answer

    def relay_event(self, meter_no: int, code: str, at: int) -> Answer:
        """The meter logs an RCD switch (``CONNECTED`` / ``DISCONNECTED``) at ``at``."""
        answer = self.send(created_end_device_events([Ev(meter(meter_no), iso(at), code)]))
        assert answer.result.value == "OK", answer.body
        return answer

    def switch_by_command(self, meter_no: int, kind: CommandKind, at: int) -> Answer:
        """A connect or disconnect command for the meter, created (a disconnect approved
        by a second person) and reported executed at ``at`` by its head-end; the answer to
        the head-end's report."""
        code, mrid = CONTROL_CODES[kind], f"{kind.value}-{meter_no}-{at}"
        created = self.send(control(mrid, code, meter(meter_no)))
        assert created.result.value == "OK", created.body
        tenant, _, _ = self.ids()
        with self.hub.database.unit_of_work(tenant) as uow:
            commands = Commands(uow)
            stored = commands.repo.by_mrid(tenant, [mrid])[mrid]
            if kind is CommandKind.DISCONNECT:
                commands.approve(stored, "ravi")
        done = EXECUTED.format(mrid=mrid, code=code, meter=meter(meter_no), at=iso(at))
        answer = self.send(done.encode())
        assert answer.result.value == "OK", answer.body
        return answer

    def close(self) -> None:
        self.hub.close()


def finding_events(bodies: list[bytes]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(verb, tenant, findings) of each VeeFindings event a subscriber received, its
    payload checked against our outbound XSD."""
    with resources.as_file(xsd_dir() / "outbound" / "VeeFindings.xsd") as path:
        schema = etree.XMLSchema(etree.parse(str(path)))
    name = ns.message_ns(FINDINGS)
    out = []
    for body in bodies:
        root = etree.fromstring(body)
        assert ns.split(root.tag) == (name, root.tag.split("}")[1])
        verb = root.findtext(f"{{{name}}}Header/{{{ns.MESSAGE}}}Verb") or ""
        [payload] = root.find(f"{{{name}}}Payload")
        schema.assertValid(payload)
        out.append((verb, *read_vee_findings(payload)))
    return out
