"""CLEAN DATA: which batch each orchestrator run took (so a re-run takes the same one).

Revision ID: clean_0002
Revises: clean_0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "clean_0002"
down_revision: str | None = "clean_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_batches",
        sa.Column("run_key", sa.Text, nullable=False),
        sa.Column("batch_id", sa.BigInteger, nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
        ),
        sa.PrimaryKeyConstraint("run_key", name="pk_run_batches"),
    )


def downgrade() -> None:
    op.drop_table("run_batches")
