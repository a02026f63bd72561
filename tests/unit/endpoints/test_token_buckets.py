"""Token buckets: a burst, then the sustained rate; clients apart; memory bounded."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from cimhub.endpoints import limits
from cimhub.endpoints.limits import TokenBuckets, principal_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("ip:a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("ip:a") == pytest.approx(0.5)  # one token every half second
    clock.now += 0.5
    assert buckets.take("ip:a") == 0.0
    assert buckets.take("ip:a") > 0
    clock.now += 60  # refills to the burst, never beyond
    assert [buckets.take("ip:a") for _ in range(4)][-1] > 0


def test_clients_have_their_own_buckets_and_zero_rate_means_unlimited() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, clock=Clock())
    assert buckets.take("ip:a") == 0.0 and buckets.take("ip:b") == 0.0
    assert buckets.take("ip:a") > 0
    unlimited = TokenBuckets(rate=0, burst=1)
    assert all(unlimited.take("x") == 0.0 for _ in range(100))


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_CLIENTS", 10)
    buckets = TokenBuckets(rate=1.0, burst=1, clock=Clock())
    for n in range(100):
        buckets.take(f"ip:{n}")
    assert len(buckets._buckets) == 10


@dataclass(frozen=True)
class _Kind:
    value: str


@dataclass(frozen=True)
class _Principal:
    name: str
    tenant: str
    kind: _Kind


def test_principal_key_skips_the_loopback_principal() -> None:
    assert principal_key(None) is None
    assert principal_key(_Principal("anonymous", "t", _Kind("loopback"))) is None
    assert principal_key(_Principal("hes-a", "t", _Kind("credential"))) == "principal:t/hes-a"
