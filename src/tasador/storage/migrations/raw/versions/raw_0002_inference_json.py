"""RAW DATA: the inference log keeps request and answer bodies as `json`, the text as received.

`json` keeps the body's text, checked to be JSON, without `jsonb`'s re-encoding on the way in,
which cost the database several milliseconds per large record.

Revision ID: raw_0002
Revises: raw_0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "raw_0002"
down_revision: str | None = "raw_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("inputs", "outputs")


def upgrade() -> None:
    for column in COLUMNS:
        op.alter_column(
            "inference_requests",
            column,
            type_=postgresql.JSON,
            existing_type=postgresql.JSONB,
            postgresql_using=f"{column}::json",
        )


def downgrade() -> None:
    for column in COLUMNS:
        op.alter_column(
            "inference_requests",
            column,
            type_=postgresql.JSONB,
            existing_type=postgresql.JSON,
            postgresql_using=f"{column}::jsonb",
        )
