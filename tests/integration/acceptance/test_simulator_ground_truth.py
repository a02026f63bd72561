"""Issue 6 item 7, the faults not yet checked end to end: twenty meters of a vendor-a head-end
(the simulator on the real Mosquitto, the hub's MQTT adapter, PostgreSQL) send two days of
15-minute block load with duplicates, late data, clock drift and silence injected; what the
simulator recorded as injected (its ground truth) is, fault by fault, what the hub did:

* a duplicate is stored once (no second version) and counted as an unchanged re-send;
* late data ends its gap: the estimate VEE made when the gap was past the re-acquisition
  wait is replaced by the readings (valid, 3.0.1) and the gap's finding is cleared;
* a drifting clock is flagged by VEE's time-tolerance rule (interval.clock, snapped) on
  exactly the drifted meters, once per block whose stamp was off the grid within the 60 s
  tolerance; past it (90 s a day: after 16 hours) the blocks are aligned to the grid
  (interval.clock_drift, never missing nor estimated) and the meter gets a clock-drift
  exception, the other drifting meter (inside the tolerance) none;
* a silent meter gets a communication-failure exception and a silent re-read that brings
  its blocks back; the exception resolves itself when the meter talks again.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cimhub.adapters.profile import load_profile
from cimhub.app import Hub, sweep_rereads
from cimhub.domain.meter_read import Period
from cimhub.domain.reading import MeterRef
from cimhub.handlers.exceptions import sweep as sweep_exceptions
from cimhub.imports.csv_import import import_files
from cimhub.simulator.faults import Fault, FaultKind, FaultPlan, GroundTruth
from cimhub.simulator.fleet import SimMeter, from_csv
from cimhub.simulator.mqtt_head_end import MqttHes
from cimhub.simulator.simulation import Simulation
from cimhub.store.commands import HesEndpoint, StoredCommand
from cimhub.store.exceptions import ExceptionRow
from cimhub.store.findings import FindingRepository
from cimhub.store.models import IntervalReading, IntervalReadingVersion, MessageLog
from cimhub.testing.commands import TENANT, open_gaps, qualities, read_commands, set_endpoint
from cimhub.testing.masterdata import write_discom
from cimhub.testing.waiting import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]
MQTT_URL = "mqtt://127.0.0.1:1883"
IST, H, STEP = 19_800, 3600, 2 * 3600
#: Local midnight two days ago: the meters still hold it, and every gap is past the wait.
T0 = ((int(time.time()) + IST) // 86_400 - 2) * 86_400 - IST
END = T0 + 48 * H
KWH = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"  # vendor-a block kWh import, 15 minutes
BLOCK_TYPES = 6  # vendor-a block-load columns (kWh, kVAh import/export, voltage, current)
VALID, ESTIMATED = "3.0.1", "3.8.0 3.5.259"  # estimated, of a known missing read
SILENCE_HOURS = 4.0  # communication_silence_hours; the re-acquisition wait is 4 h too


def serial(n: int) -> str:
    return f"SM{n:07d}"


@dataclass
class Run:
    hub: Hub
    base: str
    sim: Simulation
    head_end: MqttHes
    plan: FaultPlan
    truth: GroundTruth
    meters: dict[str, int]  # serial → the hub's meter id
    unheard: set[str]  # meters of head-ends not simulated: they never send

    def step_to(self, until: int) -> None:
        """Simulated time to ``until`` in two-hour messages; then until the hub has taken
        every readings message the head-end published (reads' answers too)."""
        while self.sim.clock < until:
            self.sim.step(min(self.sim.clock + STEP, until))
        self.settle()

    def settle(self) -> None:
        sent = self.head_end.published
        wait_until(lambda: _readings_logged(self.hub) >= sent["readings"], timeout=120)


@pytest.fixture
def run(serve: Callable[..., Any], tmp_path: Path) -> Iterator[Run]:
    prefix = f"truth-{uuid.uuid4().hex[:10]}"
    hub, base = serve(mqtt_url=MQTT_URL, mqtt_vendors="vendor-a", mqtt_topic_prefix=prefix,
                      default_tenant=TENANT, communication_silence_hours=SILENCE_HOURS)  # fmt: skip
    files = write_discom(tmp_path, 20, head_ends=("HES-MQ",))  # meters at usage points
    assert all(r.applied for r in import_files(hub.database, TENANT, files))
    known = from_csv(files[2])  # and a feeder and a DT meter on other head-ends, never heard
    fleet: list[SimMeter] = [m for m in known if m.hes == "HES-MQ"]
    set_endpoint(hub, HesEndpoint("HES-MQ", "mqtt", vendor="vendor-a"))
    hub.start_commands()
    wait_until(lambda: hub.commands.mqtt.connected)
    plan, truth = FaultPlan(), GroundTruth()
    mqtt = MqttHes(MQTT_URL, load_profile("vendor-a"), prefix).start()
    sim = Simulation(fleet, {"HES-MQ": mqtt}, start=T0, plan=plan, truth=truth)
    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        ids = uow.meters.find(tenant_id, [MeterRef(None, (m.serial,)) for m in known])
    meters = {m.serial: i for m, i in zip(known, ids, strict=True) if i is not None}
    try:
        unheard = {m.serial for m in known} - {m.serial for m in fleet}
        yield Run(hub, base, sim, mqtt, plan, truth, meters, unheard)
    finally:
        mqtt.stop()


def test_duplicates_late_data_clock_drift_and_silence_are_found_as_injected(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    r, plan = run, run.plan
    dups = [plan.duplicate(serial(1), T0 + 5 * H),  # mid-message: sent again with the next
            plan.duplicate(serial(2), T0 + 6 * H),  # a message's last block
            plan.duplicate(serial(3), T0 + 20 * H + 900)]  # fmt: skip
    late = [plan.late(serial(4), T0 + 8 * H, T0 + 9 * H, hours=3),
            plan.late(serial(5), T0 + 14 * H, T0 + 15 * H, hours=5)]  # fmt: skip
    drift = [plan.clock_drift(serial(6), T0, 20),  # ≤ 40 s in two days: within tolerance
             plan.clock_drift(serial(7), T0 + 12 * H, 90)]  # 60 s after 16 h, 135 s  # fmt: skip
    silence = [plan.silence(serial(8), T0 + 29 * H, T0 + 37 * H),
               plan.silence(serial(9), T0 + 29 * H, END)]  # silent to the end  # fmt: skip

    r.step_to(T0 + 10 * H)  # serial 4's hour is held back: a gap, past the wait: estimated
    gap4 = _stamps(late[0])
    assert qualities(r.base, serial(4), gap4, KWH) == [ESTIMATED] * 4
    assert _gaps_of(r, serial(4)) == [(gap4[0], gap4[-1])]
    r.step_to(T0 + 24 * H)  # both late hours arrived, each with newer blocks
    late_found = {f.meters[0] for f in late
                  if qualities(r.base, f.meters[0], _stamps(f), KWH) == [VALID] * 4
                  and _gaps_of(r, f.meters[0]) == []}  # fmt: skip
    once = (BLOCK_TYPES, 0)  # a row per column, no older version
    stored_once = {f.meters[0] for f in dups if _versions(r, f.meters[0], f.end) == once}
    unchanged = _unchanged(r.hub)  # before any read: only the repeats are re-sends

    r.step_to(T0 + 36 * H)  # serials 8 and 9 silent since T0 + 29 h
    at = r.sim.clock
    comm_open = _sweep_communication(r, at)["open"]
    report = sweep_rereads(r.hub.database, r.hub.settings, at)[TENANT]
    silent_reads = {s.meter_id: s.command.period for s in _reads(r, "silent")}
    _all_executed(r)
    r.settle()
    seven_hours = [VALID] * 28
    reacquired = {
        f.meters[0]
        for f in silence
        if qualities(r.base, f.meters[0], _stamps(f, at), KWH) == seven_hours
    }

    r.step_to(END)  # serial 8 talks again from T0 + 37 h; serial 9 stays silent
    r.sim.finish()
    r.settle()
    comm_after = _sweep_communication(r, END)
    final = sweep_rereads(r.hub.database, r.hub.settings, END)[TENANT]
    final_reads = {s.meter_id: s.command.period for s in _reads(r, "") if s.command.period
                   and s.command.period.start >= at}  # fmt: skip
    _all_executed(r)
    r.settle()
    wait_until(lambda: open_gaps(r.hub) == [], timeout=60)
    clock = _clock_findings(r, "interval.clock")
    aligned = _clock_findings(r, "interval.clock_drift")
    clock_exceptions = _exceptions(r, "open", "clock_drift")
    last_hour = list(range(END - 3 * 900, END + 1, 900))  # 132 … 135 s fast: aligned, valid
    last_drifted = qualities(r.base, serial(7), last_hour, KWH)
    gapped = _ever_missing(r)

    rows = [
        ("duplicate", len(dups), f"stored once: {len(stored_once)}, "
                                 f"readings counted unchanged: {unchanged}"),
        ("late", len(late), f"estimate replaced, gap closed: {len(late_found)}"),
        ("clock_drift", len(drift), f"interval.clock on {len(clock)} meters, "
                                    f"{sum(clock.values())} blocks; aligned past the "
                                    f"tolerance: {sum(aligned.values())} blocks; "
                                    f"exception: {len(clock_exceptions)}"),
        ("silence", len(silence), f"communication exception: {len(comm_open - r.unheard)}, "
                                  f"silent re-read: {len(silent_reads)}, "
                                  f"re-acquired: {len(reacquired)}"),
    ]  # fmt: skip
    with capsys.disabled():
        print(f"\n{'fault':12} {'injected':>8}  found")
        print("\n".join(f"{k:12} {n:>8}  {found}" for k, n, found in rows))

    kinds = {FaultKind.DUPLICATE, FaultKind.LATE, FaultKind.CLOCK_DRIFT, FaultKind.SILENCE}
    assert {f.kind for f in r.truth.faults} == kinds
    assert stored_once == {serial(n) for n in (1, 2, 3)}
    assert unchanged == BLOCK_TYPES * len(dups)
    assert late_found == {serial(4), serial(5)}
    # exactly the drifted meters, each block stamped off the grid once: snapped within the
    # tolerance, aligned beyond it (serial 7 only), and none of them missing (``gapped``)
    assert clock == {f.meters[0]: _off_grid(f, 1, 60) for f in drift}
    assert aligned == {serial(7): _off_grid(drift[1], 61, 300)} and sum(aligned.values()) > 0
    assert clock_exceptions == {serial(7)}
    assert last_drifted == [f"{VALID} 3.7.1000"] * 4
    silent = {serial(8), serial(9)}
    assert comm_open == silent | r.unheard  # the never-heard ones since their installation
    assert (report["silent"], report["asked"]) == (2, 2)
    assert silent_reads == {r.meters[s]: Period(T0 + 29 * H, at) for s in silent}
    assert reacquired == silent
    assert comm_after == {"open": {serial(9)} | r.unheard, "resolved": {serial(8)}}
    # the end: serial 8's last silent hour is a gap, serial 9 is silent since the re-read
    assert (final["gaps"], final["silent"], final["asked"]) == (1, 1, 2)
    assert final_reads == {r.meters[serial(8)]: Period(at, T0 + 37 * H),
                           r.meters[serial(9)]: Period(at, END)}  # fmt: skip
    # no gap where the hub holds the readings (a repeat or late hour with newer blocks)
    assert gapped == {serial(4), serial(5), serial(8)}


def _stamps(fault: Fault, until: int | None = None) -> list[int]:
    """The 15-minute interval ends of the fault's (start, end], or (start, until]."""
    return list(range(fault.start + 900, (until or fault.end) + 1, 900))


def _off_grid(fault: Fault, low: int, high: int) -> int:
    """Blocks whose drifted stamp is ``low`` to ``high`` seconds off the grid up to END."""
    per_day = float(fault.detail["seconds_per_day"])
    return sum(1 for ts in range(fault.start + 900, END + 1, 900)
               if low <= round(per_day * (ts - fault.start) / 86_400) <= high)  # fmt: skip


def _readings_logged(hub: Hub) -> int:
    with hub.database.unit_of_work(hub=True) as uow:
        return int(uow.session.scalar(
            select(func.count()).select_from(MessageLog).where(
                MessageLog.noun == "MeterReadings", MessageLog.completed_at.is_not(None))
        ) or 0)  # fmt: skip


def _unchanged(hub: Hub) -> int:
    """Readings the hub counted as identical re-sends, over every MeterReadings message."""
    with hub.database.unit_of_work(hub=True) as uow:
        replies = uow.session.scalars(
            select(MessageLog.reply).where(MessageLog.noun == "MeterReadings")
        ).all()
    found = (re.search(rb"(\d+) unchanged", reply or b"") for reply in replies)
    return sum(int(m.group(1)) for m in found if m)


def _versions(r: Run, meter: str, ts: int) -> tuple[int, int]:
    """Rows and older versions the hub holds for the meter's blocks ending at ts."""
    with r.hub.database.unit_of_work(hub=True) as uow:
        rows = [
            uow.session.scalar(select(func.count()).select_from(table).where(
                table.meter_id == r.meters[meter], table.ts == ts))
            for table in (IntervalReading, IntervalReadingVersion)
        ]  # fmt: skip
    return rows[0] or 0, rows[1] or 0


def _gaps_of(r: Run, meter: str) -> list[tuple[int, int]]:
    return [(first, last) for m, first, last in open_gaps(r.hub) if m == r.meters[meter]]


def _clock_findings(r: Run, rule: str) -> dict[str, int]:
    """Serial → readings flagged by ``rule`` on the kWh channel."""
    names = {i: s for s, i in r.meters.items()}
    with r.hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        (kwh,) = uow.reading_types.ids_for([KWH]).values()
        found = FindingRepository(uow).query(tenant_id, rules=[rule])
    counts: Counter[str] = Counter()
    for f in found:
        if f.reading_type_id == kwh:
            counts[names[f.meter_id]] += f.count
    return dict(counts)


def _sweep_communication(r: Run, at: int) -> dict[str, set[str]]:
    """The exceptions sweep at ``at``; the meters of open and resolved communication
    failures."""
    with r.hub.database.unit_of_work(hub=True) as uow:
        sweep_exceptions(uow, r.hub.settings, at)
    return {status: _exceptions(r, status) for status in ("open", "resolved")}


def _reads(r: Run, reason: str) -> list[StoredCommand]:
    return [s for s in read_commands(r.hub) if reason in s.command.reason]


def _all_executed(r: Run) -> None:
    wait_until(lambda: {s.command.state.value for s in read_commands(r.hub)} == {"executed"},
               timeout=60)  # fmt: skip


def _ever_missing(r: Run) -> set[str]:
    """Meters with an interval.missing finding, open or cleared."""
    names = {i: s for s, i in r.meters.items()}
    with r.hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        found = FindingRepository(uow).query(
            tenant_id, rules=["interval.missing"], include_cleared=True
        )
    return {names[f.meter_id] for f in found}


def _exceptions(r: Run, status: str, kind: str = "communication_failure") -> set[str]:
    names = {i: s for s, i in r.meters.items()}
    with r.hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        meters = uow.session.scalars(select(ExceptionRow.meter_id).where(
            ExceptionRow.tenant_id == tenant_id, ExceptionRow.kind == kind,
            ExceptionRow.status == status)).all()  # fmt: skip
    return {names[m] for m in meters}
