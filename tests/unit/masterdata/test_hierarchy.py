"""Hierarchy levels, allowed parents and cycle detection."""

from __future__ import annotations

import pytest

from cimhub.domain.hierarchy import (
    Level,
    NodeSpec,
    check_acyclic,
    check_parent,
    find_cycle,
    parse_level,
)
from cimhub.domain.rule import HierarchyCycleError
from cimhub.errors import DomainRuleError, InvalidValueError


def test_a_tree_has_no_cycle_and_a_loop_is_named() -> None:
    assert find_cycle({"DT1": "F1", "F1": "SS1", "SS1": None, "DT2": "F1"}) is None
    assert find_cycle({"SS2": "F2", "F2": "F3", "F3": "SS2", "DT": "F2"}) == [
        "SS2",
        "F2",
        "F3",
        "SS2",
    ]


def test_check_acyclic_raises_3_2() -> None:
    with pytest.raises(HierarchyCycleError) as caught:
        check_acyclic({"F1": "SS1", "SS1": "F1"})
    assert caught.value.code == "3.2"


def test_a_node_cannot_be_its_own_parent() -> None:
    with pytest.raises(HierarchyCycleError):
        NodeSpec("F1", Level.FEEDER, parent_code="F1").check()


@pytest.mark.parametrize(
    ("level", "parent"),
    [
        (Level.REGION, None),
        (Level.CIRCLE, Level.REGION),
        (Level.SECTION, Level.SUBDIVISION),
        (Level.FEEDER, Level.SUBSTATION),
        (Level.FEEDER, Level.FEEDER),
        (Level.SUBSTATION, Level.FEEDER),
        (Level.DT, Level.FEEDER),
        (Level.SERVICE_POINT, Level.DT),
    ],
)
def test_allowed_parents(level: Level, parent: Level | None) -> None:
    check_parent("X", level, parent)


@pytest.mark.parametrize(
    ("level", "parent"),
    [
        (Level.DT, Level.SUBSTATION),
        (Level.DT, None),
        (Level.FEEDER, Level.DIVISION),
        (Level.REGION, Level.CIRCLE),
    ],
)
def test_a_parent_of_the_wrong_level_is_a_domain_rule_error(
    level: Level, parent: Level | None
) -> None:
    with pytest.raises(DomainRuleError) as caught:
        check_parent("X", level, parent)
    assert caught.value.code == "3.1"


def test_levels_are_read_liberally() -> None:
    assert parse_level("Sub-Division") is Level.SUBDIVISION
    assert parse_level("DTR") is Level.DT
    assert parse_level("Service point") is Level.SERVICE_POINT
    with pytest.raises(InvalidValueError):
        parse_level("zone")
