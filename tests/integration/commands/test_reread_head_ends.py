"""Missed intervals re-acquired from the simulated head-ends: a CIM one (asked with a
GetMeterReadings over SOAP) and a vendor one over the real Mosquitto send six hours with a
gap, then nothing; the sweep asks each for exactly the gap's period, and — the meter
being silent since — for everything after its newest reading; each answers from its
meters' memory; the gap closes and the meter reports again."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cimhub.adapters.profile import load_profile
from cimhub.app import Hub, sweep_rereads
from cimhub.domain.meter_read import Period
from cimhub.simulator.cim_head_end import HttpHes
from cimhub.simulator.mqtt_head_end import MqttHes
from cimhub.store.commands import HesEndpoint
from cimhub.testing.commands import (
    TENANT,
    delivered,
    open_gaps,
    qualities,
    read_commands,
    seed_meters,
    send_with_a_gap,
    set_endpoint,
)
from cimhub.testing.messages import KWH_15MIN
from cimhub.testing.waiting import wait_until

MQTT_URL = "mqtt://127.0.0.1:1883"
STEP = 900


def day_start() -> int:
    """Ten hours ago: the gap of ``send_with_a_gap`` ends seven hours ago (past the wait)."""
    return int(time.time()) // STEP * STEP - 10 * 3600


def re_acquire(hub: Hub, base: str, mrid: str, gap: list[int]) -> int:
    """One sweep asks one read of exactly the gap and one of what followed the newest
    reading (the meter fell silent); the head-end's readings execute both and close the
    gap. The newest reading's time."""
    wait_until(lambda: [g[1:] for g in open_gaps(hub)] == [(gap[0], gap[-1])])
    at = int(time.time())
    assert sweep_rereads(hub.database, hub.settings, at)[TENANT]["asked"] == 2
    newest = gap[-1] + 12 * STEP  # send_with_a_gap's 24 blocks, the gap at 8–11
    assert [r.command.period for r in read_commands(hub)] == [
        Period(gap[0] - STEP, gap[-1]), Period(newest, at // STEP * STEP)
    ]  # fmt: skip
    wait_until(lambda: open_gaps(hub) == [])  # the head-end re-acquired the period
    wait_until(lambda: {r.command.state.value for r in read_commands(hub)} == {"executed"})
    assert delivered(qualities(base, mrid, gap, KWH_15MIN))
    assert delivered(qualities(base, mrid, [at // STEP * STEP], KWH_15MIN))  # up to now
    again = sweep_rereads(hub.database, hub.settings)[TENANT]
    assert (again["asked"], again["closed"], again["silent"]) == (0, 2, 0)
    assert sweep_rereads(hub.database, hub.settings)[TENANT]["asked"] == 0
    return newest


def test_a_cim_head_end_re_reads_exactly_the_missing_period(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve()
    sim = HttpHes(base, name="HES-SIM", tenant=TENANT).up()
    try:
        seed_meters(hub, tmp_path, {"M-1": "HES-SIM"})
        set_endpoint(hub, HesEndpoint("HES-SIM", "soap", sim.url))
        hub.start_commands()
        gap = send_with_a_gap(sim, "M-1", day_start())

        re_acquire(hub, base, "M-1", gap)
    finally:
        sim.down()
    reads = read_commands(hub)
    assert [(m, k) for m, k, _meter in sim.received] == [(r.command.mrid, "read") for r in reads]


def test_an_mqtt_head_end_re_reads_exactly_the_missing_period(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    hub, base = serve(mqtt_url=MQTT_URL, mqtt_vendors="vendor-a", mqtt_topic_prefix=prefix,
                      default_tenant=TENANT)  # fmt: skip
    profile = load_profile("vendor-a")
    sim = MqttHes(MQTT_URL, profile, prefix).start()
    try:
        seed_meters(hub, tmp_path, {"M-2": "HES-MQ"})
        set_endpoint(hub, HesEndpoint("HES-MQ", "mqtt", vendor="vendor-a"))
        hub.start_commands()
        wait_until(lambda: hub.commands.mqtt.connected)
        gap = send_with_a_gap(sim, "SN-M-2", day_start())

        newest = re_acquire(hub, base, "M-2", gap)
    finally:
        sim.stop()
    spec = profile.commands
    assert [c[spec["action"]] for c in sim.received] == [profile.command_words["read"]] * 2
    asked = [(c[spec["from"]], c[spec["to"]]) for c in sim.received]
    silent = read_commands(hub)[1].command.period
    assert asked == [(_iso(gap[0] - STEP), _iso(gap[-1])), (_iso(newest), _iso(silent.end))]


def _iso(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()
