"""Master data over SOAP, with a zeep client built from our own WSDLs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import zeep

from cimhub.settings import Settings
from cimhub.testing.server import running_hub


@pytest.fixture
def base(database_url: str) -> Iterator[str]:
    with running_hub(Settings(database_url=database_url)) as (_, url):
        yield url


def test_create_a_meter_and_get_its_lifecycle_over_soap(base: str) -> None:
    execute = zeep.Client(f"{base}/soap/ExecuteMeterConfig?wsdl")
    reply = execute.service.CreateMeterConfig(
        Header={"Verb": "create", "Noun": "MeterConfig", "MessageID": "soap-meter-1"},
        Payload={
            "MeterConfig": {
                "Meter": [
                    {
                        "mRID": "MH7000001",
                        "serialNumber": "MH7000001",
                        "status": {"value": "inStore", "reason": "received"},
                    }
                ]
            }
        },
    )
    assert (reply.Reply.Result, reply.Reply.Error[0].code) == ("OK", "0.0")
    again = execute.service.CreateMeterConfig(
        Header={"Verb": "create", "Noun": "MeterConfig", "MessageID": "soap-meter-2"},
        Payload={"MeterConfig": {"Meter": [{"mRID": "MH7000002", "serialNumber": "MH7000001"}]}},
    )
    assert (again.Reply.Result, again.Reply.Error[0].code) == ("FAILED", "3.3")
    query = zeep.Client(f"{base}/soap/GetMeterConfig?wsdl")
    answer = query.service.GetMeterConfig(
        Header={"Verb": "get", "Noun": "MeterConfig"},
        Request={"GetMeterConfig": {"_value_1": [{"Meter": {"mRID": "MH7000001"}}]}},
    )
    assert answer.Reply.Result == "OK"
    (meter,) = answer.Payload.MeterConfig.Meter
    assert (meter.mRID, meter.status.value) == ("MH7000001", "received_in_store")
