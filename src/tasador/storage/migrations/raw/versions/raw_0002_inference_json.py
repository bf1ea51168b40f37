"""RAW DATA: the inference log keeps request and answer bodies as `json`, the text as received.

`jsonb` re-encodes each body into its binary form on the way in; for a 1,000-listing request that
costs PostgreSQL about 5 ms of CPU per record (measured: 7.9 ms per record written as `jsonb`,
2.9 ms as `json`), on the machine that serves the requests. `json` keeps the body's text, checked
to be JSON, and still answers `->`/`->>` queries; RAW DATA is an append-only archive, read in bulk.

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
