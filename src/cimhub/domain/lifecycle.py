"""The meter (asset) lifecycle: nine stages and the allowed moves between them, as data.

procured → received in store → issued to field → installed → commissioned → in service →
faulty / under repair → removed → decommissioned (seed 002 §2.4.1–2.4.2, seed 004 "asset
management"). ``unknown`` is the stage of meters the hub registered on first readings
(``auto_registered``): master data has not told their story yet, so any move is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType

from cimhub.domain.rule import IllegalTransitionError


class Stage(StrEnum):
    PROCURED = "procured"
    IN_STORE = "received_in_store"
    ISSUED = "issued_to_field"
    INSTALLED = "installed"
    COMMISSIONED = "commissioned"
    IN_SERVICE = "in_service"
    FAULTY = "faulty"
    REMOVED = "removed"
    DECOMMISSIONED = "decommissioned"
    UNKNOWN = "unknown"


S = Stage
#: Allowed moves. Skipping ``issued_to_field`` (store → installed) is allowed: many
#: utilities record no separate issue step. A stage not listed as a key allows nothing.
TRANSITIONS: Mapping[Stage, frozenset[Stage]] = MappingProxyType(
    {
        S.PROCURED: frozenset({S.IN_STORE, S.DECOMMISSIONED}),
        S.IN_STORE: frozenset({S.ISSUED, S.INSTALLED, S.FAULTY, S.DECOMMISSIONED}),
        S.ISSUED: frozenset({S.INSTALLED, S.IN_STORE, S.FAULTY}),
        S.INSTALLED: frozenset({S.COMMISSIONED, S.IN_SERVICE, S.FAULTY, S.REMOVED}),
        S.COMMISSIONED: frozenset({S.IN_SERVICE, S.FAULTY, S.REMOVED}),
        S.IN_SERVICE: frozenset({S.FAULTY, S.REMOVED}),
        S.FAULTY: frozenset({S.IN_SERVICE, S.REMOVED, S.IN_STORE, S.DECOMMISSIONED}),
        S.REMOVED: frozenset({S.IN_STORE, S.FAULTY, S.DECOMMISSIONED}),
        S.DECOMMISSIONED: frozenset(),
        S.UNKNOWN: frozenset(s for s in Stage if s is not S.UNKNOWN),
    }
)
#: Stages in which a meter may be (or stay) linked to a usage point or network node.
IN_FIELD = frozenset({S.INSTALLED, S.COMMISSIONED, S.IN_SERVICE, S.FAULTY})
#: Stages from which linking a meter to a site moves it to ``installed`` by itself.
BEFORE_FIELD = frozenset({S.IN_STORE, S.ISSUED, S.UNKNOWN})

#: CIM ``status/value`` words and billing-system spellings, normalised (lower case,
#: letters only) → stage.
ALIASES: Mapping[str, Stage] = MappingProxyType(
    {
        **{re.sub("[^a-z]", "", s.value): s for s in Stage},
        "ordered": S.PROCURED,
        "purchased": S.PROCURED,
        "instore": S.IN_STORE,
        "received": S.IN_STORE,
        "store": S.IN_STORE,
        "issued": S.ISSUED,
        "issuedtofield": S.ISSUED,
        "energized": S.IN_SERVICE,
        "active": S.IN_SERVICE,
        "inservice": S.IN_SERVICE,
        "underrepair": S.FAULTY,
        "defective": S.FAULTY,
        "retired": S.DECOMMISSIONED,
        "scrapped": S.DECOMMISSIONED,
    }
)


@lru_cache(maxsize=1024)
def parse_stage(text: str | None) -> Stage | None:
    """A stage from a CIM status word or a CSV cell; None if it names none.

    >>> parse_stage("inStore"), parse_stage("In Service"), parse_stage("sold")
    (<Stage.IN_STORE: 'received_in_store'>, <Stage.IN_SERVICE: 'in_service'>, None)
    """
    return ALIASES.get(re.sub("[^a-z]", "", (text or "").lower()))


def check_transition(current: Stage, target: Stage, *, meter: str = "") -> None:
    """Raise ``IllegalTransitionError`` (3.4) unless ``current → target`` is allowed.

    Staying in the same stage is not a move and is always allowed.
    """
    if target is current or target in TRANSITIONS[current]:
        return
    allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing"
    raise IllegalTransitionError(
        f"meter {meter!r}: {current} → {target} is not allowed (from {current}: {allowed})",
        object_id=meter or None,
    )


@dataclass(frozen=True, slots=True)
class Transition:
    """One line of a meter's lifecycle history: who moved it, when, why."""

    from_stage: Stage | None
    to_stage: Stage
    at: int  # effective time, UTC epoch seconds
    by: str = ""
    reason: str = ""
