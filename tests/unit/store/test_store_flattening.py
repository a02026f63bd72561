"""Pure helpers of the store: flattening series to rows, merging new meters."""

from __future__ import annotations

from cimhub.domain.reading import MeterRef, ReadingKind, Series
from cimhub.store.meters import _new_meters
from cimhub.store.staging import rows


def test_rows_flatten_series_column_by_column_each_naming_its_message() -> None:
    a = Series(MeterRef("m1"), "rt", ReadingKind.INTERVAL, [900, 1800], [1.5, 2.5], ["", "x"])
    b = Series(MeterRef("m2"), "rt", ReadingKind.INTERVAL, [900], [7.0], [""])
    assert list(rows([(1, 10, a), (2, 10, b)], [("HES-A", 5), ("HES-B", 6)])) == [
        (1, 10, 900, 1.5, "", "HES-A", 5),
        (1, 10, 1800, 2.5, "x", "HES-A", 5),
        (2, 10, 900, 7.0, "", "HES-B", 6),
    ]


def test_new_meters_merge_refs_sharing_an_mrid_or_a_name() -> None:
    mrids, names = _new_meters(
        [
            MeterRef("m1", ("s1",)),
            MeterRef("m1"),
            MeterRef(None, ("s1", "hes-1")),  # shares s1 with m1: same meter, one more name
            MeterRef(None, ("s2",)),
        ]
    )
    assert mrids[0] == "m1" and len(mrids) == 2
    assert names == {"s1": "m1", "hes-1": "m1", "s2": mrids[1]}
    assert len(mrids[1]) == 36  # a uuid4 for the meter known only by name
