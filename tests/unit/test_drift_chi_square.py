"""Chi-square of homogeneity with rare categories merged, checked against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.stats.contingency import association

from tasador.drift.chi_square import chi_square_homogeneity, contingency_table


def test_matches_scipy_on_a_table_without_rare_categories() -> None:
    reference = {"for_sale": 600, "sold": 350, "ready_to_build": 50}
    current = {"for_sale": 500, "sold": 420, "ready_to_build": 80}
    table = contingency_table(reference, current)
    # columns sorted by name: for_sale, ready_to_build, sold
    np.testing.assert_array_equal(table, [[600, 50, 350], [500, 80, 420]])
    ours = chi_square_homogeneity(reference, current)
    theirs = stats.chi2_contingency(table, correction=False)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)
    assert ours.dof == theirs.dof == 2
    assert ours.cramers_v == pytest.approx(association(table, method="cramer"), rel=1e-12)


def test_two_by_two_uses_no_continuity_correction() -> None:
    ours = chi_square_homogeneity({"a": 30, "b": 70}, {"a": 45, "b": 55})
    theirs = stats.chi2_contingency([[30, 70], [45, 55]], correction=False)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)


def test_small_pool_joins_the_smallest_kept_category() -> None:
    # N = 397, smaller row 195: a column needs 5 * 397 / 195 = 10.2 rows. c, d, e pool to 7 rows,
    # too few, so the pool joins b (190 rows).
    reference = {"a": 100, "b": 100, "c": 1, "d": 1}
    current = {"a": 100, "b": 90, "c": 2, "e": 3}
    table = contingency_table(reference, current)
    np.testing.assert_array_equal(table, [[100, 102], [100, 95]])
    expected = stats.chi2_contingency(table, correction=False)
    result = chi_square_homogeneity(reference, current)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.columns == 2


def test_large_enough_pool_is_its_own_column() -> None:
    # N = 400, rows 200/200: a column needs 10 rows. Nine categories of 3 rows pool to 27.
    rare = {f"r{i}": 2 for i in range(9)}
    reference = {"a": 100, "b": 82, **rare}
    current = {"a": 120, "b": 71, **dict.fromkeys(rare, 1)}
    table = contingency_table(reference, current)
    np.testing.assert_array_equal(table, [[100, 82, 18], [120, 71, 9]])
    expected = stats.chi2_contingency(table, correction=False)
    assert chi_square_homogeneity(reference, current).p_value == pytest.approx(
        expected.pvalue, rel=1e-9
    )


def test_every_expected_count_reaches_the_minimum() -> None:
    rng = np.random.default_rng(2)
    reference = {f"s{i}": int(n) for i, n in enumerate(rng.integers(0, 40, 54))}
    current = {f"s{i}": int(n) for i, n in enumerate(rng.integers(0, 15, 60))}
    table = contingency_table(reference, current)
    expected = stats.contingency.expected_freq(table)
    assert expected.min() >= 5.0
    assert table.sum() == sum(reference.values()) + sum(current.values())


def test_same_shares_give_no_evidence() -> None:
    result = chi_square_homogeneity({"a": 20, "b": 60}, {"a": 10, "b": 30})
    assert result.statistic == pytest.approx(0.0, abs=1e-12)
    assert result.p_value == pytest.approx(1.0)
    assert result.cramers_v == pytest.approx(0.0, abs=1e-7)


def test_a_single_category_cannot_be_tested() -> None:
    result = chi_square_homogeneity({"a": 20}, {"a": 5})
    assert (result.statistic, result.p_value, result.dof, result.cramers_v) == (0.0, 1.0, 0, 0.0)


def test_empty_row_is_refused() -> None:
    with pytest.raises(ValueError, match="both rows"):
        chi_square_homogeneity({"a": 20}, {})
