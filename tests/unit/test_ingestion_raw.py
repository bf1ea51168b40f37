"""raw_frame: received rows kept exactly, as text, nothing dropped."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tasador import schema
from tasador.ingestion.raw import EXTRA, RAW_COLUMNS, ROW_NUMBER, raw_frame

API_ROW: dict[str, Any] = {
    "brokered_by": 101640.0,
    "status": "for_sale",
    "price": 289900.0,
    "bed": 4.0,
    "bath": 2.0,
    "acre_lot": 0.38,
    "street": 1693508.0,
    "city": "East Windsor",
    "state": "Connecticut",
    "zip_code": 6016.0,
    "house_size": 1500.0,
    "prev_sold_date": "1999-09-30",
}


def test_columns_are_the_schema_then_lineage() -> None:
    frame = raw_frame([API_ROW])
    assert RAW_COLUMNS == schema.COLUMN_NAMES
    assert list(frame.columns) == [*schema.COLUMN_NAMES, ROW_NUMBER, EXTRA]
    assert frame[ROW_NUMBER].dtype == np.int64
    assert all(isinstance(frame[c].dtype, pd.StringDtype) for c in [*RAW_COLUMNS, EXTRA])


def test_api_row_keeps_the_text_of_each_value() -> None:
    row = raw_frame([API_ROW]).iloc[0]
    assert row["brokered_by"] == "101640.0"
    assert row["price"] == "289900.0"
    assert row["acre_lot"] == "0.38"
    assert row["zip_code"] == "6016.0"
    assert row["city"] == "East Windsor"
    assert row["prev_sold_date"] == "1999-09-30"
    assert row[ROW_NUMBER] == 0
    assert pd.isna(row[EXTRA])


def test_each_json_type_has_its_text_form() -> None:
    rows: list[Any] = [
        {"price": 3, "bed": True, "bath": False, "city": " 4 ", "street": None},
        {"price": [1, {"a": 2}], "bed": {"x": None}, "city": "São Paulo"},
    ]
    frame = raw_frame(rows)
    assert frame.loc[0, "price"] == "3"
    assert frame.loc[0, "bed"] == "true"
    assert frame.loc[0, "bath"] == "false"
    assert frame.loc[0, "city"] == " 4 "  # strings exactly as received, blanks included
    assert pd.isna(frame.loc[0, "street"])  # None
    assert pd.isna(frame.loc[0, "state"])  # key absent
    assert json.loads(frame.loc[1, "price"]) == [1, {"a": 2}]
    assert json.loads(frame.loc[1, "bed"]) == {"x": None}
    assert frame.loc[1, "city"] == "São Paulo"


def test_float_edge_values_are_written_as_repr() -> None:
    values = [-0.0, 0.0, 1e16, 9999999999999998.0, 1e-05, 1e-4, 0.1, -5.0, 1e300, 123456.789]
    values += [math.inf, -math.inf, math.nan]
    frame = raw_frame([{"price": v} for v in values])
    assert frame["price"].tolist() == [repr(v) for v in values]


def test_columns_mixing_ints_floats_and_strings() -> None:
    frame = raw_frame([{"bed": 3}, {"bed": 3.0}, {"bed": "3"}, {"bed": None}])
    assert frame["bed"].tolist()[:3] == ["3", "3.0", "3"]
    assert pd.isna(frame["bed"].iloc[3])


def test_non_dict_rows_keep_their_place_with_all_columns_missing() -> None:
    rows: list[Any] = [API_ROW, [1, 2], "oops", None, 7.5, API_ROW]
    frame = raw_frame(rows)
    assert frame[ROW_NUMBER].tolist() == [0, 1, 2, 3, 4, 5]
    odd = frame.iloc[1:5]
    assert odd[list(RAW_COLUMNS)].isna().all().all()
    assert [json.loads(t) for t in odd[EXTRA]] == [[1, 2], "oops", None, 7.5]
    assert frame.loc[5, "price"] == "289900.0"


def test_foreign_keys_go_to_extra() -> None:
    rows = [{**API_ROW, "listing_id": 12, "note": "x"}, {"foo": [1]}]
    frame = raw_frame(rows)
    assert json.loads(frame.loc[0, EXTRA]) == {"listing_id": 12, "note": "x"}
    assert frame.loc[0, "price"] == "289900.0"
    assert json.loads(frame.loc[1, EXTRA]) == {"foo": [1]}
    assert frame.loc[1, list(RAW_COLUMNS)].isna().all()


def test_text_that_utf8_cannot_hold_does_not_break_the_batch() -> None:
    frame = raw_frame([{"city": "bad \ud800 city"}, {"city": "ok", "\ud800": 1}])
    assert frame.loc[0, "city"] == "bad \\ud800 city"
    assert frame.loc[1, "city"] == "ok"
    assert not pd.isna(frame.loc[1, EXTRA])


def test_empty_batch_gives_an_empty_frame_with_all_columns() -> None:
    frame = raw_frame([])
    assert len(frame) == 0
    assert list(frame.columns) == [*schema.COLUMN_NAMES, ROW_NUMBER, EXTRA]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
        min_size=1,
        max_size=60,
    )
)
def test_any_float_column_is_its_repr(values: list[float | None]) -> None:
    frame = raw_frame([{"acre_lot": v} for v in values])
    expected = [None if v is None else repr(v) for v in values]
    got = [None if pd.isna(t) else t for t in frame["acre_lot"]]
    assert got == expected
