"""Ingest of one 200k-row batch: tasador's raw path against pandas `to_sql` and a bare psycopg COPY.

All three write the same received rows into tables of the same shape (`raw_listings`: batch id, row
number, the 12 listing columns as text, `extra` as jsonb, primary key on (batch_id, row_number)).
tasador's time is the pipeline's whole ingest step, `pipeline.store_rows`: received rows to raw
frames chunk by chunk, each chunk sent by COPY while the next is built, batch row and rows in one
transaction, and the batch's whole raw frame returned for cleaning. Each implementation gets a
fresh, empty table; best of 3 runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import psycopg

from tasador import schema
from tasador.datasource.client import Batch
from tasador.ingestion.raw import raw_frame
from tasador.pipeline import LoopConfig, Stores, store_rows
from tasador.storage.engine import ensure_database, libpq_dsn, make_engine
from tasador.storage.migrate import migrate

REPEATS: Final[int] = 3
PEER_TABLE: Final[str] = "peer_listings"
CITIES: Final[tuple[str, ...]] = (
    "Springfield", "San Juan", "New York", "Coeur d'Alene", 'The "Heights"', "Winston-Salem",
)  # fmt: skip


def make_rows(rows: int, seed: int = 0) -> list[dict[str, Any]]:
    """API-like rows: floats for numbers (some None), strings for text, dates as text."""
    rng = np.random.default_rng(seed)

    def floats(values: np.ndarray, missing: float) -> list[float | None]:
        out: list[float | None] = values.astype(float).tolist()
        for i in np.flatnonzero(rng.random(rows) < missing).tolist():
            out[i] = None
        return out

    columns: dict[str, list[Any]] = {
        "brokered_by": floats(rng.integers(1, 110_000, rows), 0.01),
        "status": rng.choice(list(schema.STATUSES), rows).tolist(),
        "price": floats(np.round(np.exp(rng.normal(12.5, 0.8, rows)), -2), 0.001),
        "bed": floats(rng.integers(1, 7, rows), 0.1),
        "bath": floats(rng.integers(1, 5, rows), 0.1),
        "acre_lot": floats(np.round(np.exp(rng.normal(-1.5, 1.0, rows)), 2), 0.15),
        "street": floats(rng.integers(1, 2_000_000, rows), 0.005),
        "city": rng.choice(list(CITIES), rows).tolist(),
        "state": rng.choice(list(schema.STATES), rows).tolist(),
        "zip_code": [f"{z:05d}" for z in rng.integers(500, 99_999, rows).tolist()],
        "house_size": floats(np.round(np.exp(rng.normal(7.5, 0.4, rows))), 0.2),
        "prev_sold_date": [
            str(d) for d in (np.datetime64("1990-01-01") + rng.integers(0, 12_000, rows))
        ],
    }
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _best(run_once: Callable[[], None], reset: Callable[[], None]) -> float:
    times = []
    for _ in range(REPEATS):
        reset()
        start = time.perf_counter()
        run_once()
        times.append(time.perf_counter() - start)
    return min(times)


def run(rows: int = 200_000, *, url: str) -> list[dict[str, Any]]:
    """Time the three ingest paths on `rows` generated rows; one result dict per implementation."""
    ensure_database(url)
    migrate(url, "raw")
    engine = make_engine(url)
    dsn = libpq_dsn(url)
    data = make_rows(rows)
    columns = ["batch_id", "row_number", *schema.COLUMN_NAMES, "extra"]

    def execute(statement: str) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(statement)

    execute(f"DROP TABLE IF EXISTS {PEER_TABLE}")
    execute(f"CREATE TABLE {PEER_TABLE} (LIKE raw_listings INCLUDING ALL)")
    # `to_sql` binds text, which PostgreSQL will not put into jsonb; `extra` is all NULL here.
    execute(f"ALTER TABLE {PEER_TABLE} ALTER COLUMN extra TYPE text")

    def reset_ours() -> None:
        execute("TRUNCATE raw_listings, raw_batches RESTART IDENTITY")

    def reset_peer() -> None:
        execute(f"TRUNCATE {PEER_TABLE}")

    config = LoopConfig(
        source="bench", group_number=1, day="Tuesday", model_name="-", experiment="-"
    )
    stores = Stores(raw=engine, clean=engine, mlflow=None)  # type: ignore[arg-type]

    def ours() -> None:
        batch = Batch(1, "Tuesday", 0, data, "bench", datetime.now(UTC))
        frame, stored = store_rows(stores, config, batch)  # exactly the pipeline's ingest step
        assert stored.created
        assert len(frame) == len(data)

    frame = raw_frame(data)
    frame.insert(0, "batch_id", 1)
    frame = frame[columns]

    def to_sql() -> None:
        frame.to_sql(PEER_TABLE, engine, if_exists="append", index=False)

    def bare_copy() -> None:
        statement = f"COPY {PEER_TABLE} ({', '.join(columns)}) FROM STDIN"
        with psycopg.connect(dsn) as conn, conn.cursor() as cursor:  # noqa: SIM117
            with cursor.copy(statement) as copy:
                for number, row in enumerate(data):
                    copy.write_row(
                        (1, number, *[row.get(name) for name in schema.COLUMN_NAMES], None)
                    )

    results = []
    for impl, run_once, reset in (
        ("tasador", ours, reset_ours),
        ("pandas to_sql", to_sql, reset_peer),
        ("bare psycopg COPY", bare_copy, reset_peer),
    ):
        seconds = _best(run_once, reset)
        results.append(
            {
                "benchmark": f"ingest {rows // 1000}k rows" if rows >= 1000 else f"ingest {rows}",
                "impl": impl,
                "seconds": seconds,
                "rows_per_s": rows / seconds,
            }
        )
    engine.dispose()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {PEER_TABLE}")
        count = conn.execute("SELECT count(*) FROM raw_listings").fetchone()
    assert count == (rows,), count  # the last tasador run stored every row
    return results
