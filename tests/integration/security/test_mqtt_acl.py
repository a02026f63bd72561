"""A head-end may publish only its own MQTT topics: `cimhub mqtt login` and `cimhub mqtt
acl` configure a real, second Mosquitto (started here on a free port with the files they
wrote), and the hub's adapter, connected as the hub's broker user, sees only what each
head-end may send; unknown clients are refused; commands reach only their head-end."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.reasoncodes import ReasonCode

from cimhub.adapters.mqtt import MqttAdapter
from cimhub.adapters.profile import load_profile
from cimhub.app import Hub
from cimhub.cli import main
from cimhub.settings import Settings
from cimhub.simulator.mqtt_head_end import MqttHes
from cimhub.store.commands import CommandRepository, HesEndpoint
from cimhub.store.database import Database
from cimhub.testing.commands import CONNECT, HEADERS, TENANT, command, control, seed_meters
from cimhub.testing.mosquitto import mosquitto
from cimhub.testing.server import running_hub
from cimhub.testing.waiting import wait_until

HUB_PASSWORD = "hub-broker-password-for-tests"
T0 = 1_718_425_800
VENDOR_A = load_profile("vendor-a")


@dataclass
class Broker:
    hub: Hub
    base: str
    port: int
    prefix: str
    passwords: dict[str, str]  # head-end → its broker password

    def topic(self, hes: str, kind: str = "readings", tenant: str = TENANT) -> str:
        return VENDOR_A.topic(kind, f"{self.prefix}/{tenant}/{hes}")

    def url(self, hes: str) -> str:
        return f"mqtt://{TENANT}.{hes}:{self.passwords[hes]}@127.0.0.1:{self.port}"


def issue(database_url: str, hes: str, capsys: pytest.CaptureFixture[str]) -> str:
    """An MQTT head-end of vendor A and its broker login (`cimhub mqtt login`): its password."""
    database = Database(database_url)
    database.upgrade()
    with database.unit_of_work(hub=True) as uow:
        endpoint = HesEndpoint(hes, "mqtt", vendor="vendor-a")
        CommandRepository(uow).put_endpoint(uow.tenants.ensure(TENANT), endpoint)
    database.dispose()
    capsys.readouterr()
    assert main(["mqtt", "login", hes, "--tenant", TENANT]) == 0
    user, password = capsys.readouterr().out.splitlines()[-2:]
    assert user == f"user {TENANT}.{hes}"
    return password.removeprefix("password ")


@pytest.fixture
def broker(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Broker]:
    prefix = f"acl-{uuid.uuid4().hex[:8]}"
    env = {
        "DATABASE_URL": database_url,
        "MQTT_TOPIC_PREFIX": prefix,
        "MQTT_VENDORS": "vendor-a",
        "MQTT_URL": f"mqtt://cimhub-hub:{HUB_PASSWORD}@127.0.0.1:1883",
    }
    for name, value in env.items():
        monkeypatch.setenv(f"CIMHUB_{name}", value)
    passwords = {hes: issue(database_url, hes, capsys) for hes in ("HES-A", "HES-B")}
    files = tmp_path / "broker"
    assert main(["mqtt", "acl", "--out", str(files)]) == 0
    assert (files / "password_file").stat().st_mode & 0o077 == 0  # secrets: owner only
    conf = (files / "cimhub-mosquitto.conf").read_text()
    with mosquitto(conf, tmp_path) as port:
        settings = Settings(
            database_url=database_url,
            default_tenant="elsewhere",
            mqtt_url=f"mqtt://cimhub-hub:{HUB_PASSWORD}@127.0.0.1:{port}",
            mqtt_vendors="vendor-a",
            mqtt_topic_prefix=prefix,
        )
        with running_hub(settings) as (hub, base):
            hub.start_commands()
            wait_until(lambda: hub.commands.mqtt.connected)
            yield Broker(hub, base, port, prefix, passwords)


def client(port: int, user: str | None, password: str | None) -> tuple[mqtt.Client, list[Any]]:
    """An MQTT 5 client (its broker answers say why), connected; and its CONNACK."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if user:
        c.username_pw_set(user, password)
    answers: list[Any] = []
    c.on_connect = lambda _c, _u, _f, code, _p: answers.append(code)
    c.connect("127.0.0.1", port)
    c.loop_start()
    wait_until(lambda: answers)
    return c, answers


def publish(c: mqtt.Client, topic: str, body: dict[str, Any]) -> ReasonCode:
    """Publish QoS 1; the broker's PUBACK reason."""
    acks: dict[int, ReasonCode] = {}
    c.on_publish = lambda _c, _u, mid, code, _p: acks.__setitem__(mid, code)
    info = c.publish(topic, json.dumps(body), qos=1)
    wait_until(lambda: info.mid in acks)
    return acks[info.mid]


def block(meter: str, kwh_wh: int) -> dict[str, Any]:
    spec, ts = VENDOR_A.readings, datetime.fromtimestamp(T0 + 900, UTC).isoformat()
    return {spec["meter"]: meter, spec["list"]: [{"ts": ts, "1.0.1.29.0.255": kwh_wh}]}


