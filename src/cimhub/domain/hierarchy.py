"""The two hierarchies of a DISCOM, their levels and which level may sit under which.

organisation: Region › Circle › Division › Sub-division › Section;
network: Substation › Feeder › Distribution transformer (DT) › service point. A feeder
may also hang off another feeder, and a substation off a feeder (a 33 kV feeder feeds an
33/11 kV substation), so the network graph can close on itself: ``find_cycle`` guards it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType

from cimhub.domain.rule import HierarchyCycleError
from cimhub.errors import DomainRuleError, InvalidValueError


class Hierarchy(StrEnum):
    ORGANISATION = "organisation"
    NETWORK = "network"


class Level(StrEnum):
    REGION = "region"
    CIRCLE = "circle"
    DIVISION = "division"
    SUBDIVISION = "subdivision"
    SECTION = "section"
    SUBSTATION = "substation"
    FEEDER = "feeder"
    DT = "dt"
    SERVICE_POINT = "service_point"


L = Level
#: The levels a node's parent may have; a level whose set holds None may be a root.
PARENT_LEVELS: Mapping[Level, frozenset[Level | None]] = MappingProxyType(
    {
        L.REGION: frozenset({None}),
        L.CIRCLE: frozenset({L.REGION, None}),
        L.DIVISION: frozenset({L.CIRCLE}),
        L.SUBDIVISION: frozenset({L.DIVISION}),
        L.SECTION: frozenset({L.SUBDIVISION, L.DIVISION}),
        L.SUBSTATION: frozenset({None, L.FEEDER}),
        L.FEEDER: frozenset({L.SUBSTATION, L.FEEDER}),
        L.DT: frozenset({L.FEEDER}),
        L.SERVICE_POINT: frozenset({L.DT}),
    }
)
HIERARCHY_OF: Mapping[Level, Hierarchy] = MappingProxyType(
    {
        **dict.fromkeys(
            (L.REGION, L.CIRCLE, L.DIVISION, L.SUBDIVISION, L.SECTION), Hierarchy.ORGANISATION
        ),
        **dict.fromkeys((L.SUBSTATION, L.FEEDER, L.DT, L.SERVICE_POINT), Hierarchy.NETWORK),
    }
)
_ALIASES = {"subdiv": L.SUBDIVISION, "distributiontransformer": L.DT, "dtr": L.DT}


@lru_cache(maxsize=1024)
def parse_level(text: str) -> Level:
    """'Sub-division' → subdivision, 'DTR' → dt; raises 2.1 for an unknown level.

    >>> parse_level("Sub-Division"), parse_level("Distribution transformer")
    (<Level.SUBDIVISION: 'subdivision'>, <Level.DT: 'dt'>)
    """
    key = re.sub("[^a-z]", "", text.lower())
    for level in Level:
        if key == level.value.replace("_", ""):
            return level
    if key in _ALIASES:
        return _ALIASES[key]
    raise InvalidValueError(f"unknown hierarchy level {text!r}")


def check_parent(code: str, level: Level, parent_level: Level | None) -> None:
    """A node of ``level`` may hang under a parent of ``parent_level`` (None: a root)."""
    if parent_level not in PARENT_LEVELS[level]:
        where = f"under a {parent_level}" if parent_level else "without a parent"
        raise DomainRuleError(f"{level} {code!r} cannot stand {where}", object_id=code)


def find_cycle(parents: Mapping[str, str | None]) -> list[str] | None:
    """A cycle in the child → parent map (codes), as the path that closes it, or None.

    >>> find_cycle({"a": "b", "b": "c", "c": None})
    >>> find_cycle({"a": "b", "b": "a"})
    ['a', 'b', 'a']
    """
    done: set[str] = set()
    for start in parents:
        path: list[str] = []
        seen: set[str] = set()
        node: str | None = start
        while node is not None and node not in done:
            if node in seen:
                return [*path[path.index(node) :], node]
            seen.add(node)
            path.append(node)
            node = parents.get(node)
        done.update(path)
    return None


def check_acyclic(parents: Mapping[str, str | None]) -> None:
    """Raise ``HierarchyCycleError`` (3.2) if the map has a cycle."""
    cycle = find_cycle(parents)
    if cycle:
        raise HierarchyCycleError("hierarchy cycle: " + " → ".join(cycle), object_id=cycle[0])


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """What a message or a CSV row says about one hierarchy node."""

    code: str
    level: Level
    name: str | None = None
    parent_code: str | None = None
    valid_from: int | None = None
    valid_to: int | None = None

    def check(self) -> None:
        if not self.code:
            raise InvalidValueError("a hierarchy node needs a code")
        if self.parent_code == self.code:
            raise HierarchyCycleError(f"node {self.code!r} is its own parent", object_id=self.code)
        if None not in (self.valid_from, self.valid_to) and self.valid_to <= self.valid_from:  # type: ignore[operator]
            raise InvalidValueError(f"node {self.code!r}: valid_to is not after valid_from")
