from __future__ import annotations

import pytest

from cimhub.domain.reading_type import parse_reading_type
from cimhub.errors import InvalidValueError


def test_decodes_the_common_codes() -> None:
    interval = parse_reading_type("0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0")
    assert (interval.interval_seconds, interval.accumulation, interval.unit_symbol) == (
        900,
        4,
        "kWh",
    )
    export = parse_reading_type("0.0.2.4.19.1.12.0.0.0.0.0.0.0.0.3.72.0")
    assert export.is_export
    tou = parse_reading_type("0.0.0.1.1.1.12.0.0.0.0.3.0.0.0.3.72.0")
    assert (tou.tou, tou.interval_seconds) == (3, 0)
    demand = parse_reading_type("8.8.0.6.1.1.8.0.0.0.0.0.0.0.0.3.38.0")
    assert (demand.macro_period, demand.aggregate, demand.unit_symbol) == (8, 8, "kW")


@pytest.mark.parametrize("code", ["0.0.2", "a.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0", ""])
def test_refuses_malformed_codes(code: str) -> None:
    with pytest.raises(InvalidValueError):
        parse_reading_type(code)
