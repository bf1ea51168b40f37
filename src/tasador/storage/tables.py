"""The tables of both stores as SQLAlchemy Core metadata; the Alembic migrations create the same.

RAW DATA (`RAW_METADATA`) keeps every received row as text, with its batch, and the inference log.
CLEAN DATA (`CLEAN_METADATA`) keeps typed rows and the pipeline's own records. A test checks that
the migrated schema matches this metadata, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from tasador import schema

NAMING: Final[dict[str, str]] = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s",
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

RAW_METADATA: Final = sa.MetaData(naming_convention=NAMING)
CLEAN_METADATA: Final = sa.MetaData(naming_convention=NAMING)

_now = sa.text("now()")

# Postgres type of each clean listing column, from its pandas dtype in the schema.
CLEAN_SQL_TYPES: Final[dict[str, Any]] = {
    "Int64": sa.BigInteger,
    "string": sa.Text,
    "float64": sa.Double,
    "datetime64[s]": sa.Date,
}

# RAW DATA --------------------------------------------------------------------------------------

raw_batches = sa.Table(
    "raw_batches",
    RAW_METADATA,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("group_number", sa.Integer, nullable=False),
    sa.Column("day", sa.Text, nullable=True),
    sa.Column("batch_number", sa.Integer, nullable=False),
    sa.Column("content_hash", sa.Text, nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint(
        "source", "group_number", "day", "batch_number", postgresql_nulls_not_distinct=True
    ),
)

raw_listings = sa.Table(
    "raw_listings",
    RAW_METADATA,
    # raw_batches.id; no FOREIGN KEY on purpose (see the migration: per-row checks slow COPY).
    sa.Column("batch_id", sa.BigInteger, nullable=False),
    sa.Column("row_number", sa.Integer, nullable=False),
    *(sa.Column(name, sa.Text, nullable=True) for name in schema.COLUMN_NAMES),
    sa.Column("extra", JSONB, nullable=True),
    sa.PrimaryKeyConstraint("batch_id", "row_number"),
)

inference_requests = sa.Table(
    "inference_requests",
    RAW_METADATA,
    sa.Column("request_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("model_name", sa.Text, nullable=True),
    sa.Column("model_version", sa.Text, nullable=True, index=True),
    # the bodies' JSON text as zstd frames (`compressed_json`), which PostgreSQL stores as they
    # are: a fraction of the server CPU and space of `json` (raw_0004)
    sa.Column("inputs", sa.LargeBinary, nullable=True),
    sa.Column("outputs", sa.LargeBinary, nullable=True),
    sa.Column("latency_ms", sa.Double, nullable=True),
    sa.Column("status_code", sa.Integer, nullable=True),
    # a what-if request prices hypothetical listings (the UI's comparisons): logged like any
    # other, left out of the live drift check (raw_0005)
    sa.Column("what_if", sa.Boolean, nullable=False, server_default=sa.false()),
)

# CLEAN DATA ------------------------------------------------------------------------------------

batches = sa.Table(
    "batches",
    CLEAN_METADATA,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("group_number", sa.Integer, nullable=False),
    sa.Column("day", sa.Text, nullable=True),
    sa.Column("batch_number", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("received", sa.Integer, nullable=False),
    sa.Column("kept", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rejected_by_reason", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

rejected_rows = sa.Table(
    "rejected_rows",
    CLEAN_METADATA,
    sa.Column("batch_id", sa.BigInteger, nullable=False),
    sa.Column("row_number", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("batch_id", "row_number"),
)

listings = sa.Table(
    "listings",
    CLEAN_METADATA,
    sa.Column("batch_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("row_number", sa.Integer, nullable=False),
    *(sa.Column(c.name, CLEAN_SQL_TYPES[c.dtype], nullable=True) for c in schema.COLUMNS),
    sa.Column("property_key", sa.BigInteger, nullable=False),
    sa.Column("listing_key", sa.BigInteger, nullable=False, index=True),
    sa.Column("is_holdout", sa.Boolean, nullable=False),
    sa.PrimaryKeyConstraint("batch_id", "row_number"),
)

drift_reports = sa.Table(
    "drift_reports",
    CLEAN_METADATA,
    sa.Column("batch_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("reference_model_version", sa.Text, nullable=True),
    sa.Column("verdict", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("report", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

decisions = sa.Table(
    "decisions",
    CLEAN_METADATA,
    sa.Column("batch_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("trigger", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("model_version", sa.Text, nullable=True),
    sa.Column("promoted", sa.Boolean, nullable=True),
    sa.Column("promotion_reason", sa.Text, nullable=True),
    sa.Column("champion_version", sa.Text, nullable=True),
    sa.Column("challenger_metrics", JSONB, nullable=True),
    sa.Column("champion_metrics", JSONB, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.CheckConstraint("action IN ('skip', 'train')", name="action"),
)

fetch_events = sa.Table(
    "fetch_events",
    CLEAN_METADATA,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("group_number", sa.Integer, nullable=False),
    sa.Column("day", sa.Text, nullable=True),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("batch_number", sa.Integer, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
)

# Which batch each orchestrator run (an Airflow DAG run) took; batch_id null: the API had none.
run_batches = sa.Table(
    "run_batches",
    CLEAN_METADATA,
    sa.Column("run_key", sa.Text, primary_key=True),
    sa.Column("batch_id", sa.BigInteger, nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)


def max_batch_number(
    engine: sa.Engine, table: sa.Table, source: str, group_number: int, day: str | None
) -> int | None:
    """The highest `batch_number` in `table` for one (source, group, day) stream, or None."""
    c = table.c
    with engine.connect() as conn:
        value = conn.execute(
            sa.select(sa.func.max(c.batch_number)).where(
                c.source == source, c.group_number == group_number, c.day.is_not_distinct_from(day)
            )
        ).scalar()
    return None if value is None else int(value)
