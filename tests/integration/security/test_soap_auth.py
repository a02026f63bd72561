"""SOAP callers authenticate with a WS-Security UsernameToken (OASIS UsernameToken Profile):
PasswordText with an API key or a user's password, PasswordDigest with a key the hub can
decrypt; stale, replayed and wrong tokens get a Fault carrying code 6.1."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import zeep
from zeep.exceptions import Fault
from zeep.wsse.username import UsernameToken

from cimhub.endpoints.auth import password_digest
from cimhub.testing.messages import KWH_15MIN, interval_stamps, meter_mrid
from cimhub.testing.security import PASSWORD, Secured

DAY = datetime(2026, 11, 20, tzinfo=UTC)
SOAP_XML = {"Content-Type": "text/xml; charset=utf-8"}
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"


def send(secured: Secured, wsse: UsernameToken | None, meter: int = 1) -> object:
    client = zeep.Client(f"{secured.base}/soap/ReceiveMeterReadings?wsdl", wsse=wsse)
    return client.service.CreatedMeterReadings(
        Header={"Verb": "created", "Noun": "MeterReadings", "Source": "HES-SOAP"},
        Payload={
            "MeterReadings": {
                "MeterReading": [
                    {
                        "IntervalBlocks": [
                            {
                                "IntervalReadings": [
                                    {"timeStamp": t, "value": "1.5"}
                                    for t in interval_stamps(DAY, 4)
                                ],
                                "ReadingType": {"ref": KWH_15MIN},
                            }
                        ],
                        "Meter": {"mRID": meter_mrid(meter)},
                    }
                ]
            }
        },
    )


def test_password_text_with_an_api_key(secured: Secured) -> None:
    key = secured.keys["hes-a"]
    reply = send(secured, UsernameToken(key.split(".")[0], key))
    assert reply.Reply.Result == "OK"


def test_password_text_with_a_users_password(secured: Secured) -> None:
    assert send(secured, UsernameToken("asha", PASSWORD)).Reply.Result == "OK"


def test_password_digest_with_a_digest_credential(secured: Secured) -> None:
    key = secured.keys["digest-hes"]
    reply = send(secured, UsernameToken(key.split(".")[0], key, use_digest=True))
    assert reply.Reply.Result == "OK"


@pytest.mark.parametrize(
    "token",
    [
        None,
        UsernameToken("asha", "not the password"),
        UsernameToken("ck_000000000000", "ck_000000000000.forged"),
    ],
    ids=["no-token", "wrong-password", "wrong-key"],
)
def test_missing_or_wrong_token_gets_a_fault_6_1(
    secured: Secured, token: UsernameToken | None
) -> None:
    with pytest.raises(Fault, match=r"6\.1"):
        send(secured, token)


def test_a_digest_for_a_credential_without_digest_is_refused(secured: Secured) -> None:
    key = secured.keys["hes-a"]
    with pytest.raises(Fault, match=r"6\.1"):
        send(secured, UsernameToken(key.split(".")[0], key, use_digest=True))


def test_a_read_only_credential_gets_a_6_2_reply(secured: Secured) -> None:
    key = secured.keys["ro-a"]
    reply = send(secured, UsernameToken(key.split(".")[0], key))
    assert reply.Reply.Result == "FAILED"
    assert reply.Reply.Error[0].code == "6.2"


def envelope(name: str, password: str, nonce: bytes, created: str, digest: bool) -> bytes:
    kind = "PasswordDigest" if digest else "PasswordText"
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
<soapenv:Header><wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>
<wsse:Username>{name}</wsse:Username>
<wsse:Password Type="{PROFILE}#{kind}">{password}</wsse:Password>
<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce><wsu:Created>{created}</wsu:Created>
</wsse:UsernameToken></wsse:Security></soapenv:Header>
<soapenv:Body><GetMeterReadings xmlns="http://iec.ch/TC57/2011/GetMeterReadingsMessage"
 xmlns:msg="http://iec.ch/TC57/2011/schema/message"><Header><msg:Verb>get</msg:Verb>
<msg:Noun>MeterReadings</msg:Noun></Header><Request><GetMeterReadings
 xmlns="http://iec.ch/TC57/2011/GetMeterReadings#"><EndDevice><mRID>{meter_mrid(1)}</mRID>
</EndDevice></GetMeterReadings></Request></GetMeterReadings></soapenv:Body></soapenv:Envelope>"""
    return body.encode()


def digest_call(secured: Secured, nonce: bytes, created: datetime, digest: str | None = None):
    key = secured.keys["digest-hes"]
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    token = digest or password_digest(nonce, stamp, key)
    body = envelope(key.split(".")[0], token, nonce, stamp, digest=True)
    return httpx.post(f"{secured.base}/soap/GetMeterReadings", content=body, headers=SOAP_XML)


def test_raw_digest_is_accepted_once_and_its_replay_refused(secured: Secured) -> None:
    nonce, now = os.urandom(16), datetime.now(UTC)
    first = digest_call(secured, nonce, now)
    assert first.status_code == 200, first.text
    assert "6.1" not in first.text
    replay = digest_call(secured, nonce, now)
    assert replay.status_code == 500
    assert "6.1" in replay.text and "replayed" in replay.text


def test_a_bad_digest_is_refused(secured: Secured) -> None:
    reply = digest_call(secured, os.urandom(16), datetime.now(UTC), digest="AAAAAAAAAAAAAAAAAAAA")
    assert reply.status_code == 500
    assert "6.1" in reply.text and "does not match" in reply.text


def test_a_stale_created_is_refused(secured: Secured) -> None:
    reply = digest_call(secured, os.urandom(16), datetime.now(UTC) - timedelta(hours=1))
    assert reply.status_code == 500
    assert "outside the window" in reply.text
