"""Issue #6 done-when, reads: on PostgreSQL with RabbitMQ (serve publishes, a worker
handles) and Mosquitto, a CIM head-end and an MQTT head-end (the simulators) each leave a
missed-interval gap that the sweep re-acquires; a stale GetMeterReadings over AMQP gets
0.3 and then the readings its on-demand read brought."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kombu import Connection, Queue

from cimhub.adapters.profile import load_profile
from cimhub.domain.meter_read import Period
from cimhub.endpoints.amqp import request
from cimhub.settings import Settings
from cimhub.simulator.cim_head_end import HttpHes
from cimhub.simulator.mqtt_head_end import MqttHes
from cimhub.store.commands import HesEndpoint
from cimhub.testing import rabbitmq
from cimhub.testing.bus import FAST, ThreadWorker, with_async_reply
from cimhub.testing.commands import (
    TENANT,
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


def test_gaps_are_re_acquired_and_a_stale_query_is_read_on_demand_over_rabbitmq(
    settings: Settings, tmp_path: Path
) -> None:
    worker = ThreadWorker(settings)
    with running_hub(settings) as (hub, base), _closing(worker):
        cim = HttpHes(base, name="HES-SIM", tenant=TENANT).up()
        mqtt = MqttHes(MQTT_URL, load_profile("vendor-a"), settings.mqtt_topic_prefix).start()
        try:
            seed_meters(hub, tmp_path, {"M-1": "HES-SIM", "M-2": "HES-MQ"})
            set_endpoint(hub, HesEndpoint("HES-SIM", "soap", cim.url))
            set_endpoint(hub, HesEndpoint("HES-MQ", "mqtt", vendor="vendor-a"))
            hub.start_commands()
            wait_until(lambda: hub.commands.mqtt.connected)
            start = int(time.time()) // STEP * STEP - 10 * 3600
            gaps = {
                "M-1": send_with_a_gap(cim, "M-1", start),
                "M-2": send_with_a_gap(mqtt, "SN-M-2", start),
            }
            wait_until(lambda: len(open_gaps(hub)) == 2, timeout=60)

            assert hub.sweep_rereads()[TENANT]["asked"] == 2
            periods = sorted((r.meter_id, r.command.period) for r in read_commands(hub))
            assert [p for _m, p in periods] == [Period(g[0] - STEP, g[-1]) for g in gaps.values()]
            wait_until(lambda: open_gaps(hub) == [], timeout=60)
            for mrid, gap in gaps.items():
                assert qualities(base, mrid, gap, KWH_15MIN) == ["3.0.1"] * len(gap)
            assert hub.sweep_rereads()[TENANT]["asked"] == 0

            full = stale_query_over_amqp(settings, "M-1")
        finally:
            cim.down()
            mqtt.stop()
    fresh = max(ts for *_, ts in full.readings())
    assert full.codes == ["0.0"] and fresh > max(gaps["M-1"]) + 10 * STEP
    assert [r.command.state.value for r in read_commands(hub)] == ["executed"] * 3


@contextmanager
def _closing(worker: ThreadWorker) -> Iterator[None]:
    try:
        yield
    finally:
        worker.close()


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
