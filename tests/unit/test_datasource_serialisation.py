"""Serialising batches the way the course API writes them."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd

from tasador.datasource.simulator import serialise_rows
from tasador.schema import COLUMN_NAMES


def test_rows_are_floats_strings_and_nulls_in_schema_order() -> None:
    frame = pd.DataFrame(
        {
            "brokered_by": [101640.0, np.nan],
            "status": ["for_sale", "sold"],
            "price": [289900.0, 1.0],
            "bed": [4.0, np.nan],
            "bath": [2.0, 1.0],
            "acre_lot": [0.38, 0.0],
            "street": [5.0, 6.0],
            "city": ["East Windsor", None],
            "state": ["Connecticut", "Ohio"],
            "zip_code": ["06016", None],
            "house_size": [6016.0, 900.0],
            "prev_sold_date": ["1999-09-30", None],
        },
        columns=list(COLUMN_NAMES),
    ).astype(
        {"status": "str", "city": "str", "state": "str", "zip_code": "str", "prev_sold_date": "str"}
    )
    body = serialise_rows(frame)
    assert body.startswith(b'[{"brokered_by":101640.0,"status":"for_sale","price":289900.0,')
    assert b'"zip_code":6016.0' in body
    rows = orjson.loads(body)
    assert rows == [
        {
            "brokered_by": 101640.0,
            "status": "for_sale",
            "price": 289900.0,
            "bed": 4.0,
            "bath": 2.0,
            "acre_lot": 0.38,
            "street": 5.0,
            "city": "East Windsor",
            "state": "Connecticut",
            "zip_code": 6016.0,
            "house_size": 6016.0,
            "prev_sold_date": "1999-09-30",
        },
        {
            "brokered_by": None,
            "status": "sold",
            "price": 1.0,
            "bed": None,
            "bath": 1.0,
            "acre_lot": 0.0,
            "street": 6.0,
            "city": None,
            "state": "Ohio",
            "zip_code": None,
            "house_size": 900.0,
            "prev_sold_date": None,
        },
    ]
    assert [list(r) for r in rows] == [list(COLUMN_NAMES)] * 2


def test_empty_batch() -> None:
    assert serialise_rows(pd.DataFrame(columns=list(COLUMN_NAMES))) == b"[]"
