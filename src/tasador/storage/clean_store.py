"""CLEAN DATA: the batch state machine, typed listings, rejected rows, drift reports, decisions.

Every write that moves a batch forward does its rows and its status change in one transaction, so a
crash leaves the batch at its previous status with its previous rows, and re-running the step gives
exactly the same rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final, cast

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.dialects.postgresql import insert

from tasador import schema
from tasador.storage.bulk import (
    arrow_to_pandas,
    constant_array,
    copy_in,
    copy_out,
    csv_bytes,
    driver_cursor,
)
from tasador.storage.bulk import text_array as _text_array
from tasador.storage.records import (
    BatchRecord,
    BatchStatus,
    DecisionRecord,
    DriftRecord,
    FetchEvent,
    IllegalTransitionError,
    RunBatch,
)
from tasador.storage.tables import (
    batches,
    decisions,
    drift_reports,
    fetch_events,
    max_batch_number,
    run_batches,
)

logger = logging.getLogger(__name__)

KEY_COLUMNS: Final[tuple[str, ...]] = ("property_key", "listing_key")
HOLDOUT: Final[str] = "is_holdout"
LISTING_COLUMNS: Final[tuple[str, ...]] = (
    *schema.COLUMN_NAMES, "row_number", *KEY_COLUMNS, HOLDOUT, "batch_id",
)  # fmt: skip
_COPY_COLUMNS: Final[tuple[str, ...]] = (
    "batch_id", "row_number", *schema.COLUMN_NAMES, *KEY_COLUMNS, HOLDOUT,
)  # fmt: skip
_ARROW_TYPES: Final[dict[str, pa.DataType]] = {
    "Int64": pa.int64(),
    "string": pa.large_string(),
    "float64": pa.float64(),
    "datetime64[s]": pa.date32(),
}


def _plain_json(value: Any) -> Any:
    """The value as plain JSON types (numpy scalars and arrays, NaN as null, keys as text)."""
    options = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    return orjson.loads(orjson.dumps(value, option=options, default=str))


@contextmanager
def _transaction(engine: sa.Engine, conn: sa.Connection | None) -> Iterator[sa.Connection]:
    """The caller's connection (its transaction), or a new transaction of our own."""
    if conn is not None:
        yield conn
        return
    with engine.begin() as own:
        yield own


# Batches and their status ---------------------------------------------------------------------


def _batch_record(row: Any) -> BatchRecord:
    return BatchRecord(
        batch_id=int(row.id),
        source=row.source,
        group_number=row.group_number,
        day=row.day,
        batch_number=row.batch_number,
        status=BatchStatus(row.status),
        received=row.received,
        kept=row.kept,
        rejected=row.rejected,
        rejected_by_reason=dict(row.rejected_by_reason or {}),
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def register_batch(
    engine: sa.Engine,
    *,
    batch_id: int,
    source: str,
    group_number: int,
    day: str | None,
    batch_number: int,
    received: int,
) -> BatchRecord:
    """Record a batch as received (idempotent: a known batch keeps its status and counts)."""
    values = insert(batches).values(
        id=batch_id,
        source=source,
        group_number=group_number,
        day=day,
        batch_number=batch_number,
        status=BatchStatus.RECEIVED.value,
        received=received,
    )
    statement = values.on_conflict_do_update(
        index_elements=[batches.c.id],
        set_={
            "source": values.excluded.source,
            "group_number": values.excluded.group_number,
            "day": values.excluded.day,
            "batch_number": values.excluded.batch_number,
            "received": values.excluded.received,
        },
    ).returning(*batches.columns)
    with engine.begin() as conn:
        return _batch_record(conn.execute(statement).one())


def get_batch(engine: sa.Engine, batch_id: int) -> BatchRecord | None:
    """One batch, or None if it was never registered."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(batches).where(batches.c.id == batch_id)).first()
    return None if row is None else _batch_record(row)


def list_batches(engine: sa.Engine) -> list[BatchRecord]:
    """All batches, by id."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(batches).order_by(batches.c.id)).all()
    return [_batch_record(r) for r in rows]


def unfinished_batches(engine: sa.Engine) -> list[BatchRecord]:
    """Batches not yet done, by id: the work a resumed round picks up."""
    query = sa.select(batches).where(batches.c.status != BatchStatus.DONE.value)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(batches.c.id)).all()
    return [_batch_record(r) for r in rows]


