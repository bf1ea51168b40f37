"""RAW DATA: received batches, their rows as text, and the inference log.

Revision ID: raw_0001
Revises:
Create Date: 2025-01-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "raw_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The 12 listing columns as received (frozen here: later schema changes get their own revision).
LISTING_COLUMNS = (
    "brokered_by", "status", "price", "bed", "bath", "acre_lot", "street", "city", "state",
    "zip_code", "house_size", "prev_sold_date",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "raw_batches",
        sa.Column("id", sa.BigInteger, nullable=False),  # bigserial
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("group_number", sa.Integer, nullable=False),
        sa.Column("day", sa.Text, nullable=True),
        sa.Column("batch_number", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_raw_batches"),
        sa.UniqueConstraint(
            "source",
            "group_number",
            "day",
            "batch_number",
            name="uq_raw_batches",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_table(
        "raw_listings",
        sa.Column("batch_id", sa.BigInteger, nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Text, nullable=True) for name in LISTING_COLUMNS),
        sa.Column("extra", postgresql.JSONB, nullable=True),
        # No foreign key to raw_batches: PostgreSQL checks one per row (a trigger call each),
        # which more than doubled the cost of a 200k-row COPY. `store_raw_batch` writes the batch
        # row and its listings in one transaction and RAW DATA is append-only, so lineage holds.
        sa.PrimaryKeyConstraint("batch_id", "row_number", name="pk_raw_listings"),
    )
    op.create_table(
        "inference_requests",
        sa.Column("request_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("model_name", sa.Text, nullable=True),
        sa.Column("model_version", sa.Text, nullable=True),
        sa.Column("inputs", postgresql.JSONB, nullable=True),
        sa.Column("outputs", postgresql.JSONB, nullable=True),
        sa.Column("latency_ms", sa.Double, nullable=True),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("request_id", name="pk_inference_requests"),
    )
    op.create_index("ix_inference_requests_received_at", "inference_requests", ["received_at"])
    op.create_index("ix_inference_requests_model_version", "inference_requests", ["model_version"])


def downgrade() -> None:
    op.drop_table("inference_requests")
    op.drop_table("raw_listings")
    op.drop_table("raw_batches")
