"""RAW DATA: the inference log marks what-if requests (hypothetical listings, like the UI's
comparison of one home in every state), so the live drift check can leave them out.

Revision ID: raw_0005
Revises: raw_0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "raw_0005"
down_revision: str | None = "raw_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "inference_requests",
        sa.Column("what_if", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("inference_requests", "what_if")
