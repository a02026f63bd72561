"""Small pieces of authentication: digests, allow-lists, throttled failure records."""

from __future__ import annotations

import base64
import hashlib

from cimhub.endpoints.auth import Throttle, _allowed, is_loopback, password_digest


def test_password_digest_follows_the_username_token_profile() -> None:
    nonce, created, password = b"\x01\x02\x03\x04", "2026-11-22T06:00:00Z", "secret"
    expected = base64.b64encode(
        hashlib.sha1(nonce + created.encode() + password.encode()).digest()
    ).decode()
    assert password_digest(nonce, created, password) == expected  # zeep is the interop check


def test_allow_lists() -> None:
    assert _allowed("10.1.2.3", ("10.0.0.0/8",))
    assert not _allowed("192.168.1.1", ("10.0.0.0/8",))
    assert _allowed("::1", ("127.0.0.0/8", "::1/128"))
    assert not _allowed(None, ("0.0.0.0/0",))
    assert not _allowed("testclient", ("0.0.0.0/0",))


def test_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1")
    assert not is_loopback("10.0.0.1") and not is_loopback(None) and not is_loopback("host")


def test_throttle_records_once_per_period_and_counts_the_rest() -> None:
    throttle = Throttle(3600)
    assert throttle.due(("1.2.3.4", "x")) == 0
    assert throttle.due(("1.2.3.4", "x")) is None
    assert throttle.due(("1.2.3.4", "x")) is None
    assert throttle.due(("5.6.7.8", "x")) == 0
