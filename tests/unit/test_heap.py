"""cimhub.heap.settle: start-up's objects out of the cyclic collector's sight, nothing lost."""

import gc
import weakref
from collections.abc import Iterator

import pytest

from cimhub.heap import settle


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()  # the rest of the test run collects as it did


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
