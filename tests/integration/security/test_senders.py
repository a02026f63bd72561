"""Who an AMQP message is from, decided without a broker: BusMessages as the worker gets them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cimhub.bus import topology
from cimhub.bus.broker import BusMessage
from cimhub.bus.senders import Senders
from cimhub.errors import NotAuthenticatedError, NotPermittedError
from cimhub.settings import Settings
from cimhub.store.database import Database
from cimhub.testing.security import provision


@pytest.fixture
def keys(database_url: str) -> dict[str, str]:
    return provision(database_url)


@pytest.fixture
def senders(database_url: str, keys: dict[str, str]) -> Iterator[Senders]:
    database = Database(database_url)
    yield Senders(Settings(database_url=database_url), database, own_user="hub")
    database.dispose()


def message(user_id: str | None, **headers: str) -> BusMessage:
    return BusMessage(b"<x/>", dict(headers), topology.INBOUND, user_id=user_id)


def test_a_credentials_user_is_that_credential(senders: Senders, keys: dict[str, str]) -> None:
    prefix = keys["hes-a"].split(".")[0]
    principal = senders.principal(message(prefix))
    assert principal is not None
    assert (principal.name, principal.tenant) == ("hes-a", "a")
    assert principal.allows("MeterReadings.created") and not principal.allows("MeterReadings.get")


def test_the_hubs_own_messages_need_no_check_but_keep_a_retried_sender(
    senders: Senders, keys: dict[str, str]
) -> None:
    assert senders.principal(message("hub")) is None
    prefix = keys["ro-a"].split(".")[0]
    retried = senders.principal(message("hub", **{topology.H_SENDER: prefix}))
    assert retried is not None and retried.name == "ro-a"
    assert senders.sender_id(message(prefix, **{topology.H_SENDER: "ck_forged"})) == prefix


def test_refusals(senders: Senders, keys: dict[str, str]) -> None:
    with pytest.raises(NotAuthenticatedError):
        senders.principal(message(None))  # the hub has credentials: anonymous is refused
    with pytest.raises(NotAuthenticatedError):
        senders.principal(message("ck_000000000000"))
    with pytest.raises(NotPermittedError):
        senders.principal(message(keys["hes-a"].split(".")[0], **{topology.H_TENANT: "b"}))


def test_an_open_hub_accepts_anonymous_messages(tmp_path: Path) -> None:
    from cimhub.testing.databases import sqlite_url

    url = sqlite_url(tmp_path)
    database = Database(url)
    database.upgrade()
    try:
        assert Senders(Settings(database_url=url), database, "hub").principal(message(None)) is None
        assert Senders(Settings(), database, None).principal(message("anyone")) is None  # memory
    finally:
        database.dispose()
