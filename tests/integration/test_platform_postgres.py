"""The embedded PostgreSQL server starts, serves SQL, restarts on the same data, and stops."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from fixtures.postgres import free_port
from tasador.platform.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration


def test_server_keeps_data_across_restart(tmp_path: Path) -> None:
    server = EmbeddedPostgres(data_dir=tmp_path / "data", port=free_port(), durable=False)
    server.start()
    try:
        server.create_database("keep")
        server.create_database("keep")  # idempotent
        with psycopg.connect(server.dsn("keep"), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (x int)")
            conn.execute("INSERT INTO t VALUES (41), (1)")
        server.stop()
        assert not server.is_running()
        server.start()
        with psycopg.connect(server.dsn("keep")) as conn:
            row = conn.execute("SELECT sum(x) FROM t").fetchone()
        assert row == (42,)
    finally:
        server.destroy()
    assert not (tmp_path / "data").exists()


def test_make_database_gives_isolated_databases(make_database) -> None:
    first, second = make_database("a"), make_database("b")
    assert first != second
    dsn = first.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0].startswith("a_")
