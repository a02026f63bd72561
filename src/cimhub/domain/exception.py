"""Exceptions: configurable rules turn meter events and VEE findings into work for people.

A rule names what it reacts to (CIM event types, vendor event codes such as IS 15959 IDs,
VEE rule names, or the communication sweep), the kind and severity of the exception it
opens, and whether that exception opens a service order for the field (WFM) and counts as
a revenue-protection alert. Rules come from TOML (``[[rule]]`` tables, see ``rules_from``)
or the built-in ``DEFAULT_RULES``; the first rule that matches wins, so specific rules
(vendor codes) come before generic ones. An exception moves open → assigned →
resolved → closed (closing straight from open or assigned is allowed, for false alarms).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cimhub.domain.event import Event
from cimhub.errors import InvalidValueError

#: The source of the communication-failure sweep (no data for N hours).
COMMUNICATION_SWEEP = "sweep.communication"


class ExceptionKind(StrEnum):
    TAMPER = "tamper"
    COMMUNICATION_FAILURE = "communication_failure"
    NEGATIVE_CONSUMPTION = "negative_consumption"
    CONSUMPTION_DEVIATION = "consumption_deviation"
    OUTAGE = "outage"
    LOAD_LIMIT = "load_limit"
    CLOCK_DRIFT = "clock_drift"
    OTHER = "other"


class Status(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    CLOSED = "closed"
    SUPPRESSED = "suppressed"  # a revenue-protection alert during known field work


#: The moves a person may make; ``assigned`` may be repeated to hand it to someone else.
MOVES: Mapping[Status, frozenset[Status]] = {
    Status.OPEN: frozenset({Status.ASSIGNED, Status.RESOLVED, Status.CLOSED}),
    Status.ASSIGNED: frozenset({Status.ASSIGNED, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.ASSIGNED}),
    Status.CLOSED: frozenset(),
    Status.SUPPRESSED: frozenset({Status.CLOSED}),
}
#: Still needing someone: a new match adds to it instead of opening another.
ACTIVE = frozenset({Status.OPEN, Status.ASSIGNED})


#: Events that end the condition of an exception kind: the hub resolves it.
RESOLVED_BY: Mapping[str, ExceptionKind] = {
    "3.26.0.216": ExceptionKind.OUTAGE,  # power restored
    "3.1.0.49": ExceptionKind.COMMUNICATION_FAILURE,  # communication re-established
}


def may_move(current: Status, to: Status) -> bool:
    """
    >>> may_move(Status.OPEN, Status.ASSIGNED), may_move(Status.CLOSED, Status.OPEN)
    (True, False)
    """
    return to in MOVES[current]


@dataclass(frozen=True, slots=True)
class Rule:
    """One exception rule; ``events``/``vendor_codes``/``findings`` say what it matches."""

    name: str
    kind: ExceptionKind
    severity: str = "major"
    events: frozenset[str] = frozenset()
    vendor_codes: frozenset[str] = frozenset()
    findings: frozenset[str] = frozenset()
    service_order: bool = False
    revenue_protection: bool = False
    notify: tuple[str, ...] = ()  # addresses; empty: the hub's default recipients
    notification: bool = True  # False: listed only (e.g. one per meter of a DT outage)
    description: str = ""

    def matches_event(self, event: Event) -> bool:
        if self.vendor_codes:  # a vendor-code rule is about that code only
            return event.vendor_code in self.vendor_codes and (
                not self.events or event.event_type in self.events
            )
        return event.event_type in self.events

    def matches_finding(self, rule_name: str) -> bool:
        return rule_name in self.findings


def _rule(name: str, kind: ExceptionKind, **kw: Any) -> Rule:
    for key in ("events", "vendor_codes", "findings"):
        kw[key] = frozenset(kw.get(key, ()))
    return Rule(name, kind, **kw)


T, RP = ExceptionKind.TAMPER, {"service_order": True, "revenue_protection": True}
#: Built-in rules (reference/cim.md §4, india-metering.md §2, seed 002 §2.4.8–2.4.10).
DEFAULT_RULES: tuple[Rule, ...] = (
    _rule("tamper.ct_bypass", T, vendor_codes={"65", "66"}, **RP),
    _rule("tamper.neutral_disturbance", T, vendor_codes={"203", "204"}, **RP),
    _rule("tamper.cover_open", T, events={"3.12.29.39", "3.12.29.212"}, **RP),
    _rule("tamper.magnetic", T, events={"3.12.66.257"}, **RP),
    _rule("tamper.reverse_energy", T, events={"3.12.93.219"}, **RP),
    _rule("tamper.generic", T, events={"3.12.0.257"}, **RP),
    _rule("tamper.usage_while_disconnected", T, findings={"usage.disconnected"},
          description="consumption on a meter the hub knows disconnected: bypass, welded "
                      "relay or an unreported reconnection", **RP),
    _rule("outage", ExceptionKind.OUTAGE, severity="minor", events={"3.26.0.85"},
          notification=False),  # OMS/CIS hear of outages through their subscriptions
    _rule("load_limit", ExceptionKind.LOAD_LIMIT, severity="minor",
          events={"3.8.261.139", "3.15.139.93"}, findings={"usage.sanctioned", "demand.too_high"}),
    _rule("communication", ExceptionKind.COMMUNICATION_FAILURE, severity="minor",
          events={"3.1.0.85"}, findings={COMMUNICATION_SWEEP}, service_order=True,
          notification=False),  # the WFM gets the service order
    _rule("clock_drift", ExceptionKind.CLOCK_DRIFT, severity="minor",
          findings={"interval.clock_drift"},
          description="meter clock drifting beyond the time tolerance (VEE aligned its "
                      "readings to the grid): sync its clock, EndDeviceControl 3.36.116.13"),
    _rule("negative_consumption", ExceptionKind.NEGATIVE_CONSUMPTION,
          findings={"usage.negative", "register.decrement"}, revenue_protection=True),
    _rule("consumption_deviation", ExceptionKind.CONSUMPTION_DEVIATION, severity="minor",
          findings={"usage.history"}, revenue_protection=True),
)  # fmt: skip


def rule_for_event(rules: Sequence[Rule], event: Event) -> Rule | None:
    """The first rule that matches the event."""
    return next((r for r in rules if r.matches_event(event)), None)


def rule_for_finding(rules: Sequence[Rule], rule_name: str) -> Rule | None:
    return next((r for r in rules if r.matches_finding(rule_name)), None)


def rules_from(data: Mapping[str, Any]) -> tuple[Rule, ...]:
    """Rules from parsed TOML: ``[[rule]]`` tables with name, kind and the fields of
    ``Rule``; raises 2.1 (InvalidValueError) for an unknown kind or field.

    >>> rules_from({"rule": [{"name": "t", "kind": "tamper", "events": ["3.12.0.257"]}]})[0].kind
    <ExceptionKind.TAMPER: 'tamper'>
    """
    rules = []
    for table in data.get("rule", []):
        unknown = set(table) - set(Rule.__dataclass_fields__)
        if unknown or "name" not in table:
            raise InvalidValueError(f"exception rule {table.get('name')!r}: bad fields {unknown}")
        try:
            kind = ExceptionKind(table.get("kind", "other"))
        except ValueError:
            raise InvalidValueError(f"unknown exception kind {table.get('kind')!r}") from None
        rest = {k: v for k, v in table.items() if k not in ("name", "kind")}
        rest["notify"] = tuple(rest.get("notify", ()))
        rules.append(_rule(table["name"], kind, **rest))
    return tuple(rules)


@dataclass(frozen=True, slots=True)
class Match:
    """What a rule matched on one meter: the source (event type / finding rule) and when."""

    rule: Rule
    meter_id: int
    at: int
    source: str
    details: dict[str, str] = field(default_factory=dict)


def group(matches: Iterable[Match]) -> dict[tuple[int, str], list[Match]]:
    """Matches per (meter, rule name), oldest first: one exception each."""
    found: dict[tuple[int, str], list[Match]] = {}
    for m in sorted(matches, key=lambda m: m.at):
        found.setdefault((m.meter_id, m.rule.name), []).append(m)
    return found
