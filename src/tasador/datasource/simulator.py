"""A local emulator of the course data API, serving batches of a realtor-schema frame.

Contract (DATA_API.md): `GET /data?group_number=N&day=D` answers
`{"group_number": N, "day": D, "batch_number": k, "data": [{column: value}, ...]}` and moves the
(group, day) cursor one batch on; after the last batch it answers HTTP 400 with the course's Spanish
detail. `GET /restart_data_generation` moves the cursor back to 0; `GET /health` says it is alive.
Numbers are JSON floats as in the real API (so `zip_code` loses its leading zeros); text columns
are strings; missing values are null. `day` is optional (the 2026 API only takes `group_number`);
without it the answer has no `day` key.

Each batch is serialised once, on first request, with orjson, and served as raw bytes: a 360k-row
batch is ~100 MB of JSON and must not be rebuilt per request.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
import orjson
import pandas as pd
from fastapi import FastAPI, Query, Response

from tasador.datasource.dataset import load_dataset, split_batches
from tasador.datasource.generator import generate_listings
from tasador.schema import COLUMN_NAMES

logger = logging.getLogger(__name__)

FINISHED_DETAIL: Final[str] = "Ya se recolectó toda la información mínima necesaria"
_FLOAT_COLUMNS: Final[tuple[str, ...]] = (
    "brokered_by",
    "price",
    "bed",
    "bath",
    "acre_lot",
    "street",
    "zip_code",
    "house_size",
)


def _column_values(batch: pd.DataFrame, column: str) -> list[object]:
    """One column as JSON-ready Python values: floats for numbers, str for text, None if missing."""
    series = batch[column]
    if column in _FLOAT_COLUMNS:
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        numbers: list[object] = values.tolist()  # orjson writes NaN as null
        return numbers
    if not pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
        series = series.astype("str")
    texts: list[object] = cast(Any, series).to_numpy(dtype=object, na_value=None).tolist()
    return texts


def serialise_rows(batch: pd.DataFrame) -> bytes:
    """The `data` array of a batch as JSON bytes, one object per row in schema column order."""
    columns = [_column_values(batch, c) for c in COLUMN_NAMES]
    records = [dict(zip(COLUMN_NAMES, row, strict=True)) for row in zip(*columns, strict=True)]
    return orjson.dumps(records)


class _BatchServer:
    """Cursors per (group, day) and lazily serialised batches; safe across server threads."""

    def __init__(self, batches: list[pd.DataFrame]) -> None:
        self._batches = batches
        self._bodies: list[bytes | None] = [None] * len(batches)
        self._body_locks = [threading.Lock() for _ in batches]
        self._cursors: dict[tuple[int, str | None], int] = {}
        self._lock = threading.Lock()

    def advance(self, key: tuple[int, str | None]) -> int | None:
        """The batch to serve next for `key` (moving its cursor), or None when all are served."""
        with self._lock:
            position = self._cursors.get(key, 0)
            if position >= len(self._batches):
                return None
            self._cursors[key] = position + 1
            return position

    def restart(self, key: tuple[int, str | None]) -> None:
        with self._lock:
            self._cursors[key] = 0

    def body(self, number: int) -> bytes:
        cached = self._bodies[number]
        if cached is not None:
            return cached
        with self._body_locks[number]:
            if self._bodies[number] is None:
                self._bodies[number] = serialise_rows(self._batches[number])
                logger.info("serialised batch %d (%d rows)", number, len(self._batches[number]))
            body = self._bodies[number]
        assert body is not None
        return body


def create_simulator_app(batches: list[pd.DataFrame]) -> FastAPI:
    """A FastAPI app serving `batches` in order under the course data API contract."""
    server = _BatchServer(batches)
    app = FastAPI(title="tasador data API simulator", version="1")
    app.state.batch_sizes = [len(b) for b in batches]

    @app.get("/health")
    def health() -> dict[str, object]:
        return {"status": "ok", "batches": len(batches)}

    @app.get("/data")
    def data(group_number: int = Query(...), day: str | None = Query(None)) -> Response:
        number = server.advance((group_number, day))
        if number is None:
            return Response(
                orjson.dumps({"detail": FINISHED_DETAIL}),
                status_code=400,
                media_type="application/json",
            )
        head: dict[str, object] = {"group_number": group_number}
        if day is not None:
            head["day"] = day
        head["batch_number"] = number
        prefix = orjson.dumps(head)[:-1] + b',"data":'
        logger.info("group %s day %s: serving batch %d", group_number, day, number)
        return Response(prefix + server.body(number) + b"}", media_type="application/json")

    @app.get("/restart_data_generation")
    def restart(group_number: int = Query(...), day: str | None = Query(None)) -> dict[str, bool]:
        server.restart((group_number, day))
        logger.info("group %s day %s: restarted", group_number, day)
        return {"ok": True}

    return app


def build_simulator(dataset_path: Path | None, rows: int, seed: int) -> FastAPI:
    """The simulator app over a dataset file, or over `rows` synthetic rows of `seed` if none."""
    if dataset_path is not None:
        frame = load_dataset(dataset_path)
        source = str(dataset_path)
    else:
        frame = generate_listings(rows, seed)
        source = f"synthetic rows={rows} seed={seed}"
    batches = split_batches(frame)
    logger.info(
        "simulator over %s: %d rows, batches of %s rows",
        source,
        len(frame),
        ", ".join(str(len(b)) for b in batches),
    )
    return create_simulator_app(batches)
