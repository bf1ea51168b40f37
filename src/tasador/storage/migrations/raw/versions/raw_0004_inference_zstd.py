"""RAW DATA: the inference log keeps its bodies as zstd frames of their JSON text, in `bytea`.

The API's log writer packs each body with zstd and PostgreSQL stores the frame as it is (STORAGE
EXTERNAL: no second compression), which costs the database a fraction of checking and
compressing `json` (figures in docs/serving-performance.md). The JSON can no longer be queried in
SQL; `load_inference_records` reads it.

Rows already stored are packed here, in chunks. The frame format is zstd's; this migration calls
zstandard itself so that it does not change when the application's code does.

Revision ID: raw_0004
Revises: raw_0003
Create Date: 2026-11-26
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
import zstandard
from alembic import op

revision: str = "raw_0004"
down_revision: str | None = "raw_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK_ROWS = 500
_TABLE = "inference_requests"


def _rewrite_bodies(convert: Callable[[bytes], bytes]) -> None:
    """Every stored body through `convert`, `CHUNK_ROWS` records at a time (by request id)."""
    conn = op.get_bind()
    select = sa.text(
        "SELECT request_id, inputs, outputs FROM inference_requests"
        " WHERE request_id > :after ORDER BY request_id LIMIT :n"
    )
    update = sa.text(
        "UPDATE inference_requests SET inputs = :inputs, outputs = :outputs WHERE request_id = :id"
    )
    after = "00000000-0000-0000-0000-000000000000"
    while rows := conn.execute(select, {"after": after, "n": CHUNK_ROWS}).all():
        conn.execute(
            update,
            [
                {
                    "id": request_id,
                    "inputs": None if inputs is None else convert(bytes(inputs)),
                    "outputs": None if outputs is None else convert(bytes(outputs)),
                }
                for request_id, inputs, outputs in rows
            ],
        )
        after = str(rows[-1][0])


def upgrade() -> None:
    op.execute(
        f"ALTER TABLE {_TABLE}"
        " ALTER COLUMN inputs TYPE bytea USING convert_to(inputs::text, 'UTF8'),"
        " ALTER COLUMN outputs TYPE bytea USING convert_to(outputs::text, 'UTF8'),"
        " ALTER COLUMN inputs SET STORAGE EXTERNAL,"
        " ALTER COLUMN outputs SET STORAGE EXTERNAL"
    )
    _rewrite_bodies(zstandard.ZstdCompressor(level=1).compress)


def downgrade() -> None:
    _rewrite_bodies(zstandard.ZstdDecompressor().decompress)
    op.execute(
        f"ALTER TABLE {_TABLE}"
        " ALTER COLUMN inputs TYPE json USING convert_from(inputs, 'UTF8')::json,"
        " ALTER COLUMN outputs TYPE json USING convert_from(outputs, 'UTF8')::json,"
        " ALTER COLUMN inputs SET STORAGE EXTENDED,"
        " ALTER COLUMN outputs SET STORAGE EXTENDED"
    )
