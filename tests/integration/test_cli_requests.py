"""`tasador requests`: the stored inference requests, newest first, bodies unpacked, JSON lines."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from tasador.cli import app
from tasador.settings import get_settings
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate
from tasador.storage.raw_store import write_inference_records

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _record(i: int) -> dict[str, Any]:
    return {
        "request_id": str(uuid.UUID(int=i + 1)),
        "received_at": T0 + timedelta(minutes=i),
        "endpoint": "/predict",
        "model_name": "tasador-price",
        "model_version": str(1 + i % 2),
        "inputs": orjson.Fragment(orjson.dumps([{"bed": i, "city": f"Town {i}"}])),
        "outputs": [{"price": 100_000.0 + i, "fallbacks": ["city"]}],
        "latency_ms": 1.5 + i,
        "status_code": 200,
    }


@pytest.fixture
def raw_url(make_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = make_database("cli_requests")
    migrate(url, "raw")
    engine = make_engine(url)
    try:
        assert write_inference_records(engine, [_record(i) for i in range(5)]) == 5
    finally:
        engine.dispose()
    monkeypatch.setenv("TASADOR_DB_RAW_URL", url)
    monkeypatch.setenv("TASADOR_DB_CLEAN_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _lines(args: list[str]) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["requests", *args])
    assert result.exit_code == 0, result.output
    return [orjson.loads(line) for line in result.stdout.splitlines()]


def test_the_newest_requests_come_first_with_their_bodies(raw_url: str) -> None:
    lines = _lines(["--limit", "2"])
    assert [line["request_id"] for line in lines] == [str(uuid.UUID(int=5)), str(uuid.UUID(int=4))]
    assert lines[0]["inputs"] == [{"bed": 4, "city": "Town 4"}]
    assert lines[0]["outputs"] == [{"price": 100_004.0, "fallbacks": ["city"]}]
    assert lines[0]["model_version"] == "1"
    assert datetime.fromisoformat(lines[0]["received_at"]) == T0 + timedelta(minutes=4)


def test_since_keeps_only_the_later_requests(raw_url: str) -> None:
    lines = _lines(["--since", "2026-03-01T12:02:00"])  # no zone: UTC
    assert [line["inputs"][0]["bed"] for line in lines] == [4, 3]


def test_a_bad_time_is_refused_with_a_message(raw_url: str) -> None:
    result = CliRunner().invoke(app, ["requests", "--since", "yesterday"])
    assert result.exit_code == 2
    assert "since" in result.output
