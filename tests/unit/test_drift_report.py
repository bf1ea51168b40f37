"""detect_drift: the rule (Bonferroni-corrected test AND effect size), verdicts, reasons."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from tasador import schema
from tasador.drift import (
    DRIFT_CATEGORICAL,
    DRIFT_NUMERIC,
    DataProfile,
    DriftReport,
    detect_drift,
    ks_two_sample,
    profile_frame,
    psi_from_shares,
)
from tasador.drift.report import MAX_CATEGORIES_SHOWN, DistributionBins, FeatureDrift

STATUS_SHARES = {"for_sale": 0.6, "sold": 0.35, "ready_to_build": 0.05}


def _listings(rows: int, seed: int, *, price_factor: float = 1.0, states: int = 54) -> pd.DataFrame:
    """Synthetic listings of the drift columns; `states` < 54 concentrates rows on a few states."""
    rng = np.random.default_rng(seed)
    price = np.exp(rng.normal(12.5, 0.8, rows)) * price_factor
    bath = rng.integers(1, 5, rows).astype(float)
    bath[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "price": price,
            "bed": rng.integers(1, 7, rows).astype(float),
            "bath": bath,
            "acre_lot": np.exp(rng.normal(-1.5, 1.0, rows)),
            "house_size": np.exp(rng.normal(7.5, 0.4, rows)),
            "status": pd.array(
                rng.choice(list(STATUS_SHARES), rows, p=list(STATUS_SHARES.values())),
                dtype="string",
            ),
            "state": pd.array(rng.choice(schema.STATES[:states], rows), dtype="string"),
        }
    )


def _profile(frame: pd.DataFrame, max_sample: int = 20_000) -> DataProfile:
    return profile_frame(frame, DRIFT_NUMERIC, DRIFT_CATEGORICAL, max_sample=max_sample)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return _listings(200_000, seed=1)


@pytest.fixture(scope="module")
def reference_profile(reference: pd.DataFrame) -> DataProfile:
    return _profile(reference)


def test_default_features_come_from_the_schema() -> None:
    assert DRIFT_NUMERIC == ("price", "bed", "bath", "acre_lot", "house_size")
    assert DRIFT_CATEGORICAL == ("status", "state")


@pytest.mark.parametrize("max_sample", [20_000, 200_000])
def test_large_batches_from_the_same_distribution_do_not_drift(
    reference: pd.DataFrame, max_sample: int
) -> None:
    report = detect_drift(_profile(reference, max_sample), _listings(200_000, seed=2))
    assert report.verdict is False
    assert report.drifted_features == ()
    assert report.n_tests == 7
    assert (report.reference_rows, report.current_rows) == (200_000, 200_000)
    assert report.reason.startswith("no feature drifted (largest effect: ")
    for feature in report.features:
        assert feature.effect_size < feature.effect_threshold
        assert feature.psi < feature.psi_threshold


def test_shifted_price_drifts(reference_profile: DataProfile) -> None:
    report = detect_drift(reference_profile, _listings(50_000, seed=3, price_factor=1.5))
    assert report.verdict is True
    assert report.drifted_features == ("price",)
    price = report.features[0]
    assert (price.feature, price.kind, price.test) == ("price", "numeric", "ks")
    assert price.effect_size >= 0.1
    assert price.p_value < price.alpha_corrected
    assert report.reason.startswith("1 of 7 features drifted: price (KS D=")


def test_new_state_mix_drifts(reference_profile: DataProfile) -> None:
    report = detect_drift(reference_profile, _listings(20_000, seed=4, states=10))
    assert report.drifted_features == ("state",)
    state = next(f for f in report.features if f.feature == "state")
    assert (state.kind, state.test) == ("categorical", "chi2")
    assert state.effect_size >= state.effect_threshold  # Cramér's V
    assert state.psi >= state.psi_threshold
    assert "state (Cramér's V=" in report.reason


def test_significant_but_small_shift_does_not_drift(reference: pd.DataFrame) -> None:
    # 4% dearer: with 200k rows on both sides the KS test is highly significant, D is tiny.
    report = detect_drift(_profile(reference, 200_000), _listings(200_000, 5, price_factor=1.04))
    price = report.features[0]
    assert price.p_value < price.alpha_corrected
    assert price.effect_size < price.effect_threshold
    assert price.psi < price.psi_threshold
    assert not price.drifted
    assert report.verdict is False


def test_large_but_insignificant_effect_does_not_drift(reference_profile: DataProfile) -> None:
    current = _listings(6, seed=6, price_factor=1.6)
    report = detect_drift(reference_profile, current)
    price = report.features[0]
    assert price.effect_size >= price.effect_threshold
    assert price.p_value >= price.alpha_corrected
    assert not price.drifted


def test_bonferroni_divides_alpha_by_the_tests_run(reference_profile: DataProfile) -> None:
    current = _listings(1_000, seed=7)
    report = detect_drift(reference_profile, current, alpha=0.01)
    assert report.n_tests == 7
    assert report.alpha == 0.01
    assert all(f.alpha_corrected == pytest.approx(0.01 / 7) for f in report.features)

    current["bed"] = np.nan  # nothing to test: not counted, reported as all missing
    report = detect_drift(reference_profile, current, alpha=0.01)
    bed = report.features[1]
    assert report.n_tests == 6
    assert (bed.feature, bed.drifted, bed.p_value, bed.missing_share_current, bed.bins) == (
        "bed",
        False,
        1.0,
        1.0,
        None,
    )
    assert all(f.alpha_corrected == pytest.approx(0.01 / 6) for f in report.features)


def test_feature_values_are_the_statistics_themselves() -> None:
    reference = pd.DataFrame(
        {"x": [1.0, 2.0, 3.0, 4.0, np.nan], "c": pd.array(["a", "b", "a", "b", None], "string")}
    )
    current = pd.DataFrame({"x": [3.0, 4.0, 5.0, 6.0], "c": pd.array(["a"] * 4, "string")})
    report = detect_drift(profile_frame(reference, ["x"], ["c"]), current)
    x, c = report.features
    expected = ks_two_sample([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])
    assert (x.statistic, x.p_value, x.effect_size) == (0.5, expected.p_value, 0.5)
    assert (x.missing_share_reference, x.missing_share_current) == (0.2, 0.0)
    assert (c.missing_share_reference, c.missing_share_current) == (0.2, 0.0)
    # 2 + 4 rows of 'a' and 2 of 'b' make a single column after merging: nothing to test.
    assert (c.statistic, c.p_value) == (0.0, 1.0)
    assert report.n_tests == 2


def test_min_drifted_raises_the_bar(reference_profile: DataProfile) -> None:
    current = _listings(50_000, seed=3, price_factor=1.5)
    report = detect_drift(reference_profile, current, min_drifted=2)
    assert report.drifted_features == ("price",)
    assert report.verdict is False
    assert report.reason.endswith("fewer than the 2 needed to call drift")


def test_report_round_trips_through_json(reference_profile: DataProfile) -> None:
    report = detect_drift(reference_profile, _listings(5_000, seed=8, price_factor=1.5))
    restored = DriftReport.from_dict(json.loads(json.dumps(report.to_dict(), allow_nan=False)))
    assert restored == report
    assert all(f.bins is not None for f in restored.features)


def _bins(report: DriftReport, feature: str) -> DistributionBins:
    bins = next(f for f in report.features if f.feature == feature).bins
    assert bins is not None
    return bins


def test_numeric_bins_are_the_psi_bins_with_readable_labels() -> None:
    # Quartiles of 1..8 are 2.75, 4.5, 6.25; 4.5 itself falls in the bin it closes.
    reference = pd.DataFrame({"x": np.arange(1.0, 9.0)})
    current = pd.DataFrame({"x": [2.75, 3.0, 4.5, 7.0, 100.0, np.nan]})
    report = detect_drift(profile_frame(reference, ["x"], []), current, psi_bins=4)
    (x,) = report.features
    assert x.bins == DistributionBins(
        labels=("≤ 2.75", "(2.75, 4.5]", "(4.5, 6.25]", "> 6.25"),
        reference=(0.25, 0.25, 0.25, 0.25),
        current=(0.2, 0.4, 0.0, 0.4),
        edges=(2.75, 4.5, 6.25),
    )
    assert x.psi == psi_from_shares(x.bins.reference, x.bins.current)
    assert x.to_dict()["bins"] == {
        "labels": ["≤ 2.75", "(2.75, 4.5]", "(4.5, 6.25]", "> 6.25"],
        "reference": [0.25, 0.25, 0.25, 0.25],
        "current": [0.2, 0.4, 0.0, 0.4],
        "edges": [2.75, 4.5, 6.25],
    }


@pytest.mark.parametrize(
    ("values", "labels"),
    [
        # 3 significant digits in compact general format.
        (
            [1e4, 123_456.0, 340_000.0, 899_999.0, 2e6],
            ("≤ 1.23e+05", "(1.23e+05, 3.4e+05]", "(3.4e+05, 9e+05]", "> 9e+05"),
        ),
        # More digits only when 3 would print two different edges alike.
        (
            [1e5, 123_451.0, 123_459.0, 5e5, 6e5],
            ("≤ 1.2345e+05", "(1.2345e+05, 1.2346e+05]", "(1.2346e+05, 5e+05]", "> 5e+05"),
        ),
    ],
)
def test_numeric_labels_are_compact(values: list[float], labels: tuple[str, ...]) -> None:
    frame = pd.DataFrame({"x": values})
    report = detect_drift(profile_frame(frame, ["x"], []), frame, psi_bins=4)
    assert _bins(report, "x").labels == labels
    assert _bins(report, "x").edges == tuple(values[1:4])


def test_a_single_numeric_bin_is_labelled_all() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    report = detect_drift(profile_frame(frame, ["x"], []), frame, psi_bins=1)
    assert _bins(report, "x") == DistributionBins(
        labels=("all",), reference=(1.0,), current=(1.0,), edges=()
    )


def test_categorical_bins_show_the_top_reference_categories_then_other() -> None:
    # c00..c19 with counts 20..1 (210 rows): c00..c14 shown, c15..c19 (15 rows) folded into other,
    # with the current batch's unseen 'new'.
    names = [f"c{i:02d}" for i in range(20)]
    reference = pd.DataFrame({"c": pd.array(np.repeat(names, range(20, 0, -1)), "string")})
    current = pd.DataFrame({"c": pd.array(["c00"] * 4 + ["c16"] * 3 + ["new"] * 3, "string")})
    report = detect_drift(profile_frame(reference, [], ["c"]), current)
    bins = _bins(report, "c")
    assert MAX_CATEGORIES_SHOWN == 15
    assert bins.labels == (*names[:15], "other")
    assert bins.reference[:15] == tuple((20 - i) / 210 for i in range(15))
    assert bins.reference[15] == pytest.approx(15 / 210, rel=1e-12)
    assert bins.current == (0.4, *[0.0] * 14, 0.6)
    assert bins.edges == ()
    assert math.fsum(bins.reference) == pytest.approx(1.0, rel=1e-12)
    assert math.fsum(bins.current) == pytest.approx(1.0, rel=1e-12)


def test_categorical_bins_break_ties_by_name_and_drop_an_empty_other() -> None:
    reference = pd.DataFrame({"c": pd.array(["b", "b", "a", "a", "c", "c", "c", "c"], "string")})
    profile = profile_frame(reference, [], ["c"])
    same = detect_drift(profile, pd.DataFrame({"c": pd.array(["c", "a"], "string")}))
    assert _bins(same, "c") == DistributionBins(
        labels=("c", "a", "b"), reference=(0.5, 0.25, 0.25), current=(0.5, 0.5, 0.0)
    )
    unseen = detect_drift(profile, pd.DataFrame({"c": pd.array(["c", "z"], "string")}))
    assert _bins(unseen, "c") == DistributionBins(
        labels=("c", "a", "b", "other"),
        reference=(0.5, 0.25, 0.25, 0.0),
        current=(0.5, 0.0, 0.0, 0.5),
    )


def test_reports_stored_without_bins_still_load(reference_profile: DataProfile) -> None:
    report = detect_drift(reference_profile, _listings(1_000, seed=10))
    stored = report.to_dict()
    for feature in stored["features"]:
        del feature["bins"]
    restored = DriftReport.from_dict(json.loads(json.dumps(stored)))
    assert restored == dataclasses.replace(
        report, features=tuple(dataclasses.replace(f, bins=None) for f in report.features)
    )
    assert FeatureDrift.from_dict(report.features[0].to_dict()) == report.features[0]


def test_missing_feature_in_the_batch_is_refused(reference_profile: DataProfile) -> None:
    with pytest.raises(KeyError, match="state"):
        detect_drift(reference_profile, _listings(100, seed=9).drop(columns="state"))
