"""CLEAN DATA: batches and their state, typed listings, rejected rows, drift reports, decisions.

Revision ID: clean_0001
Revises:
Create Date: 2025-01-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "clean_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=NOW)


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("group_number", sa.Integer, nullable=False),
        sa.Column("day", sa.Text, nullable=True),
        sa.Column("batch_number", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("received", sa.Integer, nullable=False),
        sa.Column("kept", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column(
            "rejected_by_reason",
            postgresql.JSONB,
            nullable=False,
            server_default=sa.text("'{}'::jsonb"),
        ),
        sa.Column("error", sa.Text, nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_batches"),
    )
    op.create_table(
        "rejected_rows",
        sa.Column("batch_id", sa.BigInteger, nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "row_number", name="pk_rejected_rows"),
    )
    op.create_table(
        "listings",
        sa.Column("batch_id", sa.BigInteger, nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("brokered_by", sa.BigInteger, nullable=True),
        sa.Column("status", sa.Text, nullable=True),
        sa.Column("price", sa.Double, nullable=True),
        sa.Column("bed", sa.Double, nullable=True),
        sa.Column("bath", sa.Double, nullable=True),
        sa.Column("acre_lot", sa.Double, nullable=True),
        sa.Column("street", sa.BigInteger, nullable=True),
        sa.Column("city", sa.Text, nullable=True),
        sa.Column("state", sa.Text, nullable=True),
        sa.Column("zip_code", sa.Text, nullable=True),
        sa.Column("house_size", sa.Double, nullable=True),
        sa.Column("prev_sold_date", sa.Date, nullable=True),
        sa.Column("property_key", sa.BigInteger, nullable=False),
        sa.Column("listing_key", sa.BigInteger, nullable=False),
        sa.Column("is_holdout", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "row_number", name="pk_listings"),
    )
    op.create_index("ix_listings_batch_id", "listings", ["batch_id"])
    op.create_index("ix_listings_listing_key", "listings", ["listing_key"])
    op.create_table(
        "drift_reports",
        sa.Column("batch_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("reference_model_version", sa.Text, nullable=True),
        sa.Column("verdict", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("report", postgresql.JSONB, nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("batch_id", name="pk_drift_reports"),
    )
    op.create_table(
        "decisions",
        sa.Column("batch_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("model_version", sa.Text, nullable=True),
        sa.Column("promoted", sa.Boolean, nullable=True),
        sa.Column("promotion_reason", sa.Text, nullable=True),
        sa.Column("champion_version", sa.Text, nullable=True),
        sa.Column("challenger_metrics", postgresql.JSONB, nullable=True),
        sa.Column("champion_metrics", postgresql.JSONB, nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("batch_id", name="pk_decisions"),
        sa.CheckConstraint("action IN ('skip', 'train')", name="ck_decisions_action"),
    )
    op.create_table(
        "fetch_events",
        sa.Column("id", sa.BigInteger, nullable=False),  # bigserial
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("group_number", sa.Integer, nullable=False),
        sa.Column("day", sa.Text, nullable=True),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("batch_number", sa.Integer, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_fetch_events"),
    )


def downgrade() -> None:
    for table in (
        "fetch_events",
        "decisions",
        "drift_reports",
        "listings",
        "rejected_rows",
        "batches",
    ):
        op.drop_table(table)
