"""The broker's files for per-head-end topics: names safe as topic levels, each head-end
writing only its own inbound topics and reading only its own commands."""

from __future__ import annotations

import base64
import hashlib

import pytest

from cimhub.adapters.mqtt_acl import acl_file, broker_conf, password_file
from cimhub.adapters.profile import load_profile
from cimhub.domain.mqtt_login import HeadEndLogin, login_name, mosquitto_hash
from cimhub.errors import InvalidValueError

A = HeadEndLogin("t1", "HES-A", "t1.HES-A", "$7$101$c2FsdA==$x", "vendor-a")
B = HeadEndLogin("t2", "HES-B", "t2.HES-B", "$7$101$c2FsdA==$y", "vendor-b")
PROFILES = {name: load_profile(name) for name in ("vendor-a", "vendor-b")}


def test_the_hash_is_pbkdf2_sha512_in_mosquittos_layout() -> None:
    salt = bytes(range(12))
    found = mosquitto_hash("secret", salt)
    _, kind, rounds, salt64, digest64 = found.split("$")
    assert (kind, rounds, base64.b64decode(salt64)) == ("7", "101", salt)
    expected = hashlib.pbkdf2_hmac("sha512", b"secret", salt, 101, 64)
    assert base64.b64decode(digest64) == expected
    assert mosquitto_hash("secret") != mosquitto_hash("secret")  # a fresh salt each time


@pytest.mark.parametrize("name", ["a/b", "a+", "#", "a b", "a:b", "", "-x"])
def test_names_unsafe_in_topics_or_files_are_refused(name: str) -> None:
    with pytest.raises(InvalidValueError):
        login_name("t1", name)
    with pytest.raises(InvalidValueError):
        login_name(name, "HES-A")


def test_each_head_end_gets_its_own_topics_only() -> None:
    acl = acl_file("cimhub", "hub", PROFILES, [A, B]).splitlines()
    a = acl[acl.index("user t1.HES-A") + 1 : acl.index("user t2.HES-B")]
    assert [line for line in a if line.startswith("topic")] == [
        "topic write cimhub/t1/HES-A/vendor-a/blockload",
        "topic write cimhub/t1/HES-A/vendor-a/events",
        "topic write cimhub/t1/HES-A/vendor-a/cmd-status",
        "topic read cimhub/t1/HES-A/vendor-a/cmd/+",
    ]
    hub = acl[acl.index("user hub") + 1 : acl.index("user t1.HES-A")]
    assert [line for line in hub if line.startswith("topic")] == [
        "topic read cimhub/#",
        "topic write cimhub/+/+/vendor-a/cmd/+",  # each head-end's commands
        "topic write cimhub/vendor-a/cmd/+",  # the shared topics' commands
        "topic write cimhub/+/+/vendor-b/ctrl/req/+",
        "topic write cimhub/vendor-b/ctrl/req/+",
    ]
    assert not any(line.startswith("topic") for line in acl[: acl.index("user hub")])


def test_the_password_file_and_the_broker_lines() -> None:
    assert password_file("hub", "$7$h", [A, B]).splitlines() == [
        "hub:$7$h", "t1.HES-A:$7$101$c2FsdA==$x", "t2.HES-B:$7$101$c2FsdA==$y",
    ]  # fmt: skip
    conf = broker_conf("/etc/mosquitto/cimhub")
    assert "allow_anonymous false" in conf
    assert "password_file /etc/mosquitto/cimhub/password_file" in conf


def test_the_doctests() -> None:
    import doctest

    import cimhub.domain.mqtt_login as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
