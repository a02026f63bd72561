"""Issue #6 done-when, reads: on PostgreSQL with RabbitMQ (serve publishes, a worker
handles) and Mosquitto, a CIM head-end (asked with GetMeterReadings over SOAP, through its
WSDLs; it answers with the readings) and an MQTT head-end (the simulators) each leave a
missed-interval gap and then fall silent: the sweep re-acquires both. A stale
GetMeterReadings over AMQP for a meter of a third head-end, which answers reads later as
``created MeterReadings``, gets 0.3 and then the readings its on-demand read brought."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from kombu import Connection, Queue

from cimhub.adapters.profile import load_profile
from cimhub.app import sweep_rereads
from cimhub.domain.meter_read import Period
from cimhub.endpoints.amqp import request
from cimhub.settings import Settings
from cimhub.simulator.behaviour import Behaviour
from cimhub.simulator.cim_head_end import HttpHes
from cimhub.simulator.mqtt_head_end import MqttHes
from cimhub.simulator.profiles import Batch
from cimhub.store.commands import HesEndpoint
from cimhub.testing import rabbitmq
from cimhub.testing.bus import FAST, ThreadWorker, with_async_reply
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
from cimhub.testing.databases import postgres_database
from cimhub.testing.messages import KWH_15MIN, get_meter_readings
from cimhub.testing.replies import ParsedReply
from cimhub.testing.server import running_hub
from cimhub.testing.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
MQTT_URL = "mqtt://127.0.0.1:1883"
STEP = 900


@pytest.fixture
def settings() -> Iterator[Settings]:
    if not rabbitmq.available():
        pytest.skip("RabbitMQ (and rabbitmqctl) not available")
    with postgres_database() as pg_url, rabbitmq.vhost() as vhost:
        yield Settings(
            database_url=pg_url, broker_url=rabbitmq.url(vhost), mqtt_url=MQTT_URL,
            mqtt_vendors="vendor-a", mqtt_topic_prefix=f"e2e-{uuid.uuid4().hex[:10]}",
            default_tenant=TENANT, on_demand_stale_minutes=60, **FAST,  # type: ignore[arg-type]
        )  # fmt: skip


def test_gaps_and_silence_are_re_acquired_and_a_stale_query_is_read_on_demand_over_rabbitmq(
    settings: Settings, tmp_path: Path
) -> None:
    with closing(ThreadWorker(settings)), running_hub(settings) as (hub, base):
        cim = HttpHes(base, name="HES-SIM", tenant=TENANT).up()
        late = HttpHes(base, name="HES-LATE", tenant=TENANT, read_reply="async",
                       behaviour=Behaviour(outcome_delay=(0.5, 1.5))).up()  # fmt: skip
        mqtt = MqttHes(MQTT_URL, load_profile("vendor-a"), settings.mqtt_topic_prefix).start()
        try:
            seed_meters(hub, tmp_path, {"M-1": "HES-SIM", "M-2": "HES-MQ", "M-3": "HES-LATE"})
            set_endpoint(hub, HesEndpoint("HES-SIM", "soap", cim.wsdl_urls))
            set_endpoint(hub, HesEndpoint("HES-LATE", "http", late.url))
            set_endpoint(hub, HesEndpoint("HES-MQ", "mqtt", vendor="vendor-a"))
            hub.start_commands()
            wait_until(lambda: hub.commands.mqtt.connected)
            start = int(time.time()) // STEP * STEP - 10 * 3600
            gaps = {
                "M-1": send_with_a_gap(cim, "M-1", start),
                "M-2": send_with_a_gap(mqtt, "SN-M-2", start),
            }
            wait_until(lambda: len(open_gaps(hub)) == 2, timeout=60)

            at = int(time.time())
            assert sweep_rereads(hub.database, hub.settings, at)[TENANT]["asked"] == 4
            reads = read_commands(hub)
            periods = [r.command.period for r in sorted(reads, key=lambda r: r.meter_id)]
            newest, now = start + 24 * STEP, at // STEP * STEP  # silent since their last block
            assert periods == [
                period for g in gaps.values() for period in (Period(g[0] - STEP, g[-1]),
                                                             Period(newest, now))
            ]  # fmt: skip
            wait_until(lambda: open_gaps(hub) == [], timeout=60)
            wait_until(lambda: {r.command.state.value for r in read_commands(hub)} == {"executed"})
            for mrid, gap in gaps.items():
                assert delivered(qualities(base, mrid, [*gap, now], KWH_15MIN))
            again = sweep_rereads(hub.database, hub.settings)[TENANT]
            assert (again["asked"], again["closed"], again["silent"]) == (0, 4, 0)

            m3 = late.generator.meter("M-3")  # three hours old: stale, not yet silent
            late.send(Batch(blocks=late.generator.blocks(m3, now - 4 * 3600, now - 3 * 3600)))
            full = stale_query_over_amqp(settings, "M-3")
        finally:
            cim.down()
            late.down()
            mqtt.stop()
        # read while the hub runs: after close() a read opens a connection nobody closes
        reads = read_commands(hub)
    fresh = max(ts for *_, ts in full.readings())
    assert full.codes == ["0.0"] and fresh >= now
    assert [r.command.state.value for r in reads] == ["executed"] * 5
    assert [(m, k) for m, k, _ in late.received] == [(reads[-1].command.mrid, "read")]
    assert [(m, s) for m, s, _ in late.reported] == [(reads[-1].command.mrid, "executed")]


def stale_query_over_amqp(settings: Settings, meter: str) -> ParsedReply:
    """An integrator's asynchronous GetMeterReadings on the AMQP transport: 0.3 on
    reply_to, the full reply later on its ReplyAddress queue."""
    with Connection(settings.broker_url) as connection:
        queue = Queue(f"billing.replies.{uuid.uuid4().hex[:6]}", durable=True)
        bound = queue(connection.default_channel)
        bound.declare()
        body = with_async_reply(get_meter_readings([meter]), f"amqp:{queue.name}")
        ack = request(settings.broker_url, body, tenant=TENANT, timeout=30)
        assert ParsedReply.of(ack.body).codes == ["0.3"]
        message = wait_until(lambda: bound.get(no_ack=True), timeout=60)
    return ParsedReply.of(message.body)
