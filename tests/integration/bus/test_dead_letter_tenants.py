"""Dead letters are their tenant's: an undeliverable event of a hub-wide subscription is
kept as the tenant's whose data it carries, and `cimhub dlq … --tenant` (and the bus's
list/get/replay with ``tenant``) reach that tenant's letters only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from cimhub.app import Hub
from cimhub.bus.dead_letter import get_letter, list_letters, replay
from cimhub.bus.pipeline import Inbound
from cimhub.cli import main
from cimhub.errors import UnknownObjectError
from cimhub.store.subscriptions import Subscription
from cimhub.testing.messages import created_meter_readings
from cimhub.testing.receiver import Receiver
from cimhub.testing.waiting import wait_until

DAY = datetime(2026, 3, 1, tzinfo=UTC)


def test_each_tenants_dead_letters_are_its_own(
    make_hub: Callable[..., Hub],
    receiver: Receiver,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub = make_hub()
    everyone = Subscription("billing", "MeterReadings", ("created",), receiver.url,
                            max_attempts=1, backoff_seconds=0.05)  # fmt: skip
    hub.bus.put_subscription(everyone)  # type: ignore[union-attr]
    receiver.fail_with = 503
    for meter, tenant in ((1, "t1"), (2, "t2")):
        raw = created_meter_readings([meter], DAY, 4)
        assert hub.pipeline.process(Inbound(raw, tenant, "http")).result.value == "OK"
    wait_until(lambda: len(list_letters(hub.database)) == 2)
    with hub.database.unit_of_work(hub=True) as uow:
        ids = {code: uow.tenants.find(code) for code in ("t1", "t2")}
    [of_t1] = list_letters(hub.database, tenant="t1")
    [of_t2] = list_letters(hub.database, tenant="t2")
    assert (of_t1.tenant_id, of_t2.tenant_id) == (ids["t1"], ids["t2"])
    assert get_letter(hub.database, of_t2.id, tenant="t1") is None
    with pytest.raises(UnknownObjectError):  # t2's letter is not t1's to replay
        replay(hub.database, of_t2.id, tenant="t1")
    with pytest.raises(UnknownObjectError):
        list_letters(hub.database, tenant="nobody")
    receiver.fail_with = None
    assert replay(hub.database, of_t1.id, tenant="t1", actor="op")
    assert [lt.id for lt in list_letters(hub.database)] == [of_t2.id]  # t2's untouched
    with hub.database.engine.connect() as c:
        audited = c.execute(text("SELECT tenant FROM audit_log WHERE action = "
                                 "'dead_letter.replay'")).scalars().all()  # fmt: skip
    assert audited == ["t1"]

    monkeypatch.setenv("CIMHUB_DATABASE_URL", database_url)
    assert main(["dlq", "list", "--tenant", "t1"]) == 0
    assert "0 dead letter(s)" in capsys.readouterr().out
    assert main(["dlq", "list", "--tenant", "t2", "--json"]) == 0
    assert f'"tenant_id": {ids["t2"]}' in capsys.readouterr().out
    assert main(["dlq", "show", str(of_t2.id), "--tenant", "t1"]) == 1
    assert main(["dlq", "replay", str(of_t2.id), "--tenant", "t1"]) == 1
    assert "not replayed" in capsys.readouterr().out
    assert main(["dlq", "list", "--tenant", "nobody"]) == 1
    assert "no tenant 'nobody'" in capsys.readouterr().err
    assert [lt.id for lt in list_letters(hub.database)] == [of_t2.id]
    assert replay(hub.database, of_t2.id, actor="op")  # hub-wide: audited as t2's all the same
    with hub.database.engine.connect() as c:
        audited = c.execute(text("SELECT tenant FROM audit_log WHERE action = "
                                 "'dead_letter.replay' ORDER BY id")).scalars().all()  # fmt: skip
    assert audited == ["t1", "t2"]
