"""A drifting meter clock sent one block a message, through the store on both backends:
the chain goes on from the meter's stamps stored before, so each block past the 60 s
tolerance is aligned on arrival (never missing, never estimated); a block that jumps away
stays off the grid."""

from __future__ import annotations

import time

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.domain.reading import MeterRef
from cimhub.store.findings import FindingRepository
from cimhub.store.validated import ValidatedRepository
from cimhub.testing import vee_month as vm
from cimhub.testing.messages import readings_message
from cimhub.testing.replies import ParsedReply

KWH = vm.KWH
IST = 330 * 60
#: local midnight two days ago: recent enough for the "old read date" rule
DAY = (int(time.time()) + IST) // 86_400 * 86_400 - IST - 2 * 86_400
STEP = 900
T = [DAY + STEP * (i + 1) for i in range(12)]
#: the meter's clock 2 s further fast each block: 50 … 70 s; the 60 s line between T[5], T[6]
DRIFT = [50, 52, 54, 56, 58, 60, 62, 64, 66, 68, 70]


def send(hub: Hub, stamps: dict[int, float]) -> None:
    reply = ParsedReply.of(
        hub.pipeline.process(Inbound(readings_message("M-1", {KWH: stamps}), "discom-a", "t")).body
    )
    assert reply.result == "OK", reply.reasons


def test_a_drift_sent_block_by_block_across_the_tolerance_is_aligned_never_missing(
    vee_hub: Hub,
) -> None:
    for i, offset in enumerate(DRIFT):  # one block a message, as a real-time push sends
        send(vee_hub, {T[i] + offset: round(0.2 + 0.01 * i, 2)})
    send(vee_hub, {T[11] + 200: 0.9})  # then a stamp that jumps 130 s away
    with vee_hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("discom-a")
        [meter] = uow.meters.find(tenant, [MeterRef("M-1")])
        rt = uow.reading_types.find_ids([KWH])[KWH]
        rows = ValidatedRepository(uow).intervals(tenant, [(meter, rt)], DAY, T[-1])
        findings = FindingRepository(uow).query(tenant, meter_ids=[meter])
    layer = {ts: (value, q) for ts, value, q in rows[(meter, rt)]}
    for i in range(6, 11):  # 62 … 70 s: past the tolerance, each alone in its message
        assert layer[T[i]] == (round(0.2 + 0.01 * i, 2), "3.0.1 3.7.1000")
    assert [layer[T[i]][1] for i in range(6)] == ["3.0.1 3.1.9"] * 6  # snapped
    drifts = [f for f in findings if f.rule == "interval.clock_drift"]
    assert sorted(f.first_ts for f in drifts) == T[6:11]
    assert sorted(d for f in drifts for d in f.data["drift_seconds"]) == DRIFT[6:]
    [off] = [f for f in findings if f.rule == "interval.off_grid"]
    assert off.first_ts == T[11] + 200 and off.data == {"values": [0.9]}
    [missing] = [f for f in findings if f.rule == "interval.missing"]
    assert (missing.first_ts, missing.last_ts) == (T[11], T[11])  # the jump's, only
    assert sorted(layer) == T and layer[T[11]][1] == "3.8.0 3.5.259"  # estimated over
