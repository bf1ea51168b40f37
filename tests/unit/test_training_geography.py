"""ZIP geography (coordinates, county, prefix, neighbourhood price) and masked copies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasador.training.features import (
    LOOKUP_ROWS,
    build_features,
    build_training_matrix,
    fit_features,
)
from tasador.training.geography import fit_neighbourhood, locate, zip_numbers
from tasador.training.importance import inputs_of
from tasador.training.masking import MASKED, with_masked_copies
from tasador.training.synthetic import make_listings


def test_a_zip_code_is_located_offline() -> None:
    found = locate(np.array(["02134", "00601", "99999", None, "2134", "abcde"], dtype=object))
    assert found.lat[0] == pytest.approx(42.35, abs=0.05)
    assert found.lon[0] == pytest.approx(-71.13, abs=0.05)
    assert found.county[0] == "MA|Suffolk County"
    assert found.prefix[0] == "021"
    assert found.prefix[1] == "006"
    assert np.isfinite(found.lat[1])  # Puerto Rico
    assert np.isnan(found.lat[2:]).all()  # no such code, missing, short, not a number
    assert found.county[2] is None
    assert found.prefix[2] == "999"  # a well-formed code still has a prefix
    assert list(found.prefix[3:]) == [None, None, None]
    assert list(zip_numbers(np.array(["02134", None, "x"], dtype=object))) == [2134, -1, -1]


def test_the_neighbourhood_is_the_smoothed_price_of_the_nearest_listings() -> None:
    boston = locate(np.array(["02134", "02116"], dtype=object))
    wichita = locate(np.array(["67202", "67203"], dtype=object))
    lat = np.concatenate([np.repeat(boston.lat, 20), np.repeat(wichita.lat, 20)])
    lon = np.concatenate([np.repeat(boston.lon, 20), np.repeat(wichita.lon, 20)])
    zips = np.concatenate([np.repeat([2134, 2116], 20), np.repeat([67202, 67203], 20)])
    log_ppsf = np.concatenate([np.full(40, np.log(800.0)), np.full(40, np.log(100.0))])
    hood = fit_neighbourhood(lat, lon, zips, log_ppsf)
    assert hood.counts == (20, 20, 20, 20)
    assert hood.fallback == pytest.approx(np.mean(log_ppsf))
    # ZIP codes never seen in training, priced from what is near them
    unseen = locate(np.array(["02135", "67204", None], dtype=object))
    value, reach = hood.estimate(unseen.lat, unseen.lon)
    assert hood.listings == 30
    n, m = 40, hood.smoothing  # the two nearest ZIPs (20 listings each) gather the 30 asked for
    assert value[0] == pytest.approx((40 * np.log(800.0) + m * hood.fallback) / (n + m))
    assert value[1] == pytest.approx((40 * np.log(100.0) + m * hood.fallback) / (n + m))
    assert 0 < reach[0] < 15  # km to the farthest ZIP read: the other side of Boston
    assert 0 < reach[1] < 15
    assert value[2] == hood.fallback  # no coordinates: the national level
    assert np.isnan(reach[2])


def test_an_unseen_zip_code_gets_its_county_and_neighbourhood() -> None:
    frame = make_listings(2_000, seed=3)
    spec = fit_features(frame)
    assert spec.geography is not None
    assert spec.geography.source.startswith("zipcodes ")
    names = list(spec.feature_names)
    known = frame.iloc[:1].copy()
    x_known = build_features(known, spec)[0]
    moved = known.copy()
    moved["zip_code"] = "99999"  # well-formed, but no such ZIP code
    x_moved = build_features(moved, spec)[0]
    assert x_known[names.index("zip_code_n")] > 0
    assert x_moved[names.index("zip_code_n")] == 0
    assert np.isnan(x_moved[names.index("zip_code_lat")])
    assert x_moved[names.index("zip_code_nbhd_log_ppsf")] == spec.geography.neighbourhood.fallback
    assert x_known[names.index("zip_code_county_n")] > 0
    assert np.isfinite(x_known[names.index("zip_code_nbhd_km")])
    log_size = np.log(float(known["house_size"].iloc[0]))
    assert x_known[names.index("zip_code_nbhd_log_price")] == pytest.approx(
        x_known[names.index("zip_code_nbhd_log_ppsf")] + log_size, rel=1e-6
    )


def test_geography_is_attributed_to_the_zip_code_and_round_trips() -> None:
    assert inputs_of("zip_code_lat") == ("zip_code",)
    assert inputs_of("zip_code_county_te") == ("zip_code",)
    assert inputs_of("zip_code_nbhd_log_price") == ("zip_code", "house_size")
    frame = make_listings(500, seed=4)
    spec = fit_features(frame)
    again = type(spec).from_dict(spec.to_dict())
    np.testing.assert_array_equal(build_features(frame, again), build_features(frame, spec))
    without = fit_features(frame, geography=False)
    assert without.geography is None
    assert not any(name.startswith("zip_code_") and name != "zip_code_te"
                   and name != "zip_code_n" for name in without.feature_names)  # fmt: skip
    assert build_features(frame, without).shape == (len(frame), len(without.feature_names))


def test_training_geography_is_out_of_fold() -> None:
    frame = make_listings(400, seed=6)
    frame["zip_code"] = "02134"
    frame.loc[0, "zip_code"] = "67202"  # the only listing of its county and neighbourhood
    spec = fit_features(frame)
    names = list(spec.feature_names)
    x = build_training_matrix(frame, spec, seed=1)
    assert x[0, names.index("zip_code_county_n")] == 0  # its own price is not in its features
    assert build_features(frame.iloc[:1], spec)[0, names.index("zip_code_county_n")] == 1


def test_masked_copies_blank_only_optional_fields() -> None:
    frame = make_listings(3_000, seed=8)
    frame["property_key"] = np.arange(len(frame))
    out = with_masked_copies(frame, seed=1)
    pd.testing.assert_frame_equal(out.iloc[: len(frame)], frame)
    copies = out.iloc[len(frame) :]
    assert 0 < len(copies) < len(frame)
    blank = copies[list(MASKED)].isna()
    assert blank.any(axis=1).all()  # a copy left whole would only repeat its row
    untouched = [c for c in frame.columns if c not in MASKED]  # the property's key among them
    originals = frame.set_index("property_key", drop=False).loc[copies["property_key"], untouched]
    pd.testing.assert_frame_equal(
        copies[untouched].reset_index(drop=True), originals.reset_index(drop=True)
    )
    for name, rate in MASKED.items():
        share = blank[name].sum() / len(frame)
        assert 0.5 * rate < share < 1.5 * rate, name


def test_the_neighbourhood_table_gives_what_a_query_gives() -> None:
    frame = make_listings(6_000, seed=9)  # more rows than LOOKUP_ROWS: queried directly
    assert len(frame) > LOOKUP_ROWS
    spec = fit_features(frame)
    assert spec.geography is not None
    hood = spec.geography.neighbourhood
    zips = np.array(["02134", "10026", "99999", None, "67202"], dtype=object)
    located = locate(zips)
    direct = hood.estimate(located.lat, located.lon)
    looked_up = hood.estimate_zips(zip_numbers(zips))
    np.testing.assert_array_equal(looked_up[0], direct[0])
    np.testing.assert_array_equal(looked_up[1], direct[1])
    # and so a request's features equal the same rows' features in a large (training) call
    many = build_features(frame, spec)
    for i in (0, 17, len(frame) - 1):
        np.testing.assert_array_equal(build_features(frame.iloc[[i]], spec)[0], many[i])
