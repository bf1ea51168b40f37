"""The feature builder: encodings from training rows only, exact smoothing, order, NaN, one row."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from tasador import schema
from tasador.training.features import (
    FeatureSpec,
    assign_folds,
    build_features,
    build_training_matrix,
    feature_names_for,
    fit_features,
    unknown_categories,
)
from tasador.training.synthetic import make_listings


def listings(rows: list[dict]) -> pd.DataFrame:
    """A clean-typed frame from hand-written rows (unspecified columns are missing)."""
    frame = pd.DataFrame(rows)
    for column in schema.COLUMNS:
        if column.name not in frame:
            frame[column.name] = None
        frame[column.name] = frame[column.name].astype(column.dtype)
    return frame


def row(state: str, price: float, **kw: object) -> dict:
    base = {"state": state, "status": "for_sale", "price": price, "bed": 3.0, "bath": 2.0}
    return {**base, **kw}


def col(x: np.ndarray, spec: FeatureSpec, name: str) -> np.ndarray:
    return x[:, spec.feature_names.index(name)]


def test_smoothed_mean_is_exact_on_a_tiny_frame() -> None:
    # log prices: A = 10, 10; B = 13. Global mean 11; m = 1.
    train = listings(
        [
            row("Alabama", math.exp(10), city="X", zip_code="00001"),
            row("Alabama", math.exp(10), city="X", zip_code="00002"),
            row("Alaska", math.exp(13), city="X", zip_code="00002"),
        ]
    )
    spec = fit_features(train, smoothing=1.0)
    assert spec.global_mean == pytest.approx(11.0)
    state = spec.encodings["state"]
    assert state.categories == ("Alabama", "Alaska")
    assert state.means == pytest.approx(((20 + 11) / 3, (13 + 11) / 2))
    assert state.counts == (2, 1)
    # City is keyed by state: "X" in Alabama and "X" in Alaska are two cities.
    assert spec.encodings["city"].categories == ("Alabama|X", "Alaska|X")
    # ZIP 00002 holds logs 10 and 13: (23 + 11) / 3.
    assert spec.encodings["zip_code"].means[1] == pytest.approx(34 / 3)

    x = build_features(train, spec)
    assert col(x, spec, "state_te") == pytest.approx([31 / 3, 31 / 3, 12.0], rel=1e-6)
    assert list(col(x, spec, "state_n")) == [2, 2, 1]
    assert list(col(x, spec, "zip_code_n")) == [1, 2, 2]


def test_category_seen_only_outside_training_falls_back_and_is_reported() -> None:
    train = listings(
        [
            row("Alabama", 100_000, city="Mobile", zip_code="36601"),
            row("Texas", 300_000, city="Austin", zip_code="78701"),
        ]
    )
    spec = fit_features(train, smoothing=5.0)
    new = listings(
        [
            row("Ohio", 900_000, city="Austin", zip_code="78701"),  # state and its city unseen
            row("Texas", 900_000, city="Austin", zip_code=None),  # zip missing
            row("Texas", 900_000, city="Mobile", zip_code="36601"),  # Mobile, Texas is unseen
        ]
    )
    x = build_features(new, spec)
    fallback = np.float32(spec.global_mean)
    assert col(x, spec, "state_te")[0] == fallback
    assert col(x, spec, "state_n")[0] == 0
    assert col(x, spec, "city_te")[[0, 2]].tolist() == [fallback, fallback]
    assert col(x, spec, "zip_code_te")[1] == fallback
    assert col(x, spec, "zip_code_n").tolist() == [1, 0, 1]
    unknown = unknown_categories(new, spec)
    assert unknown["state"].tolist() == [True, False, False]
    assert unknown["city"].tolist() == [True, False, True]
    assert unknown["zip_code"].tolist() == [False, True, False]
    # The new rows' prices never reach the spec: refitting on training rows only gives the same.
    assert fit_features(train, smoothing=5.0) == spec


def test_encodings_do_not_depend_on_rows_outside_training() -> None:
    data = make_listings(600, seed=3)
    train, test = data[~data["is_holdout"]], data[data["is_holdout"]]
    spec = fit_features(train)
    changed = test.assign(price=test["price"] * 10)
    np.testing.assert_array_equal(build_features(test, spec), build_features(changed, spec))
    assert spec.global_mean == pytest.approx(np.log(train["price"]).mean())


def test_columns_in_spec_order_with_nan_for_missing() -> None:
    train = listings([row("Alabama", 100_000, house_size=1000.0, acre_lot=0.5)] * 3)
    spec = fit_features(train)
    assert spec.feature_names == feature_names_for({"status": schema.STATUSES})
    frame = listings(
        [
            {
                "state": "Alabama",
                "status": "sold",
                "bed": None,
                "bath": 3.0,
                "house_size": 1500.0,
                "acre_lot": 1.0,
                "prev_sold_date": None,
            },
            {
                "state": "Alabama",
                "status": "for_sale",
                "bed": 2.0,
                "bath": 1.0,
                "house_size": 0.0,  # impossible; becomes NaN, never -inf
                "acre_lot": None,
                "prev_sold_date": "2020-07-01",
            },
        ]
    )
    x = build_features(frame, spec)
    assert x.dtype == np.float32
    assert x.shape == (2, len(spec.feature_names))
    assert np.isfinite(x[~np.isnan(x)]).all()
    got = dict(zip(spec.feature_names, x[0].tolist(), strict=True))
    assert math.isnan(got["bed"])
    assert got["bath"] == 3.0
    assert math.isnan(got["bath_per_bed"])
    assert math.isnan(got["sqft_per_bed"])
    assert got["house_size_log"] == pytest.approx(math.log(1500), rel=1e-6)
    assert got["acre_lot_log1p"] == pytest.approx(math.log(2), rel=1e-6)
    assert got["lot_sqft_per_sqft_log1p"] == pytest.approx(math.log1p(43_560 / 1500), rel=1e-6)
    assert (got["status_for_sale"], got["status_sold"], got["status_ready_to_build"]) == (0, 1, 0)
    assert math.isnan(got["prev_sold_year"])
    assert math.isnan(got["prev_sold_days_before_ref"])
    second = dict(zip(spec.feature_names, x[1].tolist(), strict=True))
    assert math.isnan(second["house_size_log"])
    assert math.isnan(second["sqft_per_bed"])
    assert second["bath_per_bed"] == 0.5
    assert second["prev_sold_year"] == 2020
    assert math.isnan(second["acre_lot_log1p"])


def test_reference_date_is_latest_training_sale() -> None:
    train = listings(
        [
            row("Alabama", 100_000, prev_sold_date="2019-01-10"),
            row("Alabama", 100_000, prev_sold_date="2021-03-01"),
        ]
    )
    spec = fit_features(train)
    assert spec.reference_date == "2021-03-01"
    x = build_features(train, spec)
    assert col(x, spec, "prev_sold_days_before_ref").tolist() == [
        (np.datetime64("2021-03-01") - np.datetime64("2019-01-10")).astype(int),
        0,
    ]


def test_single_row_equals_its_row_of_a_batch_call() -> None:
    data = make_listings(300, seed=5)
    spec = fit_features(data.iloc[:200])
    batch = build_features(data, spec)
    for i in (0, 7, 150, 250, 299):
        single = build_features(data.iloc[[i]], spec)
        np.testing.assert_array_equal(single[0], batch[i])


def test_request_shaped_frame_gives_the_same_features() -> None:
    """Serving builds frames of plain Python values, dates as ISO strings, optional cols absent."""
    data = make_listings(200, seed=6)
    spec = fit_features(data)
    clean = data.iloc[:3].copy()
    clean["prev_sold_date"] = pd.Series(
        pd.to_datetime(["2010-05-06", None, "1999-12-31"]), index=clean.index
    ).astype("datetime64[s]")
    request = pd.DataFrame(
        {
            "bed": clean["bed"].tolist(),
            "bath": clean["bath"].tolist(),
            "acre_lot": clean["acre_lot"].tolist(),
            "house_size": clean["house_size"].tolist(),
            "state": clean["state"].astype(object).tolist(),
            "status": clean["status"].astype(object).tolist(),
            "city": clean["city"].to_numpy(dtype=object, na_value=None).tolist(),
            "zip_code": clean["zip_code"].to_numpy(dtype=object, na_value=None).tolist(),
            "prev_sold_date": ["2010-05-06", None, "1999-12-31"],
        }
    )
    np.testing.assert_array_equal(build_features(request, spec), build_features(clean, spec))
    minimal = request.drop(columns=["city", "zip_code", "prev_sold_date"])
    x = build_features(minimal, spec)
    assert np.isnan(col(x, spec, "prev_sold_year")).all()
    assert (col(x, spec, "zip_code_n") == 0).all()
    assert unknown_categories(minimal, spec)["city"].all()


def test_spec_round_trips_through_json() -> None:
    data = make_listings(300, seed=8)
    spec = fit_features(data, smoothing=7.5)
    again = FeatureSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    np.testing.assert_array_equal(build_features(data, again), build_features(data, spec))


def test_spec_from_another_builder_version_is_refused() -> None:
    spec = fit_features(make_listings(50, seed=1))
    with pytest.raises(ValueError, match="version"):
        FeatureSpec.from_dict({**spec.to_dict(), "version": spec.version + 1})


def test_training_matrix_encodes_out_of_fold() -> None:
    # Ten ZIP codes seen once each: in-sample their encoding would hold their own price.
    rows = [row("Alabama", 100_000 * (i + 1), zip_code=f"{i:05d}") for i in range(10)]
    train = listings(rows).assign(property_key=np.arange(10, dtype=np.int64))
    spec = fit_features(train, smoothing=1.0)
    in_sample = build_features(train, spec)
    oof = build_training_matrix(train, spec, seed=1)
    assert (col(in_sample, spec, "zip_code_n") == 1).all()
    assert (col(oof, spec, "zip_code_n") == 0).all()
    folds = assign_folds(train, 5, seed=1)
    log_price = np.log(train["price"].to_numpy())
    for i in range(10):
        others = log_price[folds != folds[i]]
        assert col(oof, spec, "zip_code_te")[i] == pytest.approx(others.mean(), rel=1e-6)
    # Non-encoded features are the serving ones.
    plain = [i for i, n in enumerate(spec.feature_names) if not n.endswith(("_te", "_n"))]
    np.testing.assert_array_equal(oof[:, plain], in_sample[:, plain])


def test_training_matrix_is_deterministic_and_groups_properties() -> None:
    data = make_listings(500, seed=9)
    data["property_key"] = data["property_key"] % 100  # many listings of the same homes
    spec = fit_features(data)
    np.testing.assert_array_equal(
        build_training_matrix(data, spec, seed=4), build_training_matrix(data, spec, seed=4)
    )
    folds = assign_folds(data, 5, seed=4)
    per_property = pd.Series(folds).groupby(data["property_key"].to_numpy()).nunique()
    assert (per_property == 1).all()
    assert set(folds) == {0, 1, 2, 3, 4}


def test_building_features_leaves_the_frame_untouched() -> None:
    data = make_listings(50, seed=2)
    data.loc[0, "house_size"] = -5.0
    before = data.copy()
    spec = fit_features(data.iloc[1:])
    build_features(data, spec)
    build_training_matrix(data.iloc[1:], spec, seed=0)
    pd.testing.assert_frame_equal(data, before)