def _locked_status(conn: sa.Connection, batch_id: int) -> BatchStatus:
    """The batch's status, with its row locked until the transaction ends."""
    status = conn.execute(
        sa.select(batches.c.status).where(batches.c.id == batch_id).with_for_update()
    ).scalar()
    if status is None:
        raise IllegalTransitionError(f"batch {batch_id} is not registered")
    return BatchStatus(status)


def _set_status(conn: sa.Connection, batch_id: int, to: BatchStatus) -> None:
    conn.execute(
        sa.update(batches)
        .where(batches.c.id == batch_id)
        .values(status=to.value, updated_at=sa.func.now())
    )


def _raise_status(conn: sa.Connection, batch_id: int, to: BatchStatus) -> None:
    """Move the batch to `to` if it is behind; a batch already there or beyond stays put."""
    if _locked_status(conn, batch_id).rank < to.rank:
        _set_status(conn, batch_id, to)


def advance_batch(
    engine: sa.Engine, batch_id: int, to: BatchStatus, *, conn: sa.Connection | None = None
) -> None:
    """Move a batch forward to `to` (skipping statuses is allowed; staying put is a no-op).

    Raises `IllegalTransitionError` when `to` is behind the current status or the batch is unknown.
    Pass `conn` to make the move part of the caller's transaction.
    """
    to = BatchStatus(to)
    with _transaction(engine, conn) as tx:
        current = _locked_status(tx, batch_id)
        if to.rank < current.rank:
            raise IllegalTransitionError(
                f"batch {batch_id} cannot move back from {current} to {to}"
            )
        if to is not current:
            _set_status(tx, batch_id, to)
            logger.debug("batch id %d: %s -> %s", batch_id, current, to)


