"""PSI of numeric (reference-quantile bins) and categorical (shares + 'other') columns."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tasador.drift.psi import (
    PSI_EPSILON,
    categorical_psi,
    categorical_shares,
    numeric_bins,
    numeric_psi,
    psi_from_shares,
)


def test_identical_numeric_distributions_have_zero_psi() -> None:
    values = np.arange(100, dtype=float)
    assert numeric_psi(values, values[::-1]) == 0.0


def test_hand_computed_numeric_psi() -> None:
    # Two bins split at the reference median 5.5: reference shares 0.5/0.5, current 0.8/0.2.
    reference = np.arange(1, 11, dtype=float)
    current = np.array([1, 1, 1, 1, 1, 1, 1, 1, 9, 10], dtype=float)
    expected = 0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5)  # = 0.3 * ln 4
    assert numeric_psi(reference, current, bins=2) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.3 * math.log(4.0), rel=1e-12)


def test_tied_quantiles_merge_bins_and_empty_bins_use_epsilon() -> None:
    # Reference deciles are 1,1,1,1,1.5,2,2,2,2 -> bins (-inf,1], (1,1.5], (1.5,2], (2,inf).
    reference = np.array([1.0] * 5 + [2.0] * 5)
    current = np.array([1.0, 1.0, 2.0, 3.0])
    eps = PSI_EPSILON
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.25 - eps) * math.log(0.25 / eps)
    assert numeric_psi(reference, current) == pytest.approx(expected, rel=1e-12)


def test_sorted_and_unsorted_numeric_psi_agree() -> None:
    rng = np.random.default_rng(3)
    reference = rng.lognormal(0.0, 1.0, 5_000)
    current = rng.lognormal(0.2, 1.0, 3_000)
    unsorted = numeric_psi(reference, current)
    presorted = numeric_psi(np.sort(reference), np.sort(current), assume_sorted=True)
    assert presorted == pytest.approx(unsorted, rel=1e-12)
    assert unsorted > 0.0


def test_identical_category_shares_have_zero_psi() -> None:
    assert categorical_psi({"a": 10, "b": 30}, {"b": 3, "a": 1}) == 0.0


def test_hand_computed_categorical_psi_with_unseen_category() -> None:
    # Reference a/b = 0.5/0.5; current a = 0.8, b absent, unseen c = 0.2 goes to 'other'.
    eps = PSI_EPSILON
    expected = (
        (0.8 - 0.5) * math.log(0.8 / 0.5)
        + (eps - 0.5) * math.log(eps / 0.5)
        + (0.2 - eps) * math.log(0.2 / eps)
    )
    got = categorical_psi({"a": 50, "b": 50}, {"a": 80, "c": 20})
    assert got == pytest.approx(expected, rel=1e-12)


def test_unseen_categories_share_one_bucket() -> None:
    one_new = categorical_psi({"a": 50, "b": 50}, {"a": 50, "b": 30, "c": 20})
    two_new = categorical_psi({"a": 50, "b": 50}, {"a": 50, "b": 30, "c": 10, "d": 10})
    assert one_new == pytest.approx(two_new, rel=1e-12)


def test_misaligned_shares_are_refused() -> None:
    with pytest.raises(ValueError, match="aligned"):
        psi_from_shares([0.5, 0.5], [1.0])


def test_empty_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        numeric_psi([], [1.0])
    with pytest.raises(ValueError, match="non-empty"):
        categorical_psi({"a": 1}, {})
    with pytest.raises(ValueError, match="non-empty"):
        numeric_bins([1.0], [])
    with pytest.raises(ValueError, match="non-empty"):
        categorical_shares({}, {"a": 1})


def test_hand_computed_numeric_bins_are_right_closed() -> None:
    # Quartiles of 1..8 sit at 2.75, 4.5, 6.25; a value on an edge falls in the bin to its left.
    reference = np.arange(8, 0, -1, dtype=float)
    current = np.array([100.0, 4.5, 3.0, 7.0, 2.75])
    for ref, cur, assume_sorted in [
        (reference, current, False),
        (np.sort(reference), np.sort(current), True),
    ]:
        edges, ref_shares, cur_shares = numeric_bins(ref, cur, bins=4, assume_sorted=assume_sorted)
        assert edges.tolist() == [2.75, 4.5, 6.25]
        assert ref_shares.tolist() == [0.25, 0.25, 0.25, 0.25]
        assert cur_shares.tolist() == [0.2, 0.4, 0.0, 0.4]


def test_numeric_bins_merge_tied_quantiles_and_one_bin_has_no_edges() -> None:
    edges, ref_shares, cur_shares = numeric_bins([1.0] * 5 + [2.0] * 5, [1.0, 1.0, 2.0, 3.0])
    assert edges.tolist() == [1.0, 1.5, 2.0]
    assert ref_shares.tolist() == [0.5, 0.0, 0.5, 0.0]
    assert cur_shares.tolist() == [0.5, 0.0, 0.25, 0.25]
    edges, ref_shares, cur_shares = numeric_bins([1.0, 2.0], [5.0], bins=1)
    assert (edges.tolist(), ref_shares.tolist(), cur_shares.tolist()) == ([], [1.0], [1.0])


@pytest.mark.parametrize("assume_sorted", [False, True])
def test_numeric_psi_is_psi_of_the_numeric_bins(assume_sorted: bool) -> None:
    rng = np.random.default_rng(5)
    reference = np.sort(rng.lognormal(0.0, 1.0, 2_000))
    current = np.sort(rng.lognormal(0.3, 1.0, 700))
    _, ref_shares, cur_shares = numeric_bins(
        reference, current, bins=7, assume_sorted=assume_sorted
    )
    psi = numeric_psi(reference, current, bins=7, assume_sorted=assume_sorted)
    assert psi == psi_from_shares(ref_shares, cur_shares)
    assert psi > 0.0


def test_categorical_shares_keep_reference_order_and_pool_unseen_categories() -> None:
    categories, ref_shares, cur_shares = categorical_shares(
        {"b": 25, "a": 75}, {"a": 50, "c": 30, "d": 20}
    )
    assert categories == ["b", "a"]
    assert ref_shares.tolist() == [0.25, 0.75, 0.0]
    assert cur_shares.tolist() == [0.0, 0.5, 0.5]
    assert categorical_psi({"b": 25, "a": 75}, {"a": 50, "c": 30, "d": 20}) == psi_from_shares(
        ref_shares, cur_shares
    )
