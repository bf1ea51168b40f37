"""RAW DATA: batches stored exactly once and atomically, rows round-trip exactly, inference log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa

from tasador import schema
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate
from tasador.storage.raw_store import (
    BatchConflict,
    StoredBatch,
    latest_raw_batch,
    load_inference_records,
    load_raw_frame,
    store_raw_batch,
    write_inference_records,
)

pytestmark = pytest.mark.integration

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
ODD = [
    'quote " inside',
    "tab\there",
    "new\nline",
    "carriage\r\nreturn",
    "back\\slash \\N",
    "comma, and ; semicolon",
    "",
    " ",
    "\\.",
    "ünïcödé ✓ 🏠",
    '""',
    "NULL",
]


def raw_frame_of(values: dict[str, list[str | None]], extra: list[str | None]) -> pd.DataFrame:
    """A RAW frame by hand: text columns (NA for missing), row_number, extra."""
    n = len(extra)
    columns = {
        name: pd.array(values.get(name, [None] * n), dtype="string") for name in schema.COLUMN_NAMES
    }
    frame = pd.DataFrame(columns)
    frame["row_number"] = np.arange(n, dtype=np.int64)
    frame["extra"] = pd.array(extra, dtype="string")
    return frame


def odd_frame() -> pd.DataFrame:
    n = len(ODD)
    values: dict[str, list[str | None]] = {name: [None] * n for name in schema.COLUMN_NAMES}
    values["city"] = list(ODD)
    values["status"] = list(reversed(ODD))
    values["price"] = ["101640.0", "abc", None, "1e400", "-0.0", "NaN", *["1"] * (n - 6)]
    values["zip_code"] = ["00501", None, *["01234"] * (n - 2)]
    extra = [None] * n
    extra[1] = json.dumps({"unknown": [1, 2.5, "x\ty"]})
    extra[3] = json.dumps(["not", "an", "object"])
    return raw_frame_of(values, extra)


@pytest.fixture
def engine(make_database: Callable[[str], str]) -> Iterator[sa.Engine]:
    url = make_database("raw")
    migrate(url, "raw")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def store(engine: sa.Engine, frame: pd.DataFrame, **overrides: object) -> StoredBatch:
    args: dict[str, object] = {
        "source": "api",
        "group_number": 3,
        "day": "Tuesday",
        "batch_number": 0,
        "content_hash": "h0",
        "received_at": NOW,
        "frame": frame,
    }
    args.update(overrides)
    return store_raw_batch(engine, **args)  # type: ignore[arg-type]


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_odd_strings_na_and_extra_round_trip(engine: sa.Engine) -> None:
    frame = odd_frame()
    stored = store(engine, frame)
    assert stored.created
    back = load_raw_frame(engine, stored.batch_id)
    assert list(back.columns) == [*schema.COLUMN_NAMES, "row_number", "extra"]
    assert back["row_number"].dtype == np.int64
    for name in schema.COLUMN_NAMES:
        assert back[name].tolist() == frame[name].tolist(), name  # NA stays NA, "" stays ""
    assert back["extra"].isna().tolist() == frame["extra"].isna().tolist()
    for got, sent in zip(back["extra"].dropna(), frame["extra"].dropna(), strict=True):
        assert json.loads(got) == json.loads(sent)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT row_count, received_at FROM raw_batches")).one()
    assert row == (len(frame), NOW)


def test_frame_built_by_raw_frame_round_trips(engine: sa.Engine) -> None:
    raw = pytest.importorskip("tasador.ingestion.raw")
    rows = [
        {"price": 101640.0, "city": "A\tb", "bed": 3, "zip_code": "00501", "status": "sold"},
        {"price": None, "state": "Ohio", "surprise": {"k": 1}},
        {"city": 'x"y\nz', "bath": 2.5},
    ]
    frame = raw.raw_frame(rows)
    stored = store(engine, frame)
    back = load_raw_frame(engine, stored.batch_id)
    for name in schema.COLUMN_NAMES:
        assert back[name].tolist() == frame[name].tolist(), name
    assert json.loads(back["extra"][1]) == {"surprise": {"k": 1}}


def test_same_batch_twice_writes_nothing(engine: sa.Engine) -> None:
    first = store(engine, odd_frame())
    again = store(engine, odd_frame())
    assert again == StoredBatch(batch_id=first.batch_id, created=False)
    assert count(engine, "raw_batches") == 1
    assert count(engine, "raw_listings") == len(ODD)


def test_same_batch_with_other_content_conflicts(engine: sa.Engine) -> None:
    store(engine, odd_frame())
    with pytest.raises(BatchConflict, match="already stored"):
        store(engine, odd_frame().head(3), content_hash="other")
    assert count(engine, "raw_listings") == len(ODD)


def test_batches_without_a_day_are_still_unique(engine: sa.Engine) -> None:
    first = store(engine, odd_frame(), day=None)
    assert store(engine, odd_frame(), day=None) == StoredBatch(first.batch_id, created=False)
    other = store(engine, odd_frame(), day=None, batch_number=1, content_hash="h1")
    assert other.created
    assert other.batch_id != first.batch_id
    assert latest_raw_batch(engine, "api", 3, None) == 1
    assert latest_raw_batch(engine, "api", 3, "Tuesday") is None


def test_latest_raw_batch_is_the_highest_number(engine: sa.Engine) -> None:
    for number in (0, 2, 1):
        store(engine, odd_frame().head(2), batch_number=number, content_hash=f"h{number}")
    store(engine, odd_frame().head(2), group_number=4, batch_number=9, content_hash="g4")
    assert latest_raw_batch(engine, "api", 3, "Tuesday") == 2
    assert latest_raw_batch(engine, "api", 4, "Tuesday") == 9
    assert latest_raw_batch(engine, "other", 3, "Tuesday") is None


def test_failed_copy_leaves_nothing_behind(engine: sa.Engine) -> None:
    frame = odd_frame()
    frame.loc[len(frame) - 1, "extra"] = "{not json"  # jsonb rejects it mid-COPY
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        store(engine, frame)
    assert count(engine, "raw_batches") == 0
    assert count(engine, "raw_listings") == 0
    stored = store(engine, odd_frame())  # the same batch stores fine afterwards
    assert stored.created


def test_duplicate_row_numbers_fail_atomically(engine: sa.Engine) -> None:
    frame = odd_frame()
    frame.loc[5, "row_number"] = 0
    with pytest.raises(psycopg.errors.UniqueViolation):
        store(engine, frame)
    assert count(engine, "raw_batches") == 0


def test_nul_characters_are_replaced_not_fatal(engine: sa.Engine) -> None:
    frame = raw_frame_of({"city": ["a\x00b"]}, [None])
    stored = store(engine, frame)
    assert load_raw_frame(engine, stored.batch_id)["city"].tolist() == ["a\ufffdb"]


def test_empty_batch_is_stored(engine: sa.Engine) -> None:
    stored = store(engine, raw_frame_of({}, []))
    back = load_raw_frame(engine, stored.batch_id)
    assert stored.created
    assert len(back) == 0
    assert list(back.columns) == [*schema.COLUMN_NAMES, "row_number", "extra"]


def test_inference_records_round_trip(engine: sa.Engine) -> None:
    ids = [uuid.uuid4(), uuid.uuid4()]
    records = [
        {
            "request_id": ids[0],
            "received_at": NOW,
            "endpoint": "/predict",
            "model_name": "tasador-price",
            "model_version": "3",
            "inputs": [{"bed": 3, "state": 'Ohio\t"x"\n'}],
            "outputs": {"price": [np.float64(250000.5)]},
            "latency_ms": 1.25,
            "status_code": 200,
        },
        {
            "request_id": str(ids[1]),
            "received_at": NOW + timedelta(seconds=1),
            "endpoint": "/explain",
            "inputs": {"bed": "bad"},
            "status_code": 422,
        },
    ]
    assert write_inference_records(engine, records) == 2
    assert write_inference_records(engine, []) == 0
    back = load_inference_records(engine)
    assert [r["request_id"] for r in back] == [ids[1], ids[0]]
    assert back[1]["inputs"] == [{"bed": 3, "state": 'Ohio\t"x"\n'}]
    assert back[1]["outputs"] == {"price": [250000.5]}
    assert back[1]["latency_ms"] == 1.25
    assert back[0]["model_version"] is None
    assert back[0]["outputs"] is None
    assert [r["request_id"] for r in load_inference_records(engine, since=NOW)] == [ids[1]]
    assert len(load_inference_records(engine, limit=1)) == 1
