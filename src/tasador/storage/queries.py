"""Small queries shared by the RAW and CLEAN stores."""

from __future__ import annotations

import sqlalchemy as sa


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