def test_a_head_end_publishes_only_on_its_own_topics(broker: Broker, tmp_path: Path) -> None:
    seed_meters(broker.hub, tmp_path, {"M-A": "HES-A", "M-B": "HES-B"})
    a, connack = client(broker.port, f"{TENANT}.HES-A", broker.passwords["HES-A"])
    try:
        assert not connack[0].is_failure
        as_b = publish(a, broker.topic("HES-B"), block("SN-M-B", 999))
        shared = publish(a, VENDOR_A.topic("readings", broker.prefix), block("SN-M-B", 999))
        other_tenant = publish(a, broker.topic("HES-A", tenant="elsewhere"), block("SN-M-A", 9))
        own = publish(a, broker.topic("HES-A"), block("SN-M-A", 125))
    finally:
        a.disconnect()
        a.loop_stop()
    assert [str(r) for r in (as_b, shared, other_tenant)] == ["Not authorized"] * 3
    assert not own.is_failure
    adapter = broker.hub.commands.mqtt
    wait_until(lambda: adapter.answers)  # A's own message, published after the refused ones
    assert adapter.answers == [(broker.topic("HES-A"), "OK")]  # the broker kept order
    assert adapter.rejected == []


@pytest.mark.parametrize(
    ("user", "password"),
    [(f"{TENANT}.HES-A", "not its password"), ("intruder", "whatever"), (None, None)],
    ids=["wrong-password", "unknown-user", "anonymous"],
)
def test_unknown_clients_are_refused(broker: Broker, user: str | None, password: str) -> None:
    c, connack = client(broker.port, user, password)
    c.loop_stop()
    assert str(connack[0]) == "Not authorized"


def test_commands_reach_only_their_head_end(broker: Broker, tmp_path: Path) -> None:
    seed_meters(broker.hub, tmp_path, {"M-C": "HES-A", "M-D": "HES-B"})
    b, _ = client(broker.port, f"{TENANT}.HES-B", broker.passwords["HES-B"])
    seen: list[str] = []
    b.on_message = lambda _c, _u, msg: seen.append(msg.topic)
    for hes in ("HES-A", "HES-B"):  # the broker grants the filter, but delivers by the ACL
        b.subscribe(VENDOR_A.topic("command", f"{broker.prefix}/{TENANT}/{hes}"), qos=1)
    sim = MqttHes(broker.url("HES-A"), VENDOR_A, f"{broker.prefix}/{TENANT}/HES-A").start()
    try:
        post = {"headers": HEADERS}
        httpx.post(f"{broker.base}/cim", content=control("C-A", CONNECT, "M-C"), **post)
        done = wait_until(lambda: (c := command(broker.base, "C-A"))["state"] == "executed" and c)
        httpx.post(f"{broker.base}/cim", content=control("C-B", CONNECT, "M-D"), **post)
        wait_until(lambda: seen)  # B's own command, published after A's
    finally:
        sim.stop()
        b.disconnect()
        b.loop_stop()
    assert done["transitions"][-1]["state"] == "executed"  # A's status came back on its topic
    assert [c[VENDOR_A.commands["meter"]] for c in sim.received] == ["SN-M-C"]
    assert seen == [VENDOR_A.topic("command", f"{broker.prefix}/{TENANT}/HES-B", meter="SN-M-D")]


def test_the_adapter_refuses_head_ends_it_holds_no_login_for() -> None:
    """Behind the broker's ACL, the hub checks again: a head-end topic it has no login for
    is refused and dead-lettered (here on the shared broker, which has no ACL)."""
    prefix, got, letters = f"acl-{uuid.uuid4().hex[:8]}", [], []
    adapter = MqttAdapter(
        "mqtt://127.0.0.1:1883",
        [VENDOR_A],
        lambda raw, tenant: got.append(tenant) or "OK",
        tenant="default",
        prefix=prefix,
        head_ends=lambda _tenant, hes: "vendor-a" if hes == "HES-A" else None,
        dead_letter=lambda topic, reason, _body: letters.append((topic, reason)),
    )
    adapter.start()
    rows = block("SN-1", 1)[VENDOR_A.readings["list"]]
    try:
        wait_until(lambda: adapter.connected)
        stranger = MqttHes("mqtt://127.0.0.1:1883", VENDOR_A, f"{prefix}/t9/HES-X").start()
        known = MqttHes("mqtt://127.0.0.1:1883", VENDOR_A, f"{prefix}/t9/HES-A").start()
        try:
            stranger.publish_block_load("SN-1", rows)
            known.publish_block_load("SN-1", rows)
            wait_until(lambda: got and letters)
        finally:
            stranger.stop()
            known.stop()
    finally:
        adapter.stop()
    assert got == ["t9"]  # the known head-end's message, for its tenant
    assert letters == [
        (
            f"{prefix}/t9/HES-X/vendor-a/blockload",
            "6.1 no MQTT head-end 'HES-X' of vendor 'vendor-a' in tenant 't9'",
        )
    ]


def test_our_hash_is_the_one_mosquitto_passwd_makes(tmp_path: Path) -> None:
    """The machine's own mosquitto_passwd, given the same salt, computes the same hash."""
    import base64
    import subprocess

    from cimhub.domain.mqtt_login import mosquitto_hash

    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), "hes", "s3cret pass"],
                   check=True, capture_output=True, timeout=30)  # fmt: skip
    theirs = passwords.read_text().strip().split(":", 1)[1]
    salt = base64.b64decode(theirs.split("$")[3])
    assert mosquitto_hash("s3cret pass", salt) == theirs
