"""The columnar fast path takes only what `ListingIn` takes, and gives the same columns."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from tasador import schema
from tasador.serving.api_models import ListingIn
from tasador.serving.columnar import ListingStruct, listing_columns, listing_columns_fast

MAX_BATCH = 50
MANY = TypeAdapter(list[ListingIn])
VALID: dict[str, Any] = {
    "bed": 3,
    "bath": 2.5,
    "acre_lot": 0.25,
    "house_size": 1600,
    "state": "Connecticut",
    "status": "for_sale",
    "city": "Hartford",
    "zip_code": "06106",
    "brokered_by": 1234,
    "prev_sold_date": "2015-06-01",
}


def pydantic_columns(raw: bytes) -> dict[str, np.ndarray] | None:
    try:
        listings = MANY.validate_json(raw)
    except ValidationError:
        return None
    if not 1 <= len(listings) <= MAX_BATCH:
        return None
    return dict(listing_columns(listings))


def assert_same_columns(fast: Any, slow: dict[str, np.ndarray]) -> None:
    assert set(fast) == set(slow)
    for name, expected in slow.items():
        got = fast[name]
        assert got.dtype == expected.dtype, name
        if expected.dtype.kind in "fM":
            np.testing.assert_array_equal(got, expected, err_msg=name)
        else:
            assert got.tolist() == expected.tolist(), name


def numbers(low: float, high: float) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.floats(low, high),
        st.integers(int(low), int(high)),
        st.floats(-1e6, 1e12),
        st.integers(-(2**70), 2**70),
        st.booleans(),
        st.none(),
        st.sampled_from(["3", " 2 ", "1e3", "abc"]),
    )


TEXTS = st.one_of(
    st.sampled_from(["Texas", "New York", " Texas", "Texas ", "\u00a0Ohio", "\x1cUtah", ""]),
    st.text(max_size=8),
    st.text(min_size=95, max_size=210),
    st.integers(),
    st.none(),
)
ZIPS = st.one_of(
    st.sampled_from(["06106", "6106", " 06106", "06106-1234", "\u0660\u0666\u0661\u0660\u0666"]),
    st.text(alphabet="0123456789- ", max_size=11),
    st.integers(-5, 200_000),
    st.floats(-5, 200_000),
    st.booleans(),
    st.none(),
)
DATES = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["2015-02-30", "2015-6-1", "2015-06-01T00:00:00", "1899-12-31", "20150601"]),
    st.text(alphabet="0123456789-T:", max_size=12),
    st.integers(0, 2_000_000_000),
    st.none(),
)
BROKERS = st.one_of(
    st.integers(-5, 2**64), st.floats(0, 1e6), st.booleans(), st.none(), st.just("12")
)


def bounded(column: str) -> st.SearchStrategy[Any]:
    col = schema.BY_NAME[column]
    assert col.minimum is not None
    assert col.maximum is not None
    return numbers(col.minimum, col.maximum)


FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "bed": bounded("bed"),
    "bath": bounded("bath"),
    "acre_lot": bounded("acre_lot"),
    "house_size": bounded("house_size"),
    "state": TEXTS,
    "status": st.sampled_from([*schema.STATUSES, "rented", " sold", "SOLD"]),
    "city": TEXTS,
    "zip_code": ZIPS,
    "brokered_by": BROKERS,
    "prev_sold_date": DATES,
    "price": st.integers(),  # not a field of a listing
}


@st.composite
def listings(draw: st.DrawFn, changes: int = 1) -> dict[str, Any]:
    """A valid listing with up to `changes` fields changed and maybe one left out."""
    body = dict(VALID)
    for name in draw(st.sets(st.sampled_from(sorted(FIELD_VALUES)), max_size=changes)):
        body[name] = draw(FIELD_VALUES[name])
    for name in draw(st.sets(st.sampled_from(sorted(VALID)), max_size=1)):
        del body[name]
    return body


BODIES = st.one_of(
    st.lists(listings(), min_size=1, max_size=3),
    st.lists(listings(changes=3), min_size=0, max_size=MAX_BATCH + 2),
)


@settings(max_examples=1_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES)
def test_fast_path_accepts_only_what_pydantic_accepts_with_the_same_values(
    body: list[dict[str, Any]],
) -> None:
    raw = json.dumps(body).encode()  # any integer, even beyond 64 bits
    fast = listing_columns_fast(raw, MAX_BATCH)
    event("fast path" if fast is not None else "pydantic")
    if fast is not None:
        slow = pydantic_columns(raw)
        assert slow is not None, "the fast path took a body pydantic refuses"
        assert_same_columns(fast, slow)


def test_typical_bodies_take_the_fast_path() -> None:
    body = [VALID, {**VALID, "city": None, "zip_code": 6106, "prev_sold_date": None}]
    body.append({k: VALID[k] for k in ("bed", "bath", "acre_lot", "house_size", "state", "status")})
    raw = orjson.dumps(body)
    fast = listing_columns_fast(raw, MAX_BATCH)
    assert fast is not None
    slow = pydantic_columns(raw)
    assert slow is not None
    assert_same_columns(fast, slow)
    assert fast["zip_code"].tolist() == ["06106", "06106", None]


@pytest.mark.parametrize(
    "change",
    [
        {"bed": "3"},  # valid only by pydantic's lax conversion
        {"state": " Texas"},  # valid after stripping
        {"city": "Austin\n"},
        {"zip_code": 6106.0},
        {"prev_sold_date": "2015-06-01T00:00:00"},
        {"bed": -1},  # invalid: pydantic must name the field
        {"bed": True},
        {"status": "rented"},
        {"zip_code": "\u0660\u0666\u0661\u0660\u0666"},  # digits, not ASCII ones
        {"prev_sold_date": "2015-02-30"},
        {"prev_sold_date": "1850-01-01"},
        {"brokered_by": -1},
        {"price": 1},
    ],
)
def test_anything_else_goes_to_pydantic(change: dict[str, Any]) -> None:
    raw = orjson.dumps([VALID, {**VALID, **change}])
    assert listing_columns_fast(raw, MAX_BATCH) is None


@pytest.mark.parametrize(
    "raw",
    [b"[]", b"{}", b"[1]", b"[[]]", b"not json", orjson.dumps([VALID] * (MAX_BATCH + 1))],
)
def test_bodies_that_are_not_a_list_of_listings_go_to_pydantic(raw: bytes) -> None:
    assert listing_columns_fast(raw, MAX_BATCH) is None


def test_the_fast_paths_struct_has_listing_ins_fields_and_required_ones() -> None:
    struct_fields = msgspec.structs.fields(ListingStruct)
    assert [f.name for f in struct_fields] == list(ListingIn.model_fields)
    assert {f.name for f in struct_fields if f.required} == {
        name for name, f in ListingIn.model_fields.items() if f.is_required()
    }


def test_the_fast_path_gives_states_their_known_spelling_as_pydantic_does() -> None:
    rows = [{**VALID, "state": s} for s in ("ct", "NEW YORK", "Atlantis", "Ohio")]
    raw = orjson.dumps(rows)
    fast = listing_columns_fast(raw, MAX_BATCH)
    assert fast is not None
    assert fast["state"].tolist() == ["Connecticut", "New York", "Atlantis", "Ohio"]
    assert_same_columns(fast, pydantic_columns(raw) or {})
