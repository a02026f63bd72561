"""Installation rules: one site per meter, one active meter per site and role, no overlaps."""

from __future__ import annotations

import pytest

from cimhub.domain.installation import Installation, Role, Site, check_install, parse_role
from cimhub.domain.rule import InstalledElsewhereError, OverlapError, RoleOccupiedError
from cimhub.errors import DomainRuleError

UP1, UP2 = Site(usage_point_id=1), Site(usage_point_id=2)


def stay(
    meter: int,
    site: Site,
    start: int,
    end: int | None = None,
    role: Role = Role.MAIN,
    ident: int | None = None,
) -> Installation:
    return Installation(
        meter, site, role, start, end, ident, f"M{meter}", f"UP{site.usage_point_id}"
    )


def test_a_free_meter_at_a_free_site_is_fine() -> None:
    check_install(
        stay(1, UP1, 100), [stay(1, UP2, 10, 50, ident=1)], [stay(2, UP1, 10, 100, ident=2)]
    )


def test_a_meter_installed_elsewhere_is_refused_3_5() -> None:
    with pytest.raises(InstalledElsewhereError) as caught:
        check_install(stay(1, UP1, 100), [stay(1, UP2, 10, ident=1)], [])
    assert caught.value.code == "3.5"


def test_a_second_active_main_meter_is_refused_3_6() -> None:
    with pytest.raises(RoleOccupiedError) as caught:
        check_install(stay(2, UP1, 100), [], [stay(1, UP1, 10, ident=1)])
    assert caught.value.code == "3.6"


def test_a_check_meter_beside_the_main_meter_is_fine() -> None:
    check_install(stay(2, UP1, 100, role=Role.CHECK), [], [stay(1, UP1, 10, ident=1)])


def test_overlapping_closed_periods_are_refused_3_7() -> None:
    with pytest.raises(OverlapError) as caught:
        check_install(stay(2, UP1, 50), [], [stay(1, UP1, 10, 100, ident=1)])
    assert caught.value.code == "3.7"
    with pytest.raises(OverlapError):
        check_install(stay(1, UP1, 50), [stay(1, UP2, 10, 100, ident=1)], [])


def test_periods_are_half_open_so_back_to_back_is_fine() -> None:
    check_install(stay(2, UP1, 100), [], [stay(1, UP1, 10, 100, ident=1)])


def test_closing_before_the_start_is_refused() -> None:
    with pytest.raises(DomainRuleError):
        stay(1, UP1, 100).closed(100)
    assert stay(1, UP1, 100).closed(200).end == 200


def test_roles() -> None:
    assert parse_role(None) is Role.MAIN
    assert parse_role("Check") is Role.CHECK


def test_two_new_links_in_one_batch_are_checked_against_each_other() -> None:
    first = stay(1, UP1, 100)
    with pytest.raises(RoleOccupiedError):
        check_install(stay(2, UP1, 100), [], [first])
