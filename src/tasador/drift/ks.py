"""Two-sample Kolmogorov-Smirnov test, fast enough for a million rows against a million rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

#: Default effect-size threshold on the KS statistic D (see `ks_two_sample`).
KS_THRESHOLD = 0.1


@dataclass(frozen=True, slots=True)
class KsResult:
    """KS statistic D (largest ECDF gap, in [0, 1]), its two-sided p-value and the sizes used."""

    statistic: float
    p_value: float
    n_reference: int
    n_current: int


def ks_two_sample(
    reference: npt.ArrayLike, current: npt.ArrayLike, *, assume_sorted: bool = False
) -> KsResult:
    """Compare two numeric samples by the largest gap between their empirical CDFs.

    Applies to numeric columns, NaNs already dropped. D in [0, 1] is the effect size: 0 means the
    ECDFs coincide, larger D means more drift; the default threshold is `KS_THRESHOLD` (0.1). The
    p-value (small means drift) is scipy's asymptotic one, `kstwo.sf(D, round(n·m / (n + m)))`,
    identical to `scipy.stats.ks_2samp(method="asymp")`; with millions of rows it is tiny for any
    real difference, which is why drift also needs D above its threshold. D is computed exactly
    (integer counts, ties handled) from the sorted samples; `assume_sorted=True` skips the sort.
    """
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(current, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1 or a.size == 0 or b.size == 0:
        raise ValueError("ks_two_sample needs two non-empty 1-D samples")
    if not assume_sorted:
        a = np.sort(a)
        b = np.sort(b)
    n1, n2 = a.size, b.size
    gap = max(_largest_gap(a, b, n1, n2), _largest_gap(b, a, n2, n1))
    d = gap / (n1 * n2)
    m, n = max(n1, n2), min(n1, n2)
    effective_n = max(1, round(m * n / (m + n)))  # at least 1: kstwo is undefined at 0
    p = 1.0 if d == 0.0 else float(np.clip(stats.kstwo.sf(d, effective_n), 0.0, 1.0))
    return KsResult(statistic=d, p_value=p, n_reference=n1, n_current=n2)


def _largest_gap(x: np.ndarray, y: np.ndarray, nx: int, ny: int) -> int:
    """max |nx·ny·(F_x − F_y)| over the distinct values of sorted x, as an exact integer."""
    # The last element of each run of equal values holds the run's exact ECDF count.
    run_ends = np.flatnonzero(np.append(x[1:] != x[:-1], True))
    count_x = run_ends + 1
    count_y = np.searchsorted(y, x[run_ends], side="right")
    return int(np.max(np.abs(count_x.astype(np.int64) * ny - count_y.astype(np.int64) * nx)))
