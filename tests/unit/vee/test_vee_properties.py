"""Properties of the engine over arbitrary series (hypothesis)."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from cimhub.testing.vee_batches import MONDAY, STEP, context, intervals
from cimhub.vee import quality
from cimhub.vee.context import MeterState
from cimhub.vee.engine import validate

NOW = MONDAY + 30 * 86_400
value = st.one_of(
    st.none(),
    st.floats(min_value=-1, max_value=50, allow_nan=False).map(lambda v: round(v, 3)),
    st.sampled_from([0.0, 0.25, 0.25, 0.3]),
)
series = st.lists(value, min_size=2, max_size=300)
contexts = st.builds(
    context,
    state=st.sampled_from([None, MeterState.IN_SERVICE, MeterState.INACTIVE]),
    outages=st.sampled_from([None, (), ((MONDAY + STEP * 10, MONDAY + STEP * 40),)]),
    sanctioned=st.sampled_from([None, 3.0]),
    net=st.sampled_from([None, True, False]),
)


@settings(max_examples=150, deadline=None)
@given(series, contexts)
def test_estimation_never_touches_the_raw_batch(values, ctx) -> None:
    batch = intervals(values)
    before = copy.deepcopy((batch.timestamps, batch.values, batch.qualities))
    validate([batch], now=NOW, contexts={1: ctx})
    assert (batch.timestamps, batch.values, batch.qualities) == before


@settings(max_examples=150, deadline=None)
@given(series, contexts)
def test_every_estimated_value_is_flagged_and_every_gap_is_filled(values, ctx) -> None:
    batch = intervals(values)
    [v] = validate([batch], now=NOW, contexts={1: ctx}).validated
    assert len(v) == len(values)  # (start, end] fully covered: every gap filled
    raw = dict(zip(batch.timestamps, batch.values, strict=True))
    for ts, val, q, method in zip(v.timestamps, v.values, v.qualities, v.methods, strict=True):
        estimated = method.startswith("estimated:")
        assert estimated == quality.has(q, quality.ESTIMATED)
        if not estimated:
            assert raw[ts] == val  # a value VEE kept is the raw value
        if ts not in raw:
            assert estimated


@settings(max_examples=100, deadline=None)
@given(series, contexts)
def test_running_vee_again_gives_the_same_answer(values, ctx) -> None:
    first = validate([intervals(values)], now=NOW, contexts={1: ctx})
    second = validate([intervals(values)], now=NOW, contexts={1: ctx})
    assert first == second
