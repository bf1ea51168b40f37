"""Properties of the drift statistics on arbitrary inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from tasador.drift import (
    DataProfile,
    categorical_psi,
    chi_square_homogeneity,
    ks_two_sample,
    numeric_psi,
    profile_frame,
)

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
# Few distinct values make ties likely.
tied = st.integers(min_value=-3, max_value=3).map(float)
samples = st.lists(st.one_of(finite, tied), min_size=1, max_size=60)
counts = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e", "f"]), st.integers(0, 500), min_size=1
).filter(lambda d: sum(d.values()) > 0)


@given(samples, samples)
def test_ks_is_bounded_symmetric_and_matches_scipy(a: list[float], b: list[float]) -> None:
    forward = ks_two_sample(a, b)
    backward = ks_two_sample(b, a)
    assert 0.0 <= forward.statistic <= 1.0
    assert 0.0 <= forward.p_value <= 1.0
    assert forward.statistic == backward.statistic
    assert forward.p_value == backward.p_value
    with np.errstate(divide="ignore"):  # scipy's p-value divides by zero for 1 vs 1 rows
        expected = stats.ks_2samp(a, b, method="asymp").statistic
    assert np.isclose(forward.statistic, expected)


@given(samples, samples, st.integers(1, 12))
def test_numeric_psi_is_non_negative_and_zero_on_itself(
    a: list[float], b: list[float], bins: int
) -> None:
    assert numeric_psi(a, b, bins=bins) >= 0.0
    assert numeric_psi(a, a, bins=bins) == 0.0


@given(counts, counts)
def test_categorical_statistics_are_bounded(ref: dict[str, int], cur: dict[str, int]) -> None:
    assert categorical_psi(ref, cur) >= 0.0
    assert categorical_psi(ref, ref) == 0.0
    result = chi_square_homogeneity(ref, cur)
    assert result.statistic >= 0.0
    assert 0.0 <= result.p_value <= 1.0
    assert 0.0 <= result.cramers_v <= 1.0


@settings(max_examples=30)
@given(st.lists(st.one_of(finite, st.just(float("nan"))), min_size=1, max_size=40), st.data())
def test_profile_round_trips(values: list[float], data: st.DataObject) -> None:
    cats = data.draw(
        st.lists(st.sampled_from(["x", "y", "z"]), min_size=len(values), max_size=len(values))
    )
    frame = pd.DataFrame({"v": values, "c": cats})
    profile = profile_frame(frame, ["v"], ["c"], max_sample=data.draw(st.integers(1, 50)))
    restored = DataProfile.from_dict(json.loads(json.dumps(profile.to_dict(), allow_nan=False)))
    assert restored == profile
