"""When the store cannot say who a caller is, the answer is a technical 5.1 (try again),
never a 401 and never a crash."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import make_url

from cimhub.settings import Settings
from cimhub.testing.databases import postgres_database
from cimhub.testing.messages import created_meter_readings
from cimhub.testing.proxy import TcpProxy
from cimhub.testing.replies import ParsedReply
from cimhub.testing.security import JWT_SECRET, provision
from cimhub.testing.server import running_hub

pytestmark = pytest.mark.postgres
DAY = datetime(2026, 11, 20, tzinfo=UTC)


def test_authentication_during_a_database_outage_answers_5_1() -> None:
    with postgres_database() as db:
        keys = provision(db)
        url = make_url(db)
        with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
            via_proxy = url.set(port=proxy.port).render_as_string(hide_password=False)
            with running_hub(Settings(database_url=via_proxy, jwt_secret=JWT_SECRET)) as (_, base):
                auth = {"Authorization": f"Bearer {keys['hes-a']}"}
                proxy.cut()
                cim = httpx.post(f"{base}/cim", content=created_meter_readings([1], DAY, 4),
                                 headers={"Content-Type": "application/xml", **auth})  # fmt: skip
                assert cim.status_code == 503
                assert ParsedReply.of(cim.content).codes == ["5.1"]
                reader = {"Authorization": f"Bearer {keys['ro-a']}"}
                rest = httpx.get(f"{base}/api/v1/tenants/a", headers=reader)
                assert rest.status_code == 503 and rest.json()["code"] == "5.1"
                proxy.restore()
                again = httpx.get(f"{base}/api/v1/tenants/a", headers=reader)
                assert again.status_code == 200
