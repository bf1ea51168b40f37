"""The inference log's bodies are stored as zstd frames that PostgreSQL keeps as they are.

On two real servers: the embedded wheel's (PostgreSQL 18, built without lz4) and this machine's
system PostgreSQL (`pg_config` on PATH), so the whole migration chain, raw_0003's lz4 branch
included, runs on both. Also: rows stored as `json` before raw_0004 are packed by it, and come
back as they were on a downgrade.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from alembic import command

from fixtures.postgres import free_port
from tasador.platform.postgres import EmbeddedPostgres
from tasador.storage import compressed_json
from tasador.storage.engine import make_engine
from tasador.storage.migrate import alembic_config, migrate
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
BODY = orjson.dumps(LISTINGS)


def _record(request_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "received_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "endpoint": "/predict",
        "model_name": "tasador-price",
        "model_version": "1",
        "inputs": orjson.Fragment(BODY),
        "outputs": [{"price": 200_000.5 + i, "fallbacks": []} for i in range(1_000)],
        "latency_ms": 9.5,
        "status_code": 200,
    } | changes


def _check_large_body_stored_packed(server: EmbeddedPostgres, name: str) -> None:
    server.create_database(name)
    url = server.url(name)
    migrate(url, "raw")
    engine = make_engine(url)
    try:
        record = _record("6f1c8a4e-5a7b-4c55-9d55-0d8a6c1f2b3e")
        assert write_inference_records(engine, [record]) == 1
        back = load_inference_records(engine)[0]
        assert back["inputs"] == LISTINGS
        assert back["outputs"] == record["outputs"]
        with engine.connect() as conn:
            frame, size, method = conn.execute(
                sa.text(
                    "SELECT inputs, pg_column_size(inputs), pg_column_compression(inputs)"
                    " FROM inference_requests"
                )
            ).one()
    finally:
        engine.dispose()
    assert compressed_json.unpack_text(bytes(frame)) == BODY  # the bytes received, exactly
    assert size < len(BODY) / 5  # zstd packs a listing body about ten times
    assert method is None  # and PostgreSQL does not compress the frame a second time


def test_the_wheel_server_stores_a_large_body_packed(postgres: EmbeddedPostgres) -> None:
    _check_large_body_stored_packed(postgres, "raw_bodies_wheel")


def test_the_system_server_stores_a_large_body_packed(system_postgres: EmbeddedPostgres) -> None:
    _check_large_body_stored_packed(system_postgres, "raw_bodies_system")


# Bodies as stored in `json` before raw_0004: texts kept exactly as written, a NULL answer.
OLD_BODIES = [
    (BODY.decode(), '[{"price": 1.5, "fallbacks": ["city"]}]'),
    ('[ {"state": "Ohio\\t\\u00e9\\\\", "city":"S\u00e3o"},\n  {"bed": 3.50} ]', None),
    ('{"bed": 2}', '{"price": 99000.0}'),
]


def _raw_alembic(engine: sa.Engine, direction: str, revision: str) -> None:
    with engine.begin() as conn:
        getattr(command, direction)(alembic_config("raw", conn), revision)


def test_raw_0004_packs_the_stored_json_bodies_and_gives_them_back(
    postgres: EmbeddedPostgres,
) -> None:
    postgres.create_database("raw_0004_data")
    engine = make_engine(postgres.url("raw_0004_data"))
    ids = sorted(str(uuid.uuid4()) for _ in OLD_BODIES)
    try:
        _raw_alembic(engine, "upgrade", "raw_0003")
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO inference_requests (request_id, received_at, endpoint, inputs,"
                    " outputs) VALUES (:id, now(), '/predict', :inputs, :outputs)"
                ),
                [
                    {"id": i, "inputs": inputs, "outputs": outputs}
                    for i, (inputs, outputs) in zip(ids, OLD_BODIES, strict=True)
                ],
            )
        _raw_alembic(engine, "upgrade", "head")  # raw_0004, and what came after it

        by_id = {str(r["request_id"]): r for r in load_inference_records(engine)}
        assert all(r["what_if"] is False for r in by_id.values())  # raw_0005's default
        for i, (inputs, outputs) in zip(ids, OLD_BODIES, strict=True):
            assert by_id[i]["inputs"] == orjson.loads(inputs)
            assert by_id[i]["outputs"] == (None if outputs is None else orjson.loads(outputs))
        with engine.connect() as conn:
            frames = conn.execute(
                sa.text("SELECT inputs FROM inference_requests ORDER BY request_id")
            ).scalars()
            assert [compressed_json.unpack_text(bytes(f)).decode() for f in frames] == [
                inputs for inputs, _ in OLD_BODIES
            ]

        _raw_alembic(engine, "downgrade", "raw_0003")
        with engine.connect() as conn:
            texts = conn.execute(
                sa.text("SELECT inputs::text, outputs::text FROM inference_requests ORDER BY 1")
            ).all()
        assert sorted(texts, key=lambda t: t[0]) == sorted(OLD_BODIES, key=lambda t: t[0])
    finally:
        engine.dispose()
