"""Permissions are dotted names; roles grant patterns of them."""

from __future__ import annotations

import pytest

from cimhub.domain.access import (
    Kind,
    Principal,
    loopback,
    message_permission,
    permissions_of,
    permits,
    rest_permission,
)


@pytest.mark.parametrize(
    ("granted", "wanted", "allowed"),
    [
        ({"*"}, "EndDeviceControls.approve", True),
        ({"*.get"}, "MeterReadings.get", True),
        ({"*.get"}, "MeterReadings.created", False),
        ({"rest.*.read"}, "rest.masterdata.read", True),
        ({"rest.*.read"}, "rest.masterdata.write", False),
        ({"rest.*.read"}, "admin.read", False),
        ({"MeterReadings.created"}, "MeterReadings.create", False),
        ({"EndDeviceControls.create"}, "EndDeviceControls.approve", False),
        (set(), "MeterReadings.get", False),
    ],
)
def test_patterns(granted: set[str], wanted: str, allowed: bool) -> None:
    assert permits(frozenset(granted), wanted) is allowed


def test_names() -> None:
    assert message_permission("MeterReadings", "created") == "MeterReadings.created"
    assert rest_permission("billing", write=False) == "rest.billing.read"
    assert rest_permission("subscriptions", write=True) == "rest.subscriptions.write"


def test_a_principal_holds_the_union_of_its_roles() -> None:
    grants = {"analyst": frozenset({"*.get"}), "hes": frozenset({"MeterReadings.created"})}
    held = permissions_of({"analyst", "hes", "unknown"}, grants)
    principal = Principal("x", "a", frozenset({"analyst", "hes"}), held)
    assert principal.allows("MeterReadings.get")
    assert principal.allows("MeterReadings.created")
    assert not principal.allows("MeterReadings.change")


def test_the_loopback_principal_may_do_everything() -> None:
    principal = loopback("demo")
    assert principal.kind is Kind.LOOPBACK and principal.tenant == "demo"
    assert principal.allows("EndDeviceControls.approve")
