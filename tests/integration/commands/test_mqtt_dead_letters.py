"""MQTT payloads that do not fit their vendor profile, on the real Mosquitto: the rows that
fit land, each row that does not is dead-lettered with its reason; once the profile is
fixed, `cimhub dlq replay` sends those rows through (audited, once)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cimhub.adapters.profile import load_profile
from cimhub.cli import main
from cimhub.simulator.mqtt_head_end import MqttHes
from cimhub.store.audit import AuditLog
from cimhub.store.dead_letters import EVERY_TENANT, DeadLetterRepository
from cimhub.store.models import IntervalReading
from cimhub.testing.commands import TENANT, seed_meters
from cimhub.testing.waiting import wait_until

MQTT_URL = "mqtt://127.0.0.1:1883"
T0 = 1_718_425_800
SHIPPED = Path(__file__).parents[3] / "src/cimhub/adapters/profiles/vendor-b.toml"


def stamps(hub: Any) -> list[int]:
    with hub.database.unit_of_work(hub=True) as uow:
        return list(uow.session.scalars(select(IntervalReading.ts).order_by(IntervalReading.ts)))


def letters(hub: Any, *, include_replayed: bool = False) -> list[Any]:
    with hub.database.unit_of_work(hub=True) as uow:
        return DeadLetterRepository(uow).list(EVERY_TENANT, include_replayed=include_replayed)


def test_rows_that_do_not_fit_are_dead_lettered_and_replayed_once_the_profile_is_fixed(
    serve: Callable[..., Any], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile_file = tmp_path / "vendor-b.toml"
    profile_file.write_text(SHIPPED.read_text())
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    hub, _base = serve(mqtt_url=MQTT_URL, mqtt_vendors=str(profile_file),
                       mqtt_topic_prefix=prefix, default_tenant=TENANT)  # fmt: skip
    hub.start_commands()
    wait_until(lambda: hub.commands.mqtt.connected)
    seed_meters(hub, tmp_path, {"M-B": "HES-B"})
    sim = MqttHes(MQTT_URL, load_profile("vendor-b"), prefix).start()
    try:  # a firmware upgrade half-way through the batch: the last rows say "ts", not "t"
        rows = [{"t": T0 + 1800 * n, "obis": "1.0.1.29.0.255", "v": 0.5 * n} for n in (1, 2)]
        rows += [{"ts": T0 + 1800 * n, "obis": "1.0.1.29.0.255", "v": 0.5 * n} for n in (3, 4)]
        sim.publish("readings", {"devId": "SN-M-B", "data": rows})
        wait_until(lambda: len(stamps(hub)) == 2 and len(letters(hub)) == 2)
    finally:
        sim.stop()
    assert stamps(hub) == [T0 + 1800, T0 + 3600]
    refused = letters(hub)
    assert {(lt.queue, lt.reason) for lt in refused} == {
        (f"mqtt:{prefix}/vendor-b/data/lp", "2.1 time field 't' missing")
    }
    assert all(lt.headers["tenant"] == TENANT for lt in refused)
    with hub.database.unit_of_work(hub=True) as uow:
        owner = uow.tenants.find(TENANT)
    assert owner and all(lt.tenant_id == owner for lt in refused)  # the tenant's letters

    env = {"CIMHUB_DATABASE_URL": database_url, "CIMHUB_MQTT_VENDORS": str(profile_file),
           "CIMHUB_MQTT_TOPIC_PREFIX": prefix, "CIMHUB_DEFAULT_TENANT": TENANT}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["dlq", "replay"]) == 1  # the profile still says "t": nothing goes
    assert len(letters(hub)) == 2 and stamps(hub) == [T0 + 1800, T0 + 3600]

    profile_file.write_text(SHIPPED.read_text().replace('time = "t"', 'time = "ts"', 1))
    assert main(["dlq", "replay", "--tenant", TENANT]) == 0
    assert stamps(hub) == [T0 + 1800 * n for n in (1, 2, 3, 4)]
    assert letters(hub) == []
    assert main(["dlq", "replay", *(str(lt.id) for lt in refused)]) == 0  # already: no-op
    with hub.database.unit_of_work(hub=True) as uow:
        audited = [e for e in AuditLog(uow).entries() if e.action == "dead_letter.replay"]
    assert sorted(e.object for e in audited) == sorted(f"dead_letter:{lt.id}" for lt in refused)
    assert all(e.actor.startswith("cli") and e.tenant == TENANT for e in audited)
