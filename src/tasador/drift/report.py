"""The drift report: each feature of a new batch tested against the model's training data.

A feature drifts only when both hold:
  1. its test is significant after Bonferroni correction: p < alpha / n_tests, where n_tests is the
     number of features tested (one test each: KS for numeric, chi-square for categorical); and
  2. its shift is large: effect size ≥ its threshold (KS D ≥ `ks_threshold` for numeric, Cramér's V
     ≥ `cramers_v_threshold` for categorical) or PSI ≥ `psi_threshold`.
The p-value alone would flag any negligible difference once batches are large; the effect size alone
would flag noise in small batches. Together, large batches from the same distribution do not trigger
retraining and small batches need a clear shift. The batch drifts when at least `min_drifted`
features do.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd

from tasador import schema
from tasador.drift.chi_square import CRAMERS_V_THRESHOLD, chi_square_homogeneity
from tasador.drift.ks import KS_THRESHOLD, ks_two_sample
from tasador.drift.profile import DataProfile, category_counts, numeric_values
from tasador.drift.psi import PSI_THRESHOLD, categorical_shares, numeric_bins, psi_from_shares

logger = logging.getLogger(__name__)

#: Numeric features checked by default: the target first (label drift matters for retraining; KS
#: and quantile-bin PSI are invariant to monotone transforms, so the log scale changes nothing),
#: then the schema's numeric features.
DRIFT_NUMERIC: tuple[str, ...] = (schema.TARGET, *schema.NUMERIC)
#: Categorical features checked by default: the schema's categorical features except the
#: high-cardinality ones (city, ZIP code), whose per-batch counts are too sparse to test.
DRIFT_CATEGORICAL: tuple[str, ...] = tuple(
    c for c in schema.CATEGORICAL if c not in ("city", "zip_code")
)

#: Most reference categories drawn one by one; the rest join the 'other' bucket.
MAX_CATEGORIES_SHOWN = 15

Kind = Literal["numeric", "categorical"]
Test = Literal["ks", "chi2"]


@dataclass(frozen=True, slots=True)
class DistributionBins:
    """A feature's reference and current shares over the bins its PSI scores, for drawing.

    Numeric: the reference-quantile bins, labelled '≤ a', '(a, b]', '> z' from the inner `edges`.
    Categorical: the most common reference categories, then 'other' (`edges` empty). Each side's
    shares sum to 1.
    """

    labels: tuple[str, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]
    edges: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "labels": list(self.labels),
            "reference": list(self.reference),
            "current": list(self.current),
            "edges": list(self.edges),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DistributionBins:
        """Inverse of `to_dict`."""
        return cls(
            labels=tuple(str(x) for x in data["labels"]),
            reference=tuple(float(x) for x in data["reference"]),
            current=tuple(float(x) for x in data["current"]),
            edges=tuple(float(x) for x in data.get("edges", ())),
        )


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """One feature's test, effect size and PSI with the thresholds used, and whether it drifted.

    `statistic` is KS D or the chi-square statistic; `effect_size` is KS D or Cramér's V. A feature
    with no values on one side is not tested (statistic 0, p-value 1, not drifted, `bins` None);
    its missing shares tell the story.
    """

    feature: str
    kind: Kind
    test: Test
    statistic: float
    p_value: float
    effect_size: float
    effect_threshold: float
    psi: float
    psi_threshold: float
    alpha_corrected: float
    drifted: bool
    missing_share_reference: float
    missing_share_current: float
    bins: DistributionBins | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        data = asdict(self)
        data["bins"] = None if self.bins is None else self.bins.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureDrift:
        """Inverse of `to_dict`; reports stored before bins existed load with `bins` None."""
        bins = data.get("bins")
        return cls(
            feature=str(data["feature"]),
            kind=data["kind"],
            test=data["test"],
            drifted=bool(data["drifted"]),
            bins=None if bins is None else DistributionBins.from_dict(bins),
            **{
                k: float(data[k])
                for k in (
                    "statistic",
                    "p_value",
                    "effect_size",
                    "effect_threshold",
                    "psi",
                    "psi_threshold",
                    "alpha_corrected",
                    "missing_share_reference",
                    "missing_share_current",
                )
            },
        )

    def describe(self) -> str:
        """Short human summary, e.g. 'price (KS D=0.62, p=0, PSI=4.1)'."""
        effect = "KS D" if self.test == "ks" else "Cramér's V"
        return (
            f"{self.feature} ({effect}={self.effect_size:.3g}, p={self.p_value:.3g}, "
            f"PSI={self.psi:.3g})"
        )


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Every feature's result, the family-wise alpha, the verdict and why."""

    features: tuple[FeatureDrift, ...]
    alpha: float
    n_tests: int
    drifted_features: tuple[str, ...]
    verdict: bool
    reason: str
    reference_rows: int
    current_rows: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "features": [f.to_dict() for f in self.features],
            "alpha": self.alpha,
            "n_tests": self.n_tests,
            "drifted_features": list(self.drifted_features),
            "verdict": self.verdict,
            "reason": self.reason,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReport:
        """Inverse of `to_dict`."""
        return cls(
            features=tuple(FeatureDrift.from_dict(f) for f in data["features"]),
            alpha=float(data["alpha"]),
            n_tests=int(data["n_tests"]),
            drifted_features=tuple(str(f) for f in data["drifted_features"]),
            verdict=bool(data["verdict"]),
            reason=str(data["reason"]),
            reference_rows=int(data["reference_rows"]),
            current_rows=int(data["current_rows"]),
        )


