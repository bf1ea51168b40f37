"""RAW DATA: store received batches exactly once, read them back, and log inference requests."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, INTERVAL, insert

from tasador import schema
from tasador.storage import compressed_json
from tasador.storage.bulk import (
    arrow_to_pandas,
    constant_array,
    copy_in_stream,
    copy_out,
    csv_bytes,
    driver_cursor,
)
from tasador.storage.bulk import text_array as _text_array
from tasador.storage.records import BatchConflict, RawBatchRecord, StoredBatch
from tasador.storage.tables import inference_requests, max_batch_number, raw_batches

__all__ = [
    "INFERENCE_COLUMNS",
    "BatchConflict",
    "InferenceSummary",
    "StoredBatch",
    "iter_priced_inputs",
    "latest_raw_batch",
    "load_inference_records",
    "load_raw_frame",
    "store_raw_batch",
    "summarize_inference",
    "write_inference_records",
]

logger = logging.getLogger(__name__)

ROW_NUMBER: Final[str] = "row_number"
EXTRA: Final[str] = "extra"
_LISTING_COPY_COLUMNS: Final[tuple[str, ...]] = (
    "batch_id", ROW_NUMBER, *schema.COLUMN_NAMES, EXTRA,
)  # fmt: skip
INFERENCE_COLUMNS: Final[tuple[str, ...]] = tuple(c.name for c in inference_requests.columns)
_INFERENCE_STAGING: Final[str] = "tasador_inference_staging"


def _same_batch(source: str, group_number: int, day: str | None, batch_number: int) -> Any:
    c = raw_batches.c
    return sa.and_(
        c.source == source,
        c.group_number == group_number,
        c.day.is_not_distinct_from(day),
        c.batch_number == batch_number,
    )


def _raw_table(batch_id: int, frame: pd.DataFrame) -> pa.Table:
    """The frame's columns in COPY order, as Arrow arrays."""
    missing = [c for c in (*schema.COLUMN_NAMES, ROW_NUMBER) if c not in frame.columns]
    if missing:
        raise ValueError(f"raw frame lacks columns {missing}")
    n = len(frame)
    arrays: list[Any] = [
        constant_array(batch_id, n),
        pa.array(frame[ROW_NUMBER].to_numpy(dtype="int64")),
    ]
    arrays += [_text_array(frame[name]) for name in schema.COLUMN_NAMES]
    extra = frame[EXTRA] if EXTRA in frame.columns else pd.Series(pd.NA, index=frame.index)
    arrays.append(_text_array(extra))
    return pa.table(arrays, names=list(_LISTING_COPY_COLUMNS))


def store_raw_batch(
    engine: sa.Engine,
    *,
    source: str,
    group_number: int,
    day: str | None,
    batch_number: int,
    content_hash: str,
    received_at: datetime,
    frame: pd.DataFrame | Iterable[pd.DataFrame],
    row_count: int | None = None,
) -> StoredBatch:
    """Store one received batch and all its rows in one transaction, exactly once.

    `frame` is the raw frame, or its consecutive chunks (then `row_count` says how many rows they
    hold): chunks are sent while the next one is being built. If the same (source, group, day,
    batch number) is already stored with the same content hash, nothing is written (the chunks are
    not consumed) and `created` is False; with a different hash, `BatchConflict` is raised.
    """
    if isinstance(frame, pd.DataFrame):
        frames: Iterable[pd.DataFrame] = (frame,)
        row_count = len(frame)
    elif row_count is None:
        raise ValueError("store_raw_batch needs row_count when given chunks")
    else:
        frames = frame
    with engine.begin() as conn:
        inserted = conn.execute(
            insert(raw_batches)
            .values(
                source=source,
                group_number=group_number,
                day=day,
                batch_number=batch_number,
                content_hash=content_hash,
                row_count=row_count,
                received_at=received_at,
            )
            .on_conflict_do_nothing(constraint="uq_raw_batches")
            .returning(raw_batches.c.id)
        ).first()
        if inserted is None:
            existing = conn.execute(
                sa.select(raw_batches.c.id, raw_batches.c.content_hash).where(
                    _same_batch(source, group_number, day, batch_number)
                )
            ).one()
            if existing.content_hash != content_hash:
                raise BatchConflict(
                    f"batch {batch_number} of {source} (group {group_number}, day {day}) is "
                    f"already stored as raw batch {existing.id} with content hash "
                    f"{existing.content_hash}, but it arrived again with hash {content_hash}"
                )
            logger.info("batch %d already stored (batch id %d)", batch_number, existing.id)
            return StoredBatch(batch_id=int(existing.id), created=False)
        batch_id = int(inserted.id)
        written = 0

        def parts() -> Iterator[bytes]:
            nonlocal written
            for chunk in frames:
                written += len(chunk)
                yield csv_bytes(_raw_table(batch_id, chunk))

        with driver_cursor(conn) as cursor:
            copy_in_stream(cursor, "raw_listings", _LISTING_COPY_COLUMNS, parts())
        if written != row_count:  # raising here rolls the whole batch back
            raise ValueError(f"raw batch {batch_number}: {written} rows sent, {row_count} expected")
    logger.info("batch %d: %d rows stored (batch id %d)", batch_number, row_count, batch_id)
    return StoredBatch(batch_id=batch_id, created=True)


