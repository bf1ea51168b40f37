"""One declaration of the listing's inputs feeds every consumer; a served request's features are the
training features of the same rows."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from pydantic import ValidationError
from starlette.requests import Request

from fixtures.serving import LISTING
from tasador import schema
from tasador.datasource.generator import generate_listings
from tasador.ingestion.cleaning import clean_listings
from tasador.registry.pyfunc import input_example, model_signature
from tasador.serving.api_models import listing_model
from tasador.serving.body_reader import BodyReader
from tasador.serving.columnar import FastReader, listing_columns
from tasador.serving.explain import input_weights
from tasador.serving.responses import fallback_fields
from tasador.training.features import build_features, fit_features
from tasador.training.synthetic import make_listings

GARAGES = schema.ListingInput(
    schema.Column("garages", schema.Role.NUMERIC, "float64", minimum=1, maximum=8),
    schema.Kind.NUMBER,
    transform=schema.Transform.LOG1P,
)
HEATING = schema.ListingInput(
    schema.Column("heating", schema.Role.CATEGORICAL, "string"),
    schema.Kind.CHOICE,
    required=True,
    choices=("gas", "heat_pump"),
)
COUNTY = schema.ListingInput(
    schema.Column("county", schema.Role.CATEGORICAL, "string"),
    schema.Kind.TEXT,
    max_length=60,
    keyed_within="state",
)
INPUTS = (*schema.LISTING_INPUTS, GARAGES, HEATING, COUNTY)
MODEL_INPUTS = tuple(f for f in INPUTS if f.is_feature)


def extended_listings(n: int, seed: int) -> pd.DataFrame:
    frame = make_listings(n, seed=seed)
    rng = np.random.default_rng(seed)
    frame["garages"] = np.where(rng.random(n) < 0.2, np.nan, rng.integers(1, 4, n))
    frame["heating"] = rng.choice(["gas", "heat_pump"], n)
    frame["county"] = rng.choice(["North", "South", "East"], n)
    return frame


def test_a_new_field_reaches_the_request_model() -> None:
    model = listing_model(INPUTS)
    listing = model.model_validate({**LISTING, "heating": "gas", "county": " North "})
    assert (listing.garages, listing.heating, listing.county) == (None, "gas", "North")  # type: ignore[attr-defined]
    with pytest.raises(ValidationError) as refused:
        model.model_validate({**LISTING, "garages": 9, "heating": "coal"})
    assert {e["loc"][0] for e in refused.value.errors()} == {"garages", "heating"}
    with pytest.raises(ValidationError, match="heating"):
        model.model_validate(LISTING)  # now required
    props = model.model_json_schema()["properties"]
    assert props["heating"]["enum"] == ["gas", "heat_pump"]
    assert props["county"]["anyOf"][0]["maxLength"] == 60


def test_a_new_field_reaches_both_readers_with_the_same_columns() -> None:
    model = listing_model(INPUTS)
    rows = [
        {**LISTING, "heating": "gas", "county": "North", "garages": 2},
        {**LISTING, "heating": "heat_pump"},
    ]
    fast = FastReader(INPUTS, model).read(orjson.dumps(rows), max_batch=10)
    assert fast is not None
    slow = listing_columns([model.model_validate(r) for r in rows], MODEL_INPUTS)
    assert set(fast) == set(slow) == {f.name for f in MODEL_INPUTS}
    np.testing.assert_array_equal(fast["garages"], [2.0, np.nan])
    np.testing.assert_array_equal(slow["garages"], [2.0, np.nan])
    assert fast["heating"].tolist() == slow["heating"].tolist() == ["gas", "heat_pump"]
    assert fast["county"].tolist() == slow["county"].tolist() == ["North", None]
    # and the fast path refuses what the derived model refuses (pydantic then answers)
    assert FastReader(INPUTS, model).read(orjson.dumps([{**rows[0], "garages": 9}]), 10) is None


def test_a_new_field_reaches_the_pyfunc_signature_and_example() -> None:
    specs = {c.name: c for c in model_signature(MODEL_INPUTS).inputs.inputs}
    assert specs["garages"].type.name == "double"
    assert not specs["garages"].required
    assert specs["heating"].type.name == "string"
    assert specs["heating"].required
    assert not specs["county"].required
    example = input_example(extended_listings(50, seed=1), inputs=MODEL_INPUTS)
    assert list(example.columns) == [f.name for f in MODEL_INPUTS]


def test_a_new_field_reaches_the_features_and_the_explanation() -> None:
    frame = extended_listings(400, seed=2)
    spec = fit_features(frame, inputs=MODEL_INPUTS)
    new = ("garages_log1p", "heating_gas", "heating_heat_pump", "county_te", "county_n")
    assert set(new) <= set(spec.feature_names)
    assert set(spec.encodings) == {"state", "city", "zip_code", "county"}
    x = build_features(frame, spec, MODEL_INPUTS)
    column = {name: x[:, spec.feature_names.index(name)] for name in new}
    np.testing.assert_allclose(
        column["garages_log1p"], np.log1p(frame["garages"]).astype(np.float32)
    )
    np.testing.assert_array_equal(column["heating_gas"], frame["heating"] == "gas")
    assert (column["county_n"] > 0).all()  # every (state, county) key was seen in training
    names, weights = input_weights(spec.feature_names, MODEL_INPUTS)
    assert {"garages", "heating", "county"} <= set(names)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    county = weights[:, names.index("county")]
    assert county.nonzero()[0].tolist() == [
        spec.feature_names.index("county_te"),
        spec.feature_names.index("county_n"),
    ]
    unseen = build_features(frame.head(1).assign(county="Atlantis"), spec, MODEL_INPUTS)
    assert "county" in fallback_fields(unseen, spec, MODEL_INPUTS)[0]


def _request(body: bytes) -> Request:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-type", b"application/json")]
    return Request(
        {"type": "http", "method": "POST", "path": "/predict", "headers": headers}, receive
    )


def _bodies(clean: pd.DataFrame) -> list[dict[str, Any]]:
    """The clean rows as a client would send them: JSON values, missing fields left out."""
    listings = []
    for row in clean.to_dict("records"):
        listing: dict[str, Any] = {}
        for f in schema.LISTING_INPUTS:
            value = row.get(f.name)
            if value is None or value is pd.NA or value is pd.NaT or value != value:
                continue
            listing[f.name] = value.date().isoformat() if f.kind is schema.Kind.DATE else value
        listings.append(listing)
    return listings


def test_a_served_requests_features_are_the_training_features_of_its_rows() -> None:
    clean = clean_listings(generate_listings(3_000, seed=11)).clean
    spec = fit_features(clean)
    required = [f.name for f in schema.LISTING_INPUTS if f.required]
    rows = clean.dropna(subset=required).reset_index(drop=True).head(400)
    rows.loc[::7, "city"] = pd.NA  # absent, and unseen, optional fields too
    rows.loc[::11, "zip_code"] = pd.NA
    rows.loc[::13, "city"] = "Nowhere"
    assert rows[["city", "zip_code", "prev_sold_date"]].isna().any().all()
    expected = build_features(rows, spec)
    reader = BodyReader(max_batch=1_000)
    bodies = _bodies(rows)
    listed, single, _ = asyncio.run(reader.listings(_request(orjson.dumps(bodies))))
    assert not single
    np.testing.assert_array_equal(build_features(listed, spec), expected)
    for i in (0, 1, 2, 3):  # one listing at a time, through pydantic
        one, single, _ = asyncio.run(reader.listings(_request(orjson.dumps(bodies[i]))))
        assert single
        np.testing.assert_array_equal(build_features(one, spec), expected[i : i + 1])


def test_a_model_trained_before_a_field_was_declared_is_served_with_its_own_features() -> None:
    frame = extended_listings(300, seed=3)
    older = fit_features(frame)  # the declaration without the new fields
    x = build_features(frame, older, MODEL_INPUTS)
    np.testing.assert_array_equal(x, build_features(frame, older))
    names, _ = input_weights(older.feature_names, MODEL_INPUTS)
    assert not {"garages", "heating", "county"} & set(names)
