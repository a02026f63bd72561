"""The lifecycle transition table: nine stages, moves as data, illegal moves coded 3.4."""

from __future__ import annotations

import pytest

from cimhub.domain.lifecycle import TRANSITIONS, Stage, check_transition, parse_stage
from cimhub.domain.rule import IllegalTransitionError

NINE = [s for s in Stage if s is not Stage.UNKNOWN]


def test_nine_stages_each_with_a_row_in_the_table() -> None:
    assert len(NINE) == 9
    assert set(TRANSITIONS) == set(Stage)


def test_decommissioned_is_terminal_and_unknown_may_go_anywhere() -> None:
    assert TRANSITIONS[Stage.DECOMMISSIONED] == frozenset()
    assert TRANSITIONS[Stage.UNKNOWN] == frozenset(NINE)


def test_every_stage_is_reachable_from_procured() -> None:
    seen, todo = {Stage.PROCURED}, [Stage.PROCURED]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(NINE)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Stage.PROCURED, Stage.IN_STORE),
        (Stage.IN_STORE, Stage.ISSUED),
        (Stage.ISSUED, Stage.INSTALLED),
        (Stage.INSTALLED, Stage.COMMISSIONED),
        (Stage.COMMISSIONED, Stage.IN_SERVICE),
        (Stage.IN_SERVICE, Stage.FAULTY),
        (Stage.FAULTY, Stage.REMOVED),
        (Stage.REMOVED, Stage.DECOMMISSIONED),
        (Stage.IN_SERVICE, Stage.IN_SERVICE),
    ],
)
def test_the_normal_life_is_allowed(current: Stage, target: Stage) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Stage.PROCURED, Stage.IN_SERVICE),
        (Stage.IN_SERVICE, Stage.IN_STORE),
        (Stage.DECOMMISSIONED, Stage.IN_SERVICE),
        (Stage.REMOVED, Stage.INSTALLED),
        (Stage.INSTALLED, Stage.PROCURED),
    ],
)
def test_illegal_moves_are_refused_with_code_3_4(current: Stage, target: Stage) -> None:
    with pytest.raises(IllegalTransitionError) as caught:
        check_transition(current, target, meter="MH1")
    assert caught.value.code == "3.4"
    assert "MH1" in caught.value.reason and current.value in caught.value.reason


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("inStore", Stage.IN_STORE),
        ("Received in store", Stage.IN_STORE),
        ("In Service", Stage.IN_SERVICE),
        ("energized", Stage.IN_SERVICE),
        ("under_repair", Stage.FAULTY),
        ("retired", Stage.DECOMMISSIONED),
        ("installed", Stage.INSTALLED),
        ("sold", None),
        ("", None),
    ],
)
def test_status_words_map_to_stages(text: str, stage: Stage | None) -> None:
    assert parse_stage(text) is stage
