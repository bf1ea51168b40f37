"""RAW DATA: the inference log's bodies are compressed with lz4 where the server has it.

lz4 takes PostgreSQL about half pglz's CPU on the log's large bodies, its busiest write. lz4 is a
build option of PostgreSQL 14 and later (the official images and Debian's packages have it; the
embedded wheel does not, and there this migration changes nothing). Values already stored keep
their compression.

Revision ID: raw_0003
Revises: raw_0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "raw_0003"
down_revision: str | None = "raw_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("inputs", "outputs")
HAS_LZ4 = (
    "SELECT coalesce('lz4' = ANY(enumvals), false) FROM pg_settings"
    " WHERE name = 'default_toast_compression'"
)


def _server_has_lz4() -> bool:
    return bool(op.get_bind().execute(sa.text(HAS_LZ4)).scalar())


def upgrade() -> None:
    if not _server_has_lz4():
        return
    for column in COLUMNS:
        op.execute(f"ALTER TABLE inference_requests ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    if not _server_has_lz4():
        return
    for column in COLUMNS:
        op.execute(f"ALTER TABLE inference_requests ALTER COLUMN {column} SET COMPRESSION default")
