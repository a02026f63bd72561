"""Events: CIM code domains, priority and severity defaults, natural-key repeats."""

from __future__ import annotations

from cimhub.domain.event import Event, Priority, cim_domain, drop_repeats
from cimhub.domain.reading import MeterRef


def test_domains_and_priorities() -> None:
    assert [cim_domain(c) for c in ("3.26.0.85", "3.31.0.68", "3.1.0.85", "3.7.0.1", "x")] == [
        26,
        31,
        1,
        None,  # domain 7 is not one we know: unmapped
        None,
    ]
    assert Event(MeterRef("m"), 0, "3.31.0.68").priority is Priority.HIGH
    assert Event(MeterRef("m"), 0, "3.8.261.139").priority is Priority.MEDIUM
    assert Event(MeterRef("m"), 0, "3.2.22.150").priority is Priority.LOW


def test_severity_is_the_senders_else_derived() -> None:
    assert Event(MeterRef("m"), 0, "3.12.0.257").effective_severity == "major"
    assert Event(MeterRef("m"), 0, "3.12.0.257", severity="critical").effective_severity == (
        "critical"
    )
    assert Event(MeterRef("m"), 0, "VND.1").mapped is False


def test_repeats_by_meter_type_and_time() -> None:
    a = Event(MeterRef("m"), 1, "3.26.0.85", severity="major")
    b = Event(MeterRef("m"), 1, "3.26.0.85", severity="minor")  # same key, other details
    c = Event(MeterRef("m"), 2, "3.26.0.85")
    assert drop_repeats([a, b, c]) == ([a, c], 1)