@dataclass(frozen=True, slots=True)
class _Measured:
    feature: str
    kind: Kind
    test: Test
    tested: bool
    statistic: float
    p_value: float
    effect_size: float
    effect_threshold: float
    psi: float
    missing_share_reference: float
    missing_share_current: float
    bins: DistributionBins | None


def detect_drift(
    reference: DataProfile,
    current: pd.DataFrame,
    *,
    alpha: float = 0.05,
    ks_threshold: float = KS_THRESHOLD,
    psi_threshold: float = PSI_THRESHOLD,
    cramers_v_threshold: float = CRAMERS_V_THRESHOLD,
    min_drifted: int = 1,
    psi_bins: int = 10,
) -> DriftReport:
    """Test every feature of `reference` in the `current` batch (the rule: module docstring).

    Numeric features: KS (effect size D) and PSI over `psi_bins` reference-quantile bins, on finite
    values. Categorical features: chi-square of homogeneity (effect size Cramér's V) and PSI over
    category shares, missing values left out. Missing shares are reported, not tested.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    if min_drifted < 1:
        raise ValueError("min_drifted must be at least 1")
    absent = [f for f in reference.features if f not in current.columns]
    if absent:
        raise KeyError(f"features of the reference missing from the batch: {absent}")
    measured = [
        _measure_numeric(name, reference, current, ks_threshold, psi_bins)
        for name in reference.numeric
    ] + [
        _measure_categorical(name, reference, current, cramers_v_threshold)
        for name in reference.categorical
    ]
    n_tests = sum(m.tested for m in measured)
    alpha_corrected = alpha / n_tests if n_tests else alpha
    features = tuple(
        FeatureDrift(
            feature=m.feature,
            kind=m.kind,
            test=m.test,
            statistic=m.statistic,
            p_value=m.p_value,
            effect_size=m.effect_size,
            effect_threshold=m.effect_threshold,
            psi=m.psi,
            psi_threshold=psi_threshold,
            alpha_corrected=alpha_corrected,
            drifted=m.tested
            and m.p_value < alpha_corrected
            and (m.effect_size >= m.effect_threshold or m.psi >= psi_threshold),
            missing_share_reference=m.missing_share_reference,
            missing_share_current=m.missing_share_current,
            bins=m.bins,
        )
        for m in measured
    )
    drifted = tuple(f.feature for f in features if f.drifted)
    verdict = len(drifted) >= min_drifted
    reason = _explain(features, drifted, min_drifted)
    logger.debug("drift verdict %s: %s", verdict, reason)
    return DriftReport(
        features=features,
        alpha=alpha,
        n_tests=n_tests,
        drifted_features=drifted,
        verdict=verdict,
        reason=reason,
        reference_rows=reference.rows,
        current_rows=len(current),
    )


def _measure_numeric(
    name: str, reference: DataProfile, current: pd.DataFrame, ks_threshold: float, bins: int
) -> _Measured:
    ref = reference.numeric[name]
    values = numeric_values(current[name])
    finite = np.sort(values[np.isfinite(values)])
    missing_current = 1.0 - finite.size / values.size if values.size else 0.0
    tested = ref.sample.size > 0 and finite.size > 0
    if tested:
        ks = ks_two_sample(ref.sample, finite, assume_sorted=True)
        # Exactly `numeric_psi`, keeping the bins to show.
        edges, ref_shares, cur_shares = numeric_bins(
            ref.sample, finite, bins=bins, assume_sorted=True
        )
        psi = psi_from_shares(ref_shares, cur_shares)
        statistic, p_value = ks.statistic, ks.p_value
        distribution: DistributionBins | None = DistributionBins(
            labels=_numeric_labels(edges.tolist()),
            reference=tuple(ref_shares.tolist()),
            current=tuple(cur_shares.tolist()),
            edges=tuple(edges.tolist()),
        )
    else:
        statistic, p_value, psi, distribution = 0.0, 1.0, 0.0, None
    return _Measured(
        feature=name,
        kind="numeric",
        test="ks",
        tested=tested,
        statistic=statistic,
        p_value=p_value,
        effect_size=statistic,
        effect_threshold=ks_threshold,
        psi=psi,
        missing_share_reference=ref.missing_share,
        missing_share_current=missing_current,
        bins=distribution,
    )


def _measure_categorical(
    name: str, reference: DataProfile, current: pd.DataFrame, v_threshold: float
) -> _Measured:
    ref = reference.categorical[name]
    counts = category_counts(current[name])
    n_current = sum(counts.values())
    missing_current = 1.0 - n_current / len(current) if len(current) else 0.0
    tested = sum(ref.counts.values()) > 0 and n_current > 0
    if tested:
        chi = chi_square_homogeneity(ref.counts, counts)
        # Exactly `categorical_psi`, keeping the shares to show.
        categories, ref_shares, cur_shares = categorical_shares(ref.counts, counts)
        psi = psi_from_shares(ref_shares, cur_shares)
        statistic, p_value, effect = chi.statistic, chi.p_value, chi.cramers_v
        distribution: DistributionBins | None = _categorical_bins(
            categories, ref_shares, cur_shares
        )
    else:
        statistic, p_value, effect, psi, distribution = 0.0, 1.0, 0.0, 0.0, None
    return _Measured(
        feature=name,
        kind="categorical",
        test="chi2",
        tested=tested,
        statistic=statistic,
        p_value=p_value,
        effect_size=effect,
        effect_threshold=v_threshold,
        psi=psi,
        missing_share_reference=ref.missing_share,
        missing_share_current=missing_current,
        bins=distribution,
    )


def _numeric_labels(edges: Sequence[float]) -> tuple[str, ...]:
    """'≤ a', '(a, b]', ..., '> z' for the right-closed bins around the inner `edges`."""
    if not edges:
        return ("all",)
    text = _format_edges(edges)
    return (f"≤ {text[0]}", *(f"({a}, {b}]" for a, b in pairwise(text)), f"> {text[-1]}")


def _format_edges(edges: Sequence[float]) -> list[str]:
    """3 significant digits, more (for all edges) only when needed to keep distinct edges apart."""
    for digits in range(3, 17):
        text = [f"{e:.{digits}g}" for e in edges]
        if len(set(text)) == len(text):
            return text
    return [f"{e:.17g}" for e in edges]  # 17 digits tell any two floats apart


def _categorical_bins(
    categories: Sequence[str], reference: np.ndarray, current: np.ndarray
) -> DistributionBins:
    """The commonest reference categories, the rest and the unseen ones folded into 'other'.

    `reference` and `current` are `categorical_shares` output (last entry: the unseen bucket). Ties
    in reference share go by name so the order does not depend on the counts' order.
    """
    order = sorted(range(len(categories)), key=lambda i: (-reference[i], categories[i]))
    shown = order[:MAX_CATEGORIES_SHOWN]
    folded = [*order[MAX_CATEGORIES_SHOWN:], len(categories)]
    labels = [categories[i] for i in shown]
    ref = [float(reference[i]) for i in shown]
    cur = [float(current[i]) for i in shown]
    other_ref, other_cur = float(reference[folded].sum()), float(current[folded].sum())
    if other_ref > 0.0 or other_cur > 0.0:
        labels.append("other")
        ref.append(other_ref)
        cur.append(other_cur)
    return DistributionBins(labels=tuple(labels), reference=tuple(ref), current=tuple(cur))


def _explain(features: tuple[FeatureDrift, ...], drifted: tuple[str, ...], needed: int) -> str:
    if not features:
        return "no feature checked"
    total = len(features)
    if drifted:
        listed = ", ".join(f.describe() for f in features if f.drifted)
        sentence = f"{len(drifted)} of {total} features drifted: {listed}"
        if len(drifted) < needed:
            sentence += f"; fewer than the {needed} needed to call drift"
        return sentence
    largest = max(
        features,
        key=lambda f: max(
            f.effect_size / f.effect_threshold if f.effect_threshold else 0.0,
            f.psi / f.psi_threshold if f.psi_threshold else 0.0,
        ),
    )
    return f"no feature drifted (largest effect: {largest.describe()})"
