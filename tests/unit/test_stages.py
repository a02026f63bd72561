"""cimhub.stages: exclusive wall time per stage, per running clock, across threads."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator

import pytest

from cimhub.stages import GARBAGE_COLLECTION, REST, StageClock, stage


@pytest.fixture(autouse=True)
def collect_only_when_asked() -> Iterator[None]:
    """An automatic pass of the cyclic collector would add its stage to a block at random."""
    gc.disable()
    yield
    gc.enable()


def test_an_inner_stage_is_not_counted_in_the_stage_around_it() -> None:
    clock = StageClock()
    with clock.running():
        with stage("outer"):
            time.sleep(0.02)
            with stage("inner"):
                time.sleep(0.05)
            time.sleep(0.02)
        time.sleep(0.01)
    totals = clock.totals()
    assert totals["inner"][0] == pytest.approx(0.05, abs=0.03)
    assert totals["outer"][0] == pytest.approx(0.04, abs=0.03)
    assert totals["outer"][0] < totals["inner"][0]  # 40 ms of its own, not 90
    assert totals[REST][0] == pytest.approx(0.01, abs=0.03)
    assert {name: calls for name, (_, calls) in totals.items()} == {
        "outer": 1,
        "inner": 1,
        REST: 1,
    }


def test_stages_add_up_to_the_running_block() -> None:
    clock = StageClock()
    started = time.perf_counter()
    with clock.running():
        for _ in range(3):
            with stage("a"), stage("b"):
                time.sleep(0.005)
    wall = time.perf_counter() - started
    totals = clock.totals()
    assert totals["a"][1] == totals["b"][1] == 3
    assert sum(s for s, _ in totals.values()) == pytest.approx(wall, rel=0.05, abs=0.002)


def test_a_stage_that_raises_is_still_closed() -> None:
    clock = StageClock()
    with clock.running():
        with pytest.raises(ValueError), stage("failing"):
            raise ValueError("bad input")
        with stage("after"):
            pass
    totals = clock.totals()
    assert totals["failing"][1] == totals["after"][1] == 1


def test_outside_a_running_clock_nothing_is_counted() -> None:
    clock = StageClock()
    with stage("nowhere"):
        pass
    assert clock.totals() == {}
    with clock.running():
        pass
    with stage("after the block"):
        pass
    assert set(clock.totals()) == {REST}


def test_a_nested_running_block_keeps_the_outer_clock() -> None:
    outer, inner = StageClock(), StageClock()
    with outer.running(), inner.running(), stage("work"):
        pass
    assert "work" in outer.totals()
    assert inner.totals() == {}


def test_each_thread_has_its_own_stages_summed_in_one_clock() -> None:
    clock = StageClock()
    barrier = threading.Barrier(4)

    def work() -> None:
        with clock.running():
            barrier.wait()
            for _ in range(200):
                with stage("x"):
                    pass
                with stage("y"):
                    pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    totals = clock.totals()
    assert totals["x"][1] == totals["y"][1] == 800 and totals[REST][1] == 4


def test_the_cyclic_collectors_passes_are_a_stage_of_their_own() -> None:
    clock = StageClock()
    garbage = []
    started = time.perf_counter()
    with clock.running(), stage("handle"):
        for _ in range(3):
            garbage.append([[] for _ in range(50_000)])  # something for the pass to walk
            gc.collect()
    wall = time.perf_counter() - started
    gc.collect()  # outside the clock: not counted
    totals = clock.totals()
    assert totals[GARBAGE_COLLECTION][1] == 3
    assert totals["handle"][1] == 1 and totals[REST][1] == 1
    assert totals[GARBAGE_COLLECTION][0] > 0
    # not counted twice: the handle stage was paused while the collector ran
    assert sum(s for s, _ in totals.values()) == pytest.approx(wall, rel=0.05, abs=0.002)
