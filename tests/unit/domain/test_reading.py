from __future__ import annotations

from cimhub.domain.reading import MeterRef, ReadingKind, Series, merge_series

M = MeterRef("m1")
RT = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"


def series(ts: list[int], values: list[float]) -> Series:
    return Series(M, RT, ReadingKind.INTERVAL, ts, values, [""] * len(ts))


def test_blocks_of_one_type_merge_and_exact_repeats_drop() -> None:
    merged, conflicts = merge_series(
        [series([900, 1800], [1.0, 2.0]), series([1800, 2700], [2.0, 3.0])]
    )
    assert conflicts == []
    assert (merged[0].timestamps, merged[0].values) == ([900, 1800, 2700], [1.0, 2.0, 3.0])


def test_a_repeat_with_another_value_is_a_conflict() -> None:
    _, conflicts = merge_series([series([900, 1800], [1.0, 2.0]), series([1800], [2.5])])
    assert conflicts == [(RT, 1800)]


def test_interval_and_register_of_one_code_stay_apart() -> None:
    register = Series(M, RT, ReadingKind.REGISTER, [900], [100.0], [""])
    merged, _ = merge_series([series([900], [1.0]), register])
    assert sorted(s.kind for s in merged) == [ReadingKind.INTERVAL, ReadingKind.REGISTER]
