"""cimhub.heap.settle: start-up's objects out of the cyclic collector's sight, nothing lost."""

import gc
import weakref
from collections.abc import Iterator

import pytest

from cimhub.heap import YOUNG_THRESHOLD, settle


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def thawed() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()  # the rest of the test run collects as it did
    gc.set_threshold(*thresholds)


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_objects_alive_at_settling_are_frozen(thawed: None) -> None:
    alive = _Node()
    settle()
    assert gc.get_freeze_count() > 0
    assert all(o is not alive for o in gc.get_objects())  # a full collection skips it


def test_garbage_made_before_settling_is_collected_first(thawed: None) -> None:
    dead = _cycle()  # unreachable already: settle's collection frees it, not the freeze
    settle()
    assert dead() is None


def test_cycles_made_afterwards_are_still_collected(thawed: None) -> None:
    settle()
    later = _cycle()
    assert later() is not None  # only the cyclic collector can free it
    gc.collect()
    assert later() is None


def test_a_burst_of_short_lived_containers_runs_no_collection(thawed: None) -> None:
    """A query's rows, made and freed by reference counting, no longer wake the collector
    (at Python's default threshold the same burst runs several young collections)."""
    runs: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            runs.append(info["generation"])

    def burst() -> None:
        rows = [[i] for i in range(YOUNG_THRESHOLD // 2)]
        del rows

    gc.callbacks.append(count)
    try:
        gc.set_threshold(700, 10, 10)
        gc.collect()
        burst()
        assert runs  # the default threshold collects during the burst
        settle()
        runs.clear()
        burst()
        assert runs == []
    finally:
        gc.callbacks.remove(count)