def record_batch_error(engine: sa.Engine, batch_id: int, error: str | None) -> None:
    """Note (or clear, with None) the last error met while processing a batch."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(batches)
            .where(batches.c.id == batch_id)
            .values(error=error, updated_at=sa.func.now())
        )


# Clean and rejected rows ----------------------------------------------------------------------


def _clean_table(batch_id: int, clean: pd.DataFrame) -> pa.Table:
    """The clean frame in COPY order as Arrow arrays (NaN and NaT as NULL, dates as days)."""
    missing = [c for c in _COPY_COLUMNS[1:] if c not in clean.columns]
    if missing:
        raise ValueError(f"clean frame lacks columns {missing}")
    n = len(clean)
    arrays: list[Any] = [
        constant_array(batch_id, n),
        pa.array(clean["row_number"].to_numpy(dtype="int64")),
    ]
    for column in schema.COLUMNS:
        values = clean[column.name]
        if column.dtype == "string":
            arrays.append(_text_array(values))
        elif column.dtype == "Int64":
            arrays.append(pa.array(values.astype("Int64").array))
        elif column.dtype == "float64":
            arrays.append(pa.array(values.to_numpy(dtype="float64"), from_pandas=True))
        else:
            days = values.to_numpy(dtype="datetime64[s]").astype("datetime64[D]")
            arrays.append(pa.array(days, type=pa.date32(), from_pandas=True))
    arrays += [pa.array(clean[k].to_numpy(dtype="int64")) for k in KEY_COLUMNS]
    arrays.append(pa.array(clean[HOLDOUT].to_numpy(dtype="bool")))
    return pa.table(arrays, names=list(_COPY_COLUMNS))


def _rejected_table(batch_id: int, rejected: pd.DataFrame) -> pa.Table:
    return pa.table(
        [
            constant_array(batch_id, len(rejected)),
            pa.array(rejected["row_number"].to_numpy(dtype="int64")),
            _text_array(rejected["reason"]),
        ],
        names=["batch_id", "row_number", "reason"],
    )


def store_clean_rows(
    engine: sa.Engine,
    batch_id: int,
    *,
    clean: pd.DataFrame,
    rejected: pd.DataFrame,
    counts_by_reason: Mapping[str, int],
) -> None:
    """Replace a batch's clean and rejected rows, record its counts, and mark it cleaned.

    One transaction: earlier rows of the batch (from a crashed run) are deleted first, so running
    this twice leaves exactly one copy. A batch already past `cleaned` keeps its status.
    """
    listing_data = csv_bytes(_clean_table(batch_id, clean))
    rejected_data = csv_bytes(_rejected_table(batch_id, rejected))
    with engine.begin() as conn:
        _locked_status(conn, batch_id)
        conn.execute(sa.text("DELETE FROM listings WHERE batch_id = :b"), {"b": batch_id})
        conn.execute(sa.text("DELETE FROM rejected_rows WHERE batch_id = :b"), {"b": batch_id})
        with driver_cursor(conn) as cursor:
            copy_in(cursor, "listings", _COPY_COLUMNS, listing_data)
            copy_in(cursor, "rejected_rows", ("batch_id", "row_number", "reason"), rejected_data)
        conn.execute(
            sa.update(batches)
            .where(batches.c.id == batch_id)
            .values(
                kept=len(clean),
                rejected=len(rejected),
                rejected_by_reason={str(k): int(v) for k, v in counts_by_reason.items()},
                updated_at=sa.func.now(),
            )
        )
        _raise_status(conn, batch_id, BatchStatus.CLEANED)
    logger.debug("batch id %d: %d clean rows, %d rejected", batch_id, len(clean), len(rejected))


def find_seen_listing_keys(
    engine: sa.Engine, keys: np.ndarray, *, exclude_batch: int
) -> np.ndarray:
    """Which of `keys` already appear as listing keys of another batch (sorted, unique, int64)."""
    wanted = np.unique(np.asarray(keys, dtype=np.int64))
    if wanted.size == 0:
        return wanted
    with engine.connect() as conn, driver_cursor(conn) as cursor:
        cursor.execute(
            "SELECT DISTINCT listing_key FROM listings "
            "WHERE listing_key = ANY(%s::int8[]) AND batch_id <> %s",
            (wanted.tolist(), int(exclude_batch)),
        )
        found = [row[0] for row in cursor.fetchall()]
    return np.sort(np.asarray(found, dtype=np.int64))


def _listing_filter(
    batch_ids: Sequence[int] | None,
    up_to_batch: int | None,
    holdout: bool | None,
    last_n_batches: int | None,
) -> sql.Composable:
    conditions: list[sql.Composable] = [sql.SQL("TRUE")]
    if batch_ids is not None:
        ids = sql.Literal([int(b) for b in batch_ids])
        conditions.append(sql.SQL("batch_id = ANY({}::int8[])").format(ids))
    if up_to_batch is not None:
        conditions.append(sql.SQL("batch_id <= {}").format(sql.Literal(int(up_to_batch))))
    if holdout is not None:
        conditions.append(sql.SQL("is_holdout = {}").format(sql.Literal(bool(holdout))))
    if last_n_batches is not None:
        bound: sql.Composable = sql.SQL("")
        if up_to_batch is not None:
            bound = sql.SQL(" AND id <= {}").format(sql.Literal(int(up_to_batch)))
        conditions.append(
            sql.SQL(
                "batch_id IN (SELECT id FROM batches WHERE status <> {}{} "
                "ORDER BY id DESC LIMIT {})"
            ).format(
                sql.Literal(BatchStatus.RECEIVED.value), bound, sql.Literal(int(last_n_batches))
            )
        )
    return sql.SQL(" AND ").join(conditions)


def load_listings(
    engine: sa.Engine,
    *,
    batch_ids: Sequence[int] | None = None,
    up_to_batch: int | None = None,
    holdout: bool | None = None,
    last_n_batches: int | None = None,
) -> pd.DataFrame:
    """Clean listings as a typed frame (the clean contract's dtypes plus `batch_id`).

    Filters combine: given batches, batches up to an id, holdout rows only or training rows only,
    and the last N cleaned batches (counted up to `up_to_batch` when both are given). Rows come in
    (batch_id, row_number) order. Read through COPY and pyarrow, so a million rows take seconds.
    """
    types: dict[str, pa.DataType] = {c.name: _ARROW_TYPES[c.dtype] for c in schema.COLUMNS}
    types |= {"row_number": pa.int64(), "property_key": pa.int64(), "listing_key": pa.int64()}
    types |= {HOLDOUT: pa.bool_(), "batch_id": pa.int64()}
    selected = sql.SQL(", ").join(
        sql.SQL("{}::int8").format(sql.Identifier(c))
        if c in ("row_number", "batch_id")
        else sql.Identifier(c)
        for c in types
    )
    query = sql.SQL("SELECT {} FROM listings WHERE {} ORDER BY batch_id, row_number").format(
        selected, _listing_filter(batch_ids, up_to_batch, holdout, last_n_batches)
    )
    with engine.connect() as conn:
        with driver_cursor(conn) as cursor:
            cursor.execute("SET LOCAL datestyle TO 'ISO, YMD'")
            table = copy_out(cursor, query, types)
        conn.rollback()
    frame = arrow_to_pandas(table)
    for column in schema.COLUMNS:
        frame[column.name] = frame[column.name].astype(cast(Any, column.dtype))
    for name in ("row_number", *KEY_COLUMNS, "batch_id"):
        frame[name] = frame[name].to_numpy(dtype="int64")
    frame[HOLDOUT] = frame[HOLDOUT].to_numpy(dtype="bool")
    return frame[list(LISTING_COLUMNS)]


# Drift reports ---------------------------------------------------------------------------------


def _drift_record(row: Any) -> DriftRecord:
    return DriftRecord(
        batch_id=int(row.batch_id),
        reference_model_version=row.reference_model_version,
        verdict=row.verdict,
        reason=row.reason,
        report=row.report,
        created_at=row.created_at,
    )


def store_drift_report(
    engine: sa.Engine,
    batch_id: int,
    *,
    reference_model_version: str | None,
    verdict: bool,
    reason: str,
    report: dict[str, Any],
) -> None:
    """Store (or replace) a batch's drift report and mark the batch drift_checked."""
    values = {
        "batch_id": batch_id,
        "reference_model_version": reference_model_version,
        "verdict": bool(verdict),
        "reason": reason,
        "report": _plain_json(report),
    }
    statement = insert(drift_reports).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[drift_reports.c.batch_id],
        set_={k: statement.excluded[k] for k in values if k != "batch_id"}
        | {"created_at": sa.func.now()},
    )
    with engine.begin() as conn:
        _locked_status(conn, batch_id)
        conn.execute(statement)
        _raise_status(conn, batch_id, BatchStatus.DRIFT_CHECKED)


