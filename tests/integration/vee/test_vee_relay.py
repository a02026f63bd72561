"""A meter's relay in VEE through the store, on both backends: disconnections the hub learns
of — an executed command or the meter's own RCD-switch event, whichever comes first — keep
the zero rule quiet, consumption while the relay is open is flagged, and a switch learnt
after the readings re-judges them.

Meters (``cimhub.testing.vee_hub``): SM0000000 and SM0000003 belong to HES-A, SM0000001
to HES-B; all in service. HES-A reports power events (an outage of SM0 the day before),
so SM3's outages are known: none on the day tested.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cimhub.domain.command import CommandKind
from cimhub.domain.relay import Relay, RelayPeriod
from cimhub.store.relay import OPEN_END, RelayRepository
from cimhub.store.vee_master import StoreMasterData
from cimhub.testing.messages import KWH_15MIN as KWH
from cimhub.testing.messages import readings_message
from cimhub.testing.replies import ParsedReply
from cimhub.testing.vee_days import WEDNESDAY as D
from cimhub.testing.vee_days import at, day_of, with_zeros
from cimhub.testing.vee_hub import CONNECTED, DISCONNECTED, VeeHub, meter

D_, C_ = Relay.DISCONNECTED, Relay.CONNECTED


@pytest.fixture
def vee(database_url: str, tmp_path: Path) -> Iterator[VeeHub]:
    # no dispatcher: the test plays the head-end (a command stays sent until it reports);
    # the days tested lie in the past: meters count as silent only after a year
    hub = VeeHub.build(database_url, tmp_path, serve=False, communication_silence_hours=8760)
    hub.outage(0, at(-1, 9), at(-1, 10))  # HES-A reports power events
    yield hub
    hub.close()


def test_a_disconnection_learnt_late_clears_the_zero_run_and_a_connect_ends_it(
    vee: VeeHub,
) -> None:
    # SM3 sends its day first: zeros 09:15–13:30, 13:45 and 14:00 lost, 0.5 again at 14:15
    lost = (at(0, 13.75), at(0, 14))
    vee.send(readings_message(meter(3), {KWH: with_zeros(day_of(0.5), at(0, 9), at(0, 14), lost)}))
    [zero] = vee.findings(3, "usage.zero")
    assert (zero.first_ts, zero.last_ts, zero.count) == (at(0, 9.25), at(0, 13.5), 18)
    # then the head-end reports the disconnect (for dues) executed at 09:00
    answer = vee.switch_by_command(3, CommandKind.DISCONNECT, at(0, 9))
    assert "re-judged" in ParsedReply.of(answer.body).reasons[0]
    assert vee.findings(3, "usage.zero") == []
    assert [f.id for f in vee.findings(3, "usage.zero", cleared=True)] == [zero.id]
    assert vee.current(3, list(lost)) == [(0.0, "3.8.0 3.5.259", "estimated:disconnected_zero")] * 2
    # as far as the hub knows the relay is still open: the consumption from 14:15 to
    # midnight (40 intervals) is usage on a disconnected meter, kept and marked
    [used] = vee.findings(3, "usage.disconnected")
    assert (used.first_ts, used.last_ts, used.count) == (at(0, 14.25), at(1, 0), 40)
    assert vee.current(3, [at(0, 14.25)]) == [(day_of(0.5)[at(0, 14.25)], "3.6.2", "validated")]
    vee.hub.sweep_exceptions()  # a revenue-protection alert: field work is ordered
    [tamper] = _tamper(vee)
    assert (tamper.status, tamper.revenue_protection) == ("open", True)
    assert tamper.service_order_id is not None
    # the meter's own event says it was reconnected at 14:00: nothing left to flag
    answer = vee.relay_event(3, CONNECTED, at(0, 14))
    assert "re-judged" in ParsedReply.of(answer.body).reasons[0]
    assert vee.findings(3, "usage.disconnected") == []
    vee.hub.sweep_exceptions()
    assert [(e.id, e.status) for e in _tamper(vee)] == [(tamper.id, "resolved")]
    assert vee.current(3, [at(0, 14.25)]) == [(day_of(0.5)[at(0, 14.25)], "3.0.1", "validated")]
    assert vee.current(3, list(lost)) == [(0.0, "3.8.0 3.5.259", "estimated:disconnected_zero")] * 2
    assert _periods(vee, 3) == [
        RelayPeriod(at(0, 9), at(0, 14), D_),
        RelayPeriod(at(0, 14), None, C_),
    ]


def test_whichever_source_comes_first_sets_the_state_and_the_other_only_confirms(
    vee: VeeHub,
) -> None:
    # the meter's event first (its clock: 09:00), then the head-end's report of the
    # command (its clock: 09:02): one disconnection, from 09:00, nothing re-judged again
    vee.relay_event(3, DISCONNECTED, at(0, 9))
    answer = vee.switch_by_command(3, CommandKind.DISCONNECT, at(0, 9) + 120)
    assert "re-judged" not in (ParsedReply.of(answer.body).reasons or [""])[0]
    assert _periods(vee, 3) == [RelayPeriod(at(0, 9), None, D_)]
    # a connect command reported executed at 13:00, its event (13:01) after it
    vee.switch_by_command(3, CommandKind.CONNECT, at(0, 13))
    vee.relay_event(3, CONNECTED, at(0, 13) + 60)
    assert _periods(vee, 3) == [
        RelayPeriod(at(0, 9), at(0, 13), D_),
        RelayPeriod(at(0, 13), None, C_),
    ]
    # readings sent afterwards: zeros 09:00–13:00 (16 intervals, a run's length) while
    # disconnected, none flagged; no consumption inside the disconnection either
    vee.send(readings_message(meter(3), {KWH: with_zeros(day_of(0.5), at(0, 9), at(0, 13))}))
    assert vee.findings(3, "usage.zero") == []
    assert vee.findings(3, "usage.disconnected") == []


def test_the_relay_state_is_connected_disconnected_or_unknown_in_vee_context(
    vee: VeeHub,
) -> None:
    vee.relay_event(0, DISCONNECTED, at(0, 9))
    vee.relay_event(0, CONNECTED, at(0, 12))
    vee.relay_event(3, CONNECTED, at(-3, 8))  # reconnected days ago, never disconnected since
    vee.relay_event(1, DISCONNECTED, at(2, 8))  # disconnected only after the day asked for
    tenant, _, (m0, m1, m3, m4) = vee.ids(0, 1, 3, 4)
    with vee.hub.database.unit_of_work(tenant) as uow:
        got = StoreMasterData(uow).contexts(tenant, [m0, m1, m3, m4], D, at(1, 0))
    assert got[m0].disconnected == ((at(0, 9), at(0, 12)),)
    assert got[m3].disconnected == ()  # known: connected all day
    assert got[m1].disconnected is None and got[m4].disconnected is None  # unknown then
    with vee.hub.database.unit_of_work(tenant) as uow:
        later = StoreMasterData(uow).contexts(tenant, [m1], D, at(3, 0))
    assert later[m1].disconnected == ((at(2, 8), OPEN_END),)  # still open


def test_a_failed_disconnect_switches_nothing(vee: VeeHub) -> None:
    vee.relay_event(3, "3.31.0.84", at(0, 9))  # remote disconnect failed
    assert _periods(vee, 3) == []
    vee.send(readings_message(meter(3), {KWH: with_zeros(day_of(0.5), at(0, 9), at(0, 14))}))
    [zero] = vee.findings(3, "usage.zero")
    assert zero.count == 20


def _periods(vee: VeeHub, meter_no: int) -> list[RelayPeriod]:
    tenant, _, [m] = vee.ids(meter_no)
    with vee.hub.database.unit_of_work(tenant) as uow:
        return RelayRepository(uow).periods(tenant, [m]).get(m, [])


def _tamper(vee: VeeHub) -> list:
    return [e for e in vee.exceptions() if e.rule == "tamper.usage_while_disconnected"]
