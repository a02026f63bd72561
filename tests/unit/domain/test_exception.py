"""Exception rules: matching events (CIM type, vendor code) and findings, TOML rules, moves."""

from __future__ import annotations

import pytest

from cimhub.domain import service_order as so
from cimhub.domain.event import Event
from cimhub.domain.exception import (
    DEFAULT_RULES,
    ExceptionKind,
    Match,
    Status,
    group,
    may_move,
    rule_for_event,
    rule_for_finding,
    rules_from,
)
from cimhub.domain.reading import MeterRef
from cimhub.errors import InvalidValueError


def _event(code: str, vendor: str | None = None) -> Event:
    return Event(MeterRef("M1"), 0, code, vendor_code=vendor)


@pytest.mark.parametrize(
    ("code", "vendor", "rule"),
    [
        ("3.12.29.39", "251", "tamper.cover_open"),
        ("3.12.66.257", None, "tamper.magnetic"),
        ("3.12.93.219", "51", "tamper.reverse_energy"),
        ("3.12.0.257", "65", "tamper.ct_bypass"),  # vendor-b maps CT bypass to generic
        ("3.12.0.257", "203", "tamper.neutral_disturbance"),
        ("3.12.0.257", None, "tamper.generic"),
        ("3.26.0.85", None, "outage"),
        ("3.8.261.139", None, "load_limit"),
        ("3.1.0.85", None, "communication"),
    ],
)
def test_default_rules_match_events(code: str, vendor: str | None, rule: str) -> None:
    found = rule_for_event(DEFAULT_RULES, _event(code, vendor))
    assert found is not None and found.name == rule


def test_no_rule_for_a_clock_event() -> None:
    assert rule_for_event(DEFAULT_RULES, _event("3.36.114.24")) is None


@pytest.mark.parametrize(
    ("finding", "kind"),
    [
        ("usage.negative", ExceptionKind.NEGATIVE_CONSUMPTION),
        ("usage.history", ExceptionKind.CONSUMPTION_DEVIATION),
        ("usage.sanctioned", ExceptionKind.LOAD_LIMIT),
        ("sweep.communication", ExceptionKind.COMMUNICATION_FAILURE),
        ("usage.disconnected", ExceptionKind.TAMPER),
        ("interval.clock_drift", ExceptionKind.CLOCK_DRIFT),
    ],
)
def test_default_rules_match_findings(finding: str, kind: ExceptionKind) -> None:
    found = rule_for_finding(DEFAULT_RULES, finding)
    assert found is not None and found.kind is kind


def test_rules_from_toml_tables() -> None:
    (rule,) = rules_from(
        {
            "rule": [
                {
                    "name": "cover",
                    "kind": "tamper",
                    "events": ["3.12.29.39"],
                    "service_order": True,
                    "notify": ["rp@discom.test"],
                }
            ]
        }
    )
    assert rule.service_order and rule.notify == ("rp@discom.test",)
    assert rule.matches_event(_event("3.12.29.39"))


@pytest.mark.parametrize(
    "table", [{"name": "x", "kind": "weather"}, {"name": "x", "colour": "red"}, {"kind": "tamper"}]
)
def test_bad_rules_are_refused(table: dict[str, object]) -> None:
    with pytest.raises(InvalidValueError):
        rules_from({"rule": [table]})


def test_moves() -> None:
    assert may_move(Status.OPEN, Status.CLOSED) and may_move(Status.ASSIGNED, Status.ASSIGNED)
    assert not may_move(Status.CLOSED, Status.ASSIGNED)
    assert not may_move(Status.SUPPRESSED, Status.ASSIGNED)
    assert so.may_report(so.OrderStatus.COMPLETED, so.OrderStatus.CLOSED)
    assert not so.may_report(so.OrderStatus.CANCELLED, so.OrderStatus.IN_PROGRESS)


def test_group_per_meter_and_rule_oldest_first() -> None:
    rule = DEFAULT_RULES[0]
    grouped = group([Match(rule, 1, 5, "a"), Match(rule, 1, 2, "b"), Match(rule, 2, 1, "c")])
    assert [m.source for m in grouped[(1, rule.name)]] == ["b", "a"]
    assert len(grouped) == 2


def test_bulk_kinds_are_listed_not_mailed() -> None:
    quiet = {r.name for r in DEFAULT_RULES if not r.notification}
    assert quiet == {"outage", "communication"}