def load_raw_frame(engine: sa.Engine, batch_id: int) -> pd.DataFrame:
    """The stored rows of one raw batch, in the shape of `ingestion.raw.raw_frame`.

    `extra` comes back as PostgreSQL's JSON text (same value; key order and spacing may differ).
    """
    columns = [*schema.COLUMN_NAMES, ROW_NUMBER, EXTRA]
    query = sql.SQL(
        "SELECT {}, row_number::int8, extra::text FROM raw_listings "
        "WHERE batch_id = {} ORDER BY row_number"
    ).format(sql.SQL(", ").join(map(sql.Identifier, schema.COLUMN_NAMES)), sql.Literal(batch_id))
    types = {name: pa.large_string() for name in columns} | {ROW_NUMBER: pa.int64()}
    with engine.connect() as conn, driver_cursor(conn) as cursor:
        table = copy_out(cursor, query, types)
    frame = arrow_to_pandas(table)
    frame[ROW_NUMBER] = frame[ROW_NUMBER].to_numpy(dtype="int64")
    return frame.reset_index(drop=True)


def latest_raw_batch(
    engine: sa.Engine, source: str, group_number: int, day: str | None
) -> int | None:
    """The highest batch number stored for (source, group, day), or None if there is none."""
    return max_batch_number(engine, raw_batches, source, group_number, day)


# COPY in binary: no escaping on either side, and the packed bodies pass as the bytes they are.
# Binary COPY needs each column's exact type: read from the table.
_INFERENCE_TYPES: Final[tuple[str, ...]] = tuple(
    c.type.compile(dialect=postgresql.dialect()).lower() for c in inference_requests.columns
)
_BODIES: Final[tuple[str, ...]] = ("inputs", "outputs")


def _optional(convert: Any, value: Any) -> Any:
    return None if value is None else convert(value)


def _aware(moment: datetime) -> datetime:
    """A timestamp for `timestamptz`: one without a zone is taken as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _inference_row(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        uuid.UUID(str(r["request_id"])),
        _aware(r["received_at"]),
        r["endpoint"],
        _optional(str, r.get("model_name")),
        _optional(str, r.get("model_version")),
        _optional(compressed_json.pack, r.get("inputs")),
        _optional(compressed_json.pack, r.get("outputs")),
        _optional(float, r.get("latency_ms")),
        _optional(int, r.get("status_code")),
        bool(r.get("what_if", False)),
    )


def write_inference_records(
    engine: sa.Engine, records: Sequence[Mapping[str, Any]], *, skip_existing: bool = False
) -> int:
    """Append inference requests (keys of `INFERENCE_COLUMNS`) with one COPY; returns the count.

    `inputs` and `outputs` may be any JSON-able value (an `orjson.Fragment` is kept byte for byte),
    stored packed (`compressed_json`); `request_id` a UUID or its text. With
    `skip_existing`, records whose request id is already stored (or repeated) are skipped, so a
    replay of records that may already be in the table is idempotent: they go through one COPY into
    a temporary table and one `INSERT ... ON CONFLICT DO NOTHING`; the count is of rows added.
    """
    if not records:
        return 0
    columns = sql.SQL(", ").join(map(sql.Identifier, INFERENCE_COLUMNS))
    target = sql.Identifier(_INFERENCE_STAGING if skip_existing else "inference_requests")
    with engine.begin() as conn, driver_cursor(conn) as cursor:
        if skip_existing:
            cursor.execute(
                sql.SQL("CREATE TEMP TABLE {} (LIKE inference_requests) ON COMMIT DROP").format(
                    target
                )
            )
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(target, columns)
        with cursor.copy(statement) as copy:
            copy.set_types(list(_INFERENCE_TYPES))
            for r in records:
                copy.write_row(_inference_row(r))
        if skip_existing:
            cursor.execute(
                sql.SQL(
                    "INSERT INTO inference_requests ({cols}) SELECT {cols} FROM {src} "
                    "ON CONFLICT (request_id) DO NOTHING"
                ).format(cols=columns, src=target)
            )
            return max(cursor.rowcount, 0)
    return len(records)


def load_inference_records(
    engine: sa.Engine,
    *,
    since: datetime | None = None,
    limit: int | None = None,
    endpoints: Sequence[str] | None = None,
    status_code: int | None = None,
    before: datetime | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Stored inference requests, newest first (optionally only those received after `since` and
    before `before`, to some endpoints, with one status code; `offset` skips the newest ones).

    The bodies come back unpacked, as the JSON values they hold.
    """
    c = inference_requests.c
    query = sa.select(inference_requests).order_by(c.received_at.desc())
    if since is not None:
        query = query.where(c.received_at > since)
    if endpoints is not None:
        query = query.where(c.endpoint.in_(list(endpoints)))
    if status_code is not None:
        query = query.where(c.status_code == status_code)
    if before is not None:
        query = query.where(c.received_at < before)
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        # Plain str keys: SQLAlchemy's column names are a str subclass that orjson refuses.
        records = [{str(k): v for k, v in row._mapping.items()} for row in conn.execute(query)]
    for record in records:
        for body in _BODIES:
            record[body] = _optional(compressed_json.unpack, record[body])
    return records


