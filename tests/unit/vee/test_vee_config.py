"""VEE configuration: TOML, per-tenant values, overrides per meter type and category."""

from __future__ import annotations

from pathlib import Path

import pytest

from cimhub.vee.config import load_config
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
