"""VEE configuration: TOML, per-tenant values, overrides per meter type and category."""

from __future__ import annotations

from pathlib import Path

import pytest

from cimhub.vee.config import check_values, load_config, tenant_layer, with_tenant
from cimhub.vee.registry import load_rules

TOML = """
version = "2026-11-22.1"

[defaults]
spike_factor = 6.0
disabled = ["usage.static"]

[tenant.discom-a]
interpolation_limit_minutes = 180

[tenant.discom-a.meter_type.lt_ct]
sum_tolerance_pct = 1.0

[tenant.discom-a.category.agricultural]
zero_run_intervals = 48
"""


def test_overrides_resolve_defaults_then_tenant_then_type_then_category(tmp_path: Path) -> None:
    path = tmp_path / "vee.toml"
    path.write_text(TOML)
    config = load_config(path)
    assert config.version == "2026-11-22.1"
    base = config.params("discom-b")
    assert (base.spike_factor, base.interpolation_limit_minutes) == (6.0, 120)
    assert not base.enabled("usage.static") and base.enabled("usage.spike")
    a = config.params("discom-a", "lt_ct", "agricultural")
    assert (a.interpolation_limit_minutes, a.sum_tolerance_pct, a.zero_run_intervals) == (
        180,
        1.0,
        48,
    )
    assert config.params("discom-a").zero_run_intervals == 16


def test_an_unknown_parameter_is_refused_when_the_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "vee.toml"
    path.write_text("[defaults]\nspike_factr = 3\n")
    with pytest.raises(ValueError, match="spike_factr"):
        load_config(path)


def test_every_rule_cites_the_clause_it_implements() -> None:
    rules = load_rules()
    assert len(rules) >= 27
    for rule in rules.values():
        assert rule.clause.startswith(("VEE standard", "RfP §", "§2.4.7")), rule.id


def test_a_mistyped_parameter_is_refused_when_the_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "vee.toml"
    path.write_text('[tenant.t.category.agricultural]\nzero_run_intervals = "many"\n')
    with pytest.raises(ValueError, match="zero_run_intervals must be an integer"):
        load_config(path)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"spike_factor": True}, "spike_factor must be a number"),
        ({"disabled": "usage.static"}, "disabled must be a list of strings"),
        ({"like_day_statistic": "median"}, "like_day_statistic must be 'avg' or 'max'"),
        ({"scale_to_registers": 1}, "scale_to_registers must be true or false"),
        ({"max_increment_per_day": "x"}, "max_increment_per_day must be a number or null"),
    ],
)
def test_every_parameter_is_checked_against_its_type(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_values(values)
    check_values({"spike_factor": 4, "max_increment_per_day": None, "holidays": ["2026-01-26"]})


def test_stored_overrides_lie_over_the_tenants_file_section(tmp_path: Path) -> None:
    path = tmp_path / "vee.toml"
    path.write_text(TOML)
    config = load_config(path)
    stored = tenant_layer(
        {
            "parameters": {"spike_factor": 9.0},
            "meter_type": {"lt_ct": {"sum_tolerance_pct": 3.0}},
            "category": {"domestic": {"zero_run_intervals": 96}},
        }
    )
    effective = with_tenant(config, "discom-a", stored, 4)
    assert effective.version == "2026-11-22.1+t4"
    a = effective.params("discom-a", "lt_ct", "agricultural")
    assert (a.spike_factor, a.interpolation_limit_minutes) == (9.0, 180)  # stored, file
    assert (a.sum_tolerance_pct, a.zero_run_intervals) == (3.0, 48)
    assert effective.params("discom-a", None, "domestic").zero_run_intervals == 96
    assert effective.params("discom-b") == config.params("discom-b")  # others untouched
    with pytest.raises(ValueError, match="unknown section"):
        tenant_layer({"tenant": {}})
