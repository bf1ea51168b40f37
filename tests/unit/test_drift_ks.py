"""KS two-sample test: exact statistic, scipy's asymptotic p-value, ties."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tasador.drift.ks import ks_two_sample


def test_hand_computed_statistic() -> None:
    # F_a(2) = 0.5 vs F_b(2) = 0; F_a(4) = 1 vs F_b(4) = 0.5: D = 0.5.
    result = ks_two_sample([1, 2, 3, 4], [3, 4, 5, 6])
    assert result.statistic == 0.5
    assert (result.n_reference, result.n_current) == (4, 4)


def test_identical_samples_have_no_gap() -> None:
    result = ks_two_sample([3.0, 1.0, 2.0, 2.0], [2.0, 1.0, 3.0, 2.0])
    assert result.statistic == 0.0
    assert result.p_value == 1.0


def test_disjoint_samples_have_full_gap() -> None:
    assert ks_two_sample([1.0, 2.0], [5.0, 6.0, 7.0]).statistic == 1.0


@pytest.mark.parametrize(
    ("n_reference", "n_current", "integers"),
    [(40, 55, False), (40, 55, True), (3_000, 2_000, True), (25_000, 12_000, False)],
)
def test_matches_scipy_asymptotic(n_reference: int, n_current: int, integers: bool) -> None:
    rng = np.random.default_rng(n_reference + n_current)
    if integers:  # many ties
        a = rng.integers(0, 12, n_reference).astype(float)
        b = rng.integers(0, 13, n_current).astype(float)
    else:
        a = rng.normal(0.0, 1.0, n_reference)
        b = rng.normal(0.05, 1.1, n_current)
    ours = ks_two_sample(a, b)
    theirs = stats.ks_2samp(a, b, method="asymp")
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12, abs=1e-15)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-300)


def test_p_value_close_to_scipy_default_method() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(0.0, 1.0, 4_000)
    b = rng.normal(0.03, 1.0, 5_000)
    ours = ks_two_sample(a, b)
    theirs = stats.ks_2samp(a, b)  # exact for samples this small
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=0.05)


def test_one_row_each_has_a_defined_p_value() -> None:
    # n·m / (n + m) = 0.5 would round to 0 rows, where the Kolmogorov distribution is undefined.
    assert ks_two_sample([0.0], [0.0]).p_value == 1.0
    assert 0.0 <= ks_two_sample([0.0], [1.0]).p_value <= 1.0


def test_presorted_input_gives_the_same_result() -> None:
    rng = np.random.default_rng(9)
    a = rng.integers(0, 50, 1_000).astype(float)
    b = rng.integers(5, 60, 700).astype(float)
    assert ks_two_sample(np.sort(a), np.sort(b), assume_sorted=True) == ks_two_sample(a, b)


def test_empty_sample_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        ks_two_sample([], [1.0])
