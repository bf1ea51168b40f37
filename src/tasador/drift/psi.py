"""Population stability index (PSI) of numeric and categorical columns."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

#: Default PSI above which a column has shifted (the usual rule of thumb: <0.1 stable,
#: 0.1-0.2 moderate, >0.2 significant shift).
PSI_THRESHOLD = 0.2
#: Share given to an empty bin so the logarithm stays finite.
PSI_EPSILON = 1e-4


def psi_from_shares(
    reference: npt.ArrayLike, current: npt.ArrayLike, *, epsilon: float = PSI_EPSILON
) -> float:
    """PSI = Σ (c − r)·ln(c / r) over aligned bin shares; empty bins count as `epsilon`.

    Applies to any binned column. PSI ≥ 0; 0 means identical shares, larger means more drift.
    """
    r = np.maximum(np.asarray(reference, dtype=np.float64), epsilon)
    c = np.maximum(np.asarray(current, dtype=np.float64), epsilon)
    if r.shape != c.shape:
        raise ValueError("reference and current shares must be aligned")
    return float(np.sum((c - r) * np.log(c / r)))


def numeric_bins(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    bins: int = 10,
    assume_sorted: bool = False,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(edges, reference shares, current shares) of the bins `numeric_psi` scores.

    Shared so the shares shown to people are exactly the ones PSI is computed from. `edges` are the
    k distinct inner reference quantiles; the k + 1 right-closed bins are (-inf, e0], (e0, e1], ...,
    (ek-1, inf). Repeated quantiles (ties) merge bins; `assume_sorted=True` means both samples are
    sorted ascending.
    """
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    if ref.size == 0 or cur.size == 0:
        raise ValueError("numeric bins need two non-empty samples")
    if bins < 1:
        raise ValueError("bins must be at least 1")
    if not assume_sorted:
        ref = np.sort(ref)
    edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    ref_counts = _counts_sorted(ref, edges)
    cur_counts = (
        _counts_sorted(cur, edges)
        if assume_sorted
        else np.bincount(np.searchsorted(edges, cur, side="left"), minlength=edges.size + 1)
    )
    return edges, ref_counts / ref.size, cur_counts / cur.size


def numeric_psi(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    bins: int = 10,
    epsilon: float = PSI_EPSILON,
    assume_sorted: bool = False,
) -> float:
    """PSI of a numeric column over `bins` reference-quantile bins (right-closed, `numeric_bins`).

    Applies to numeric columns, NaNs already dropped. PSI ≥ 0; 0 means the current batch fills the
    reference deciles evenly, above the default threshold `PSI_THRESHOLD` (0.2) is drift.
    """
    _, ref_shares, cur_shares = numeric_bins(
        reference, current, bins=bins, assume_sorted=assume_sorted
    )
    return psi_from_shares(ref_shares, cur_shares, epsilon=epsilon)


def categorical_shares(
    reference_counts: Mapping[str, int], current_counts: Mapping[str, int]
) -> tuple[list[str], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(categories, reference shares, current shares) of the buckets `categorical_psi` scores.

    Shared so the shares shown to people are exactly the ones PSI is computed from. `categories`
    are the reference's, in its order; both share arrays have one more entry, the 'other' bucket of
    categories unseen in the reference (reference share 0).
    """
    ref_total = sum(reference_counts.values())
    cur_total = sum(current_counts.values())
    if ref_total <= 0 or cur_total <= 0:
        raise ValueError("categorical shares need non-empty counts")
    categories = list(reference_counts)
    ref = np.array([reference_counts[k] for k in categories] + [0], dtype=np.float64)
    cur = np.array([current_counts.get(k, 0) for k in categories] + [0], dtype=np.float64)
    cur[-1] = cur_total - cur[:-1].sum()
    return categories, ref / ref_total, cur / cur_total


def categorical_psi(
    reference_counts: Mapping[str, int],
    current_counts: Mapping[str, int],
    *,
    epsilon: float = PSI_EPSILON,
) -> float:
    """PSI of a categorical column over the reference categories plus one 'other' bucket.

    Applies to categorical columns given as category → count (buckets: `categorical_shares`).
    Categories unseen in the reference share the 'other' bucket (reference share 0, so `epsilon`).
    PSI ≥ 0; 0 means identical category shares, above the default threshold `PSI_THRESHOLD` (0.2)
    is drift.
    """
    _, ref_shares, cur_shares = categorical_shares(reference_counts, current_counts)
    return psi_from_shares(ref_shares, cur_shares, epsilon=epsilon)


def _counts_sorted(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of sorted `values` in the right-closed bins (-inf, e0], (e0, e1], ..., (ek, inf)."""
    cumulative = np.append(np.searchsorted(values, edges, side="right"), values.size)
    return np.diff(cumulative, prepend=0)
