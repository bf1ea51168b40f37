"""Chi-square test of homogeneity of a categorical column, with Cramér's V as its effect size."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Default effect-size threshold on Cramér's V (see `chi_square_homogeneity`).
CRAMERS_V_THRESHOLD = 0.1


@dataclass(frozen=True, slots=True)
class ChiSquareResult:
    """Pearson chi-square of the 2×K table, its p-value, degrees of freedom and Cramér's V."""

    statistic: float
    p_value: float
    dof: int
    cramers_v: float
    columns: int  # categories left after merging rare ones


def contingency_table(
    reference_counts: Mapping[str, int],
    current_counts: Mapping[str, int],
    *,
    min_expected: float = 5.0,
) -> np.ndarray:
    """The 2×K table of counts (reference row, current row) with rare categories merged.

    A category whose expected count would fall below `min_expected` in either row joins one pooled
    column; a pool that is itself too small joins the smallest kept category. Columns are ordered by
    category name, the pool last.
    """
    categories = sorted(set(reference_counts) | set(current_counts))
    table = np.array(
        [
            [reference_counts.get(k, 0) for k in categories],
            [current_counts.get(k, 0) for k in categories],
        ],
        dtype=np.int64,
    ).reshape(2, len(categories))
    row_totals = table.sum(axis=1)
    if row_totals.min() <= 0:
        raise ValueError("both rows of the contingency table need counts")
    # expected[r, k] = row_r · col_k / N, so both rows reach min_expected iff col_k >= this:
    min_column = min_expected * row_totals.sum() / row_totals.min()
    column_totals = table.sum(axis=0)
    keep = column_totals >= min_column
    kept = table[:, keep]
    pool = table[:, ~keep].sum(axis=1)
    if pool.sum() >= min_column:
        kept = np.column_stack([kept, pool])
    elif pool.sum() > 0 and kept.shape[1] > 0:
        smallest = int(np.argmin(kept.sum(axis=0)))
        kept[:, smallest] += pool
    elif pool.sum() > 0:
        kept = pool.reshape(2, 1)
    return kept


def chi_square_homogeneity(
    reference_counts: Mapping[str, int],
    current_counts: Mapping[str, int],
    *,
    min_expected: float = 5.0,
) -> ChiSquareResult:
    """Test whether two category → count mappings come from the same category distribution.

    Applies to categorical columns (missing values left out). Pearson's chi-square on the 2×K table
    of `contingency_table` (no continuity correction); a small p-value means drift. The effect size
    is Cramér's V = sqrt(χ² / N) for two rows, in [0, 1], independent of the number of rows: 0 means
    identical shares, larger means more drift; the default threshold is `CRAMERS_V_THRESHOLD` (0.1).
    With fewer than two categories left there is nothing to test: χ² = 0, p = 1.
    """
    table = contingency_table(reference_counts, current_counts, min_expected=min_expected).astype(
        np.float64
    )
    k = table.shape[1]
    if k < 2:
        return ChiSquareResult(statistic=0.0, p_value=1.0, dof=0, cramers_v=0.0, columns=k)
    total = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    chi2 = float(np.sum((table - expected) ** 2 / expected))
    dof = k - 1
    p = float(stats.chi2.sf(chi2, dof))
    v = float(min(1.0, np.sqrt(chi2 / total)))
    return ChiSquareResult(statistic=chi2, p_value=p, dof=dof, cramers_v=v, columns=k)
