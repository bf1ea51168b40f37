"""The inference log's large bodies are stored lz4-compressed where the server has lz4.

Two real servers: the embedded wheel's (built without lz4: nothing changes) and this machine's
system PostgreSQL (`pg_config` on PATH, Debian's build has lz4).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from fixtures.postgres import free_port
from tasador.platform.postgres import EmbeddedPostgres
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate
from tasador.storage.migrations.raw.versions.raw_0003_inference_lz4 import HAS_LZ4
from tasador.storage.raw_store import load_inference_records, write_inference_records

pytestmark = pytest.mark.integration


def _system_bin_dir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
    bin_dir = Path(out.stdout.strip())
    return bin_dir if (bin_dir / "postgres").exists() else None


@pytest.fixture(scope="module")
def system_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    bin_dir = _system_bin_dir()
    if bin_dir is None:
        pytest.skip("no system PostgreSQL (pg_config --bindir) on this machine")
    server = EmbeddedPostgres(
        data_dir=Path(tmp_path_factory.mktemp("pg_sys")) / "data",
        port=free_port(),
        durable=False,
        bin_dir=bin_dir,
    )
    server.start()
    yield server
    server.destroy()


LISTINGS = [
        {"bed": 3, "bath": 2.0, "acre_lot": 0.25, "house_size": 1500 + i, "state": "Ohio",
         "status": "for_sale", "city": f"Town {i % 97}", "zip_code": f"{43000 + i % 500:05d}"}
    for i in range(1_000)
]  # fmt: skip


def _large_record() -> dict[str, object]:
    return {
        "request_id": "6f1c8a4e-5a7b-4c55-9d55-0d8a6c1f2b3e",
        "received_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "endpoint": "/predict",
        "model_name": "tasador-price",
        "model_version": "1",
        "inputs": orjson.Fragment(orjson.dumps(LISTINGS)),
        "outputs": [{"price": 200_000.5 + i, "fallbacks": []} for i in range(1_000)],
        "latency_ms": 9.5,
        "status_code": 200,
    }


def _stored_compression(server: EmbeddedPostgres, name: str) -> tuple[bool, set[str | None]]:
    """(the server has lz4, how the record's two bodies were compressed), after migrating."""
    server.create_database(name)
    url = server.url(name)
    migrate(url, "raw")
    engine = make_engine(url)
    try:
        record = _large_record()
        assert write_inference_records(engine, [record]) == 1
        back = load_inference_records(engine)[0]
        assert back["inputs"] == LISTINGS
        assert back["outputs"] == record["outputs"]
        with engine.connect() as conn:
            has_lz4 = bool(conn.execute(sa.text(HAS_LZ4)).scalar())
            methods = conn.execute(
                sa.text(
                    "SELECT pg_column_compression(inputs), pg_column_compression(outputs)"
                    " FROM inference_requests"
                )
            ).one()
    finally:
        engine.dispose()
    return has_lz4, set(methods)


def test_a_server_with_lz4_stores_the_bodies_with_lz4(system_postgres: EmbeddedPostgres) -> None:
    has_lz4, methods = _stored_compression(system_postgres, "raw_lz4")
    if not has_lz4:
        pytest.skip("this machine's system PostgreSQL was built without lz4")
    assert methods == {"lz4"}


def test_a_server_without_lz4_keeps_its_default(postgres: EmbeddedPostgres) -> None:
    has_lz4, methods = _stored_compression(postgres, "raw_pglz")
    assert methods == ({"lz4"} if has_lz4 else {"pglz"})