def get_drift_report(engine: sa.Engine, batch_id: int) -> DriftRecord | None:
    """A batch's drift report, or None."""
    query = sa.select(drift_reports).where(drift_reports.c.batch_id == batch_id)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else _drift_record(row)


def list_drift_reports(engine: sa.Engine) -> list[DriftRecord]:
    """All drift reports, by batch id."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(drift_reports).order_by(drift_reports.c.batch_id)).all()
    return [_drift_record(r) for r in rows]


# Decisions -------------------------------------------------------------------------------------

_DECISION_FIELDS: Final[tuple[str, ...]] = (
    "action", "trigger", "reason", "model_version", "promoted", "promotion_reason",
    "champion_version", "challenger_metrics", "champion_metrics",
)  # fmt: skip


def _decision_record(row: Any) -> DecisionRecord:
    return DecisionRecord(
        batch_id=int(row.batch_id),
        **{name: getattr(row, name) for name in _DECISION_FIELDS},
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def store_decision(
    engine: sa.Engine, record: DecisionRecord, *, status: BatchStatus = BatchStatus.DECIDED
) -> None:
    """Store (or update) a batch's decision and move the batch forward to `status`.

    A batch already at or beyond `status` keeps its status, so re-running a step is harmless.
    """
    if record.action not in ("skip", "train"):
        raise ValueError(f"decision action must be 'skip' or 'train', not {record.action!r}")
    values = {name: getattr(record, name) for name in _DECISION_FIELDS}
    for name in ("challenger_metrics", "champion_metrics"):
        if values[name] is not None:
            values[name] = _plain_json(values[name])
    statement = insert(decisions).values(batch_id=record.batch_id, **values)
    statement = statement.on_conflict_do_update(
        index_elements=[decisions.c.batch_id],
        set_={k: statement.excluded[k] for k in values} | {"updated_at": sa.func.now()},
    )
    with engine.begin() as conn:
        _locked_status(conn, record.batch_id)
        conn.execute(statement)
        _raise_status(conn, record.batch_id, BatchStatus(status))


def get_decision(engine: sa.Engine, batch_id: int) -> DecisionRecord | None:
    """A batch's decision, or None."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(decisions).where(decisions.c.batch_id == batch_id)).first()
    return None if row is None else _decision_record(row)