def iter_priced_inputs(
    engine: sa.Engine, endpoints: Sequence[str], *, page: int = 200
) -> Iterator[Any]:
    """The request bodies of answered (200) requests to `endpoints`, newest first, unpacked;
    what-if requests left out.

    Read a page at a time (keyset on receipt time and id), so a reader that stops early never
    reads the rest of the log.
    """
    c = inference_requests.c
    query = (
        sa.select(c.received_at, c.request_id, c.inputs)
        .where(
            c.endpoint.in_(list(endpoints)),
            c.status_code == 200,
            c.inputs.is_not(None),
            c.what_if.is_(False),
        )
        .order_by(c.received_at.desc(), c.request_id.desc())
        .limit(page)
    )
    after: tuple[Any, Any] | None = None
    key = sa.tuple_(c.received_at, c.request_id)
    while True:
        paged = query if after is None else query.where(key < after)
        with engine.connect() as conn:
            rows = conn.execute(paged).all()
        for row in rows:
            yield compressed_json.unpack(row.inputs)
        if len(rows) < page:
            return
        after = (rows[-1].received_at, rows[-1].request_id)


def list_raw_batches(
    engine: sa.Engine, source: str, group_number: int, day: str | None
) -> list[RawBatchRecord]:
    """The raw batches stored for (source, group, day), by batch number."""
    c = raw_batches.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(c.id, c.batch_number, c.row_count, c.content_hash)
            .where(
                c.source == source, c.group_number == group_number, c.day.is_not_distinct_from(day)
            )
            .order_by(c.batch_number)
        ).all()
    return [
        RawBatchRecord(int(r.id), int(r.batch_number), int(r.row_count), r.content_hash)
        for r in rows
    ]


#: Latency percentiles of `summarize_inference`, as fractions.
LATENCY_QUANTILES: Final[tuple[float, ...]] = (0.5, 0.9, 0.95, 0.99)


@dataclass(frozen=True, slots=True)
class InferenceSummary:
    """Counts and latency of the inference requests received in [since, until)."""

    total: int
    by_endpoint: dict[str, int]
    by_status: dict[int, int]
    by_model_version: dict[str, int]
    latency_mean_ms: float | None
    latency_quantiles_ms: dict[float, float]  # LATENCY_QUANTILES -> ms; empty without requests
    over_time: list[tuple[datetime, int, int, float | None]]  # bucket start, requests, errors, p95


def summarize_inference(
    engine: sa.Engine, since: datetime, until: datetime, bucket_seconds: int
) -> InferenceSummary:
    """The inference log's counts and latency since `since`, in SQL: no body is read."""
    c = inference_requests.c
    window = sa.and_(c.received_at >= since, c.received_at < until)
    bucket = sa.func.date_bin(
        sa.cast(f"{int(bucket_seconds)} seconds", INTERVAL), c.received_at, since
    ).label("bucket")
    quantiles = sa.func.percentile_cont(sa.literal(list(LATENCY_QUANTILES), ARRAY(sa.Double)))
    with engine.connect() as conn:
        total, mean, cuts = conn.execute(
            sa.select(
                sa.func.count(), sa.func.avg(c.latency_ms), quantiles.within_group(c.latency_ms)
            ).where(window)
        ).one()

        def counts(column: Any) -> dict[Any, int]:
            rows = conn.execute(
                sa.select(column, sa.func.count()).where(window).group_by(column)
            ).all()
            return {key: int(n) for key, n in rows if key is not None}

        by_endpoint, by_status = counts(c.endpoint), counts(c.status_code)
        by_version = counts(c.model_version)
        over_time = conn.execute(
            sa.select(
                bucket,
                sa.func.count(),
                sa.func.count().filter(c.status_code >= 400),
                sa.func.percentile_cont(0.95).within_group(c.latency_ms),
            )
            .where(window)
            .group_by(bucket)
            .order_by(bucket)
        ).all()
    return InferenceSummary(
        total=int(total),
        by_endpoint={str(k): v for k, v in by_endpoint.items()},
        by_status={int(k): v for k, v in by_status.items()},
        by_model_version={str(k): v for k, v in by_version.items()},
        latency_mean_ms=None if mean is None else float(mean),
        latency_quantiles_ms=(
            {} if cuts is None else dict(zip(LATENCY_QUANTILES, map(float, cuts), strict=True))
        ),
        over_time=[
            (start, int(n), int(errors), None if p95 is None else float(p95))
            for start, n, errors, p95 in over_time
        ],
    )
