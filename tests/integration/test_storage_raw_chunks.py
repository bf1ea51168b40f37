"""Storing a raw batch chunk by chunk: same rows as one frame, and all or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from tasador.ingestion.raw import raw_frame, raw_frames
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate
from tasador.storage.raw_store import load_raw_frame, store_raw_batch

pytestmark = pytest.mark.integration

ROWS = [
    {"price": float(i), "state": f"S{i}", "odd": i} if i % 7 else "not a dict" for i in range(50)
]


def store(engine: sa.Engine, frames: object, row_count: int | None, number: int = 0):
    return store_raw_batch(
        engine,
        source="t",
        group_number=1,
        day=None,
        batch_number=number,
        content_hash="h",
        received_at=datetime.now(UTC),
        frame=frames,
        row_count=row_count,  # type: ignore[arg-type]
    )


def test_chunks_store_the_same_rows_as_one_frame(make_database) -> None:
    engine = make_engine(make_database("raw"))
    migrate(engine.url.render_as_string(hide_password=False), "raw")
    chunks = list(raw_frames(ROWS, chunk_rows=8))
    assert [len(c) for c in chunks] == [8, 8, 8, 8, 8, 8, 2]
    whole = raw_frame(ROWS)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
    stored = store(engine, iter(chunks), len(ROWS))
    loaded = load_raw_frame(engine, stored.batch_id)
    assert loaded["row_number"].tolist() == list(range(len(ROWS)))
    assert loaded["price"].tolist() == whole["price"].tolist()
    assert loaded["extra"].notna().sum() == whole["extra"].notna().sum()


def test_a_short_or_failing_chunk_stream_stores_nothing(make_database) -> None:
    engine = make_engine(make_database("raw"))
    migrate(engine.url.render_as_string(hide_password=False), "raw")
    with pytest.raises(ValueError, match="rows sent"):
        store(engine, raw_frames(ROWS[:10], chunk_rows=4), row_count=11)

    def failing() -> Iterator[pd.DataFrame]:
        yield raw_frame(ROWS[:5])
        raise RuntimeError("the client died mid-batch")

    with pytest.raises(RuntimeError, match="mid-batch"):
        store(engine, failing(), row_count=10)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM raw_batches")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM raw_listings")).scalar() == 0
