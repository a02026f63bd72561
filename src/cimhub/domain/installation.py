"""Installation history: which meter stood at which site (usage point or network node), when.

A meter is at one site at a time; a site has at most one active meter per role; periods
of the same meter, or of the same site and role, never overlap. Periods are half-open
[start, end) in UTC epoch seconds; ``end`` None means still installed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache

from cimhub.domain.rule import InstalledElsewhereError, OverlapError, RoleOccupiedError
from cimhub.errors import DomainRuleError, InvalidValueError


class Role(StrEnum):
    """Why a meter is at a site: the consumer's main meter, a check meter, a separate
    solar generation meter, or the energy-audit meter of a feeder, DT or boundary."""

    MAIN = "main"
    CHECK = "check"
    GENERATION = "generation"
    FEEDER = "feeder"
    DT = "dt"
    BOUNDARY = "boundary"


@lru_cache(maxsize=1024)
def parse_role(text: str | None) -> Role:
    key = re.sub("[^a-z]", "", (text or "").lower()) or Role.MAIN.value
    try:
        return Role(key)
    except ValueError:
        raise InvalidValueError(f"unknown meter role {text!r}") from None


@dataclass(frozen=True, slots=True)
class Site:
    """A usage point or a network node (feeder and DT meters stand at nodes)."""

    usage_point_id: int | None = None
    node_id: int | None = None


@dataclass(frozen=True, slots=True)
class Installation:
    meter_id: int
    site: Site
    role: Role
    start: int
    end: int | None = None
    id: int | None = None
    meter: str = ""  # the meter's label, for messages
    site_label: str = ""

    @property
    def active(self) -> bool:
        return self.end is None

    def overlaps(self, other: Installation) -> bool:
        return (other.end is None or self.start < other.end) and (
            self.end is None or other.start < self.end
        )

    def closed(self, at: int) -> Installation:
        if at <= self.start:
            raise DomainRuleError(
                f"meter {self.meter!r} cannot leave {self.site_label!r} at or before it was "
                f"installed there",
                object_id=self.meter or None,
            )
        return replace(self, end=at)


@dataclass(frozen=True, slots=True)
class Window:
    """When a meter's readings belong to a site: the span of one stay, in reading time.

    Register reads count in [start, end]: a replacement stores the old meter's final read
    and the new meter's initial read at the replacement instant, both belong to their
    stays. Interval readings (stamped at their interval's end) count in (start, end]: an
    interval ending at ``start`` was measured before the meter arrived.

    >>> w = Window(10, 20)
    >>> [w.holds(t, interval=True) for t in (10, 15, 20, 21)]
    [False, True, True, False]
    >>> Window(10, None).holds(10, interval=False)
    True
    """

    start: int
    end: int | None = None

    def holds(self, ts: int, *, interval: bool) -> bool:
        after_start = ts > self.start if interval else ts >= self.start
        return after_start and (self.end is None or ts <= self.end)


def _same(a: Installation, b: Installation) -> bool:
    return a is b or (a.id is not None and a.id == b.id)


def check_install(
    new: Installation, meter_history: Iterable[Installation], site_history: Iterable[Installation]
) -> None:
    """Raise 3.5 / 3.6 / 3.7 if ``new`` clashes with the meter's or the site's history."""
    if new.end is not None and new.end <= new.start:
        raise DomainRuleError("an installation must end after it starts", object_id=new.meter)
    for old in meter_history:
        if _same(old, new) or not new.overlaps(old):
            continue
        if old.active and old.site != new.site:
            raise InstalledElsewhereError(
                f"meter {new.meter!r} is installed at {old.site_label!r} since {old.start}",
                object_id=new.meter,
            )
        raise OverlapError(
            f"meter {new.meter!r} was at {old.site_label!r} during part of that period",
            object_id=new.meter,
        )
    for old in site_history:
        if _same(old, new) or old.role is not new.role or not new.overlaps(old):
            continue
        if old.active:
            raise RoleOccupiedError(
                f"{new.site_label!r} already has {old.meter!r} as its active {old.role} meter",
                object_id=new.site_label or None,
            )
        raise OverlapError(
            f"{new.site_label!r} had {old.meter!r} as its {old.role} meter during part of "
            f"that period",
            object_id=new.site_label or None,
        )


#: The register a replacement's final and initial reads go to: cumulative kWh import.
KWH_REGISTER = "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0"


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """Put a meter at a usage point or network node from ``at`` (MasterDataLinkageConfig,
    a consumer CSV row). With ``replaces``, the site's active meter of the same role is
    removed at ``at`` first; its final read and the new meter's initial read are stored
    as register reads at ``at``, so consumption across the change stays exact."""

    meter: str
    at: int
    usage_point: str | None = None
    node: str | None = None
    role: Role = Role.MAIN
    by: str = ""
    reason: str = ""
    replaces: bool = False
    replaced_meter: str | None = None  # when given, the active meter must be this one
    final_read: float | None = None
    initial_read: float | None = None
    reading_type: str = KWH_REGISTER

    @property
    def site_key(self) -> str:
        return self.usage_point or self.node or ""