def list_decisions(engine: sa.Engine) -> list[DecisionRecord]:
    """All decisions, by batch id."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(decisions).order_by(decisions.c.batch_id)).all()
    return [_decision_record(r) for r in rows]


# Fetch events ----------------------------------------------------------------------------------


def record_fetch_event(
    engine: sa.Engine,
    source: str,
    group_number: int,
    day: str | None,
    *,
    outcome: str,
    batch_number: int | None,
    attempts: int,
    error: str | None,
) -> None:
    """Log one fetch from the data API (its outcome, the batch it brought, attempts, last error)."""
    with engine.begin() as conn:
        conn.execute(
            sa.insert(fetch_events).values(
                source=source,
                group_number=group_number,
                day=day,
                outcome=outcome,
                batch_number=batch_number,
                attempts=attempts,
                error=error,
            )
        )


def max_fetched_batch_number(
    engine: sa.Engine, source: str, group_number: int, day: str | None
) -> int | None:
    """The highest batch number the API ever handed us for (source, group, day), stored or not."""
    return max_batch_number(engine, fetch_events, source, group_number, day)


def list_fetch_events(engine: sa.Engine, *, limit: int | None = None) -> list[FetchEvent]:
    """Fetch events, newest first."""
    query = sa.select(fetch_events).order_by(fetch_events.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        FetchEvent(
            id=int(r.id),
            at=r.at,
            source=r.source,
            group_number=r.group_number,
            day=r.day,
            outcome=r.outcome,
            batch_number=r.batch_number,
            attempts=r.attempts,
            error=r.error,
        )
        for r in rows
    ]


# Orchestrator runs ------------------------------------------------------------------------------


def run_batch(engine: sa.Engine, run_key: str) -> RunBatch | None:
    """The batch a run took, or None for a run that has taken none yet."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(run_batches.c.batch_id).where(run_batches.c.run_key == run_key)
        ).first()
    if row is None:
        return None
    return RunBatch(run_key, None if row.batch_id is None else int(row.batch_id))


def record_run_batch(engine: sa.Engine, run_key: str, batch_id: int | None) -> RunBatch:
    """Record the batch a run took (None: the API had no more); a run that has one keeps it."""
    statement = (
        insert(run_batches)
        .values(run_key=run_key, batch_id=batch_id)
        .on_conflict_do_nothing(index_elements=[run_batches.c.run_key])
    )
    with engine.begin() as conn:
        conn.execute(statement)
        recorded = conn.execute(
            sa.select(run_batches.c.batch_id).where(run_batches.c.run_key == run_key)
        ).scalar_one()
    return RunBatch(run_key, None if recorded is None else int(recorded))


# What the history endpoints read ---------------------------------------------------------------


def last_batch_done_at(engine: sa.Engine) -> datetime | None:
    """When the loop last finished a batch (None before its first)."""
    query = sa.select(sa.func.max(batches.c.updated_at)).where(
        batches.c.status == BatchStatus.DONE.value
    )
    with engine.connect() as conn:
        value = conn.execute(query).scalar()
    return value if isinstance(value, datetime) else None


def history_fingerprint(engine: sa.Engine) -> tuple[Any, ...]:
    """A value that changes whenever a batch, drift report or decision is added or updated: one
    cheap query that tells a reader of the loop's history whether to read it again."""
    changes = (
        (batches, batches.c.updated_at),
        (drift_reports, drift_reports.c.created_at),
        (decisions, decisions.c.updated_at),
    )
    query = sa.select(
        *(
            sa.select(aggregate).select_from(table).scalar_subquery()
            for table, moment in changes
            for aggregate in (sa.func.count(), sa.func.max(moment))
        )
    )
    with engine.connect() as conn:
        return tuple(conn.execute(query).one())
