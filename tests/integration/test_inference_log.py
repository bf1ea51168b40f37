"""The inference log: records reach RAW DATA exactly once, through a PostgreSQL outage and restarts.

These tests stop and restart PostgreSQL, so they run their own server, not the session one.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from fixtures.postgres import free_port
from tasador.platform.postgres import EmbeddedPostgres
from tasador.serving.inference_log import InferenceLog
from tasador.storage import compressed_json
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate
from tasador.storage.raw_store import load_inference_records, write_inference_records

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FAST_RETRY: dict[str, Any] = {"retry_initial": 0.1, "retry_max": 0.5, "flush_seconds": 0.05}


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server these tests may stop and restart."""
    server = EmbeddedPostgres(
        data_dir=Path(tmp_path_factory.mktemp("pg_log")) / "data", port=free_port(), durable=False
    )
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def engine(own_postgres: EmbeddedPostgres) -> Iterator[sa.Engine]:
    own_postgres.start()  # a previous test may have left it stopped
    name = f"log_{uuid.uuid4().hex[:10]}"
    own_postgres.create_database(name)
    url = own_postgres.url(name)
    migrate(url, "raw")
    engine = make_engine(url)
    yield engine
    engine.dispose()
    own_postgres.start()
    own_postgres.drop_database(name)


def make_record(i: int) -> dict[str, Any]:
    return {
        "request_id": str(uuid.uuid4()),
        "received_at": T0 + timedelta(milliseconds=i),
        "endpoint": "/predict" if i % 3 else "/explain",
        "model_name": "tasador-price",
        "model_version": str(1 + i % 2),
        "inputs": {"bed": i % 5, "state": f'Ohio \t"{i}"\n', "house_size": 1000.5 + i},
        "outputs": {"price": 100_000.25 + i, "unknown": ["zip_code"] if i % 2 else []},
        "latency_ms": 0.5 + i / 1000,
        "status_code": 200 if i % 7 else 422,
    }


def spill_while_down(
    server: EmbeddedPostgres,
    engine: sa.Engine,
    spill: Path,
    records: list[dict[str, Any]],
    **options: Any,
) -> InferenceLog:
    """A log that took `records` while the database was down, and was closed (so spilled)."""
    server.stop()
    log = InferenceLog(engine, spill_path=spill, **FAST_RETRY, **options)
    log.start()
    for record in records:
        log.submit(record)
    log.close(timeout=10)
    return log


def stored_ids(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT request_id::text FROM inference_requests")).all()
    return [r[0] for r in rows]


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.1)


def all_stored(engine: sa.Engine, ids: set[str]) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return set(stored_ids(engine)) >= ids
        except sa.exc.OperationalError:
            return False

    return check


def assert_round_trip(engine: sa.Engine, sent: list[dict[str, Any]]) -> None:
    by_id = {str(r["request_id"]): r for r in load_inference_records(engine)}
    for record in sent:
        back = by_id[record["request_id"]]
        assert back["received_at"] == record["received_at"]
        assert back["inputs"] == record["inputs"]
        assert back["outputs"] == record["outputs"]
        assert back["latency_ms"] == record["latency_ms"]
        for key in ("endpoint", "model_name", "model_version", "status_code"):
            assert back[key] == record[key]


def test_skip_existing_writes_only_new_request_ids(engine: sa.Engine) -> None:
    records = [make_record(i) for i in range(6)]
    assert write_inference_records(engine, records[:3]) == 3
    again = [*records, records[4]]
    assert write_inference_records(engine, again, skip_existing=True) == 3
    assert write_inference_records(engine, again, skip_existing=True) == 0
    assert sorted(stored_ids(engine)) == sorted(r["request_id"] for r in records)
    assert_round_trip(engine, records)


def test_an_encoded_body_is_stored_as_the_exact_text_received(engine: sa.Engine) -> None:
    body = b'[ {"state": "Ohio\\t\\u00e9\\\\", "city":"S\xc3\xa3o"},\n  {"bed": 3.50} ]'
    record = make_record(0) | {"inputs": orjson.Fragment(body), "outputs": orjson.Fragment(b"[]")}
    assert write_inference_records(engine, [record]) == 1
    with engine.connect() as conn:
        frame = conn.execute(sa.text("SELECT inputs FROM inference_requests")).scalar_one()
    assert compressed_json.unpack_text(bytes(frame)) == body
    assert load_inference_records(engine)[0]["inputs"][0]["state"] == "Ohio\t\u00e9\\"


def test_a_time_without_a_zone_is_stored_as_utc(engine: sa.Engine) -> None:
    record = make_record(0) | {"received_at": T0.replace(tzinfo=None)}
    assert write_inference_records(engine, [record]) == 1
    assert load_inference_records(engine)[0]["received_at"] == T0


def test_submitted_records_are_all_stored_after_close(engine: sa.Engine, tmp_path: Path) -> None:
    log = InferenceLog(engine, spill_path=tmp_path / "spill.jsonl", batch_size=64)
    log.start()
    records = [make_record(i) for i in range(1_000)]

    def submit_part(part: list[dict[str, Any]]) -> None:
        for record in part:
            log.submit(record)

    threads = [threading.Thread(target=submit_part, args=(records[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()

    ids = stored_ids(engine)
    assert len(ids) == len(records)
    assert set(ids) == {r["request_id"] for r in records}
    assert log.written == len(records)
    assert log.depth() == 0
    assert log.write_failures == 0
    assert_round_trip(engine, [records[0], records[1], records[999]])


def test_prepare_runs_before_the_first_write_and_is_retried_until_it_works(
    own_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    """`tasador serve` on a new RAW DATA database: the log migrates it, even if it starts late."""
    name = f"log_{uuid.uuid4().hex[:10]}"
    own_postgres.create_database(name)
    url = own_postgres.url(name)
    engine = make_engine(url)
    attempts: list[str] = []

    def prepare() -> None:
        attempts.append("try")
        if len(attempts) < 3:  # the database "comes up" on the third attempt
            raise sa.exc.OperationalError("connect", {}, Exception("connection refused"))
        migrate(url, "raw")

    log = InferenceLog(engine, spill_path=tmp_path / "spill.jsonl", prepare=prepare, **FAST_RETRY)
    try:
        log.start()
        records = [make_record(i) for i in range(20)]
        for record in records:
            log.submit(record)
        stored = all_stored(engine, {r["request_id"] for r in records})

        def migrated_and_stored() -> bool:
            try:
                return stored()
            except sa.exc.ProgrammingError:  # no table yet: prepare has not worked so far
                return False

        wait_until(migrated_and_stored)
        assert len(attempts) == 3
        assert log.write_failures == 2
        log.close()
        assert len(attempts) == 3  # once it worked, never again
        assert log.depth() == 0
    finally:
        engine.dispose()
        own_postgres.drop_database(name)


def test_postgres_outage_during_traffic_loses_nothing(
    engine: sa.Engine,
    own_postgres: EmbeddedPostgres,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tasador.serving.inference_log")
    log = InferenceLog(engine, spill_path=tmp_path / "spill.jsonl", batch_size=100, **FAST_RETRY)
    log.start()
    records = [make_record(i) for i in range(2_000)]
    durations: list[float] = []
    errors: list[BaseException] = []

    def traffic() -> None:
        for record in records:
            started = time.perf_counter()
            try:
                log.submit(record)
            except BaseException as exc:  # the assertion below reports it
                errors.append(exc)
            durations.append(time.perf_counter() - started)
            time.sleep(0.001)

    sender = threading.Thread(target=traffic)
    sender.start()
    time.sleep(0.3)
    own_postgres.stop()
    sender.join(timeout=60)

    assert not sender.is_alive()
    assert errors == []
    assert len(durations) == len(records)
    wait_until(lambda: log.write_failures > 0)
    assert log.depth() > 0
    failures_while_down = log.write_failures
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert 1 <= len(warnings) < failures_while_down or failures_while_down == 1

    own_postgres.start()
    ids = {r["request_id"] for r in records}
    wait_until(all_stored(engine, ids))
    log.close()
    stored = stored_ids(engine)
    assert len(stored) == len(records)
    assert set(stored) == ids
    assert log.depth() == 0


def test_close_with_database_down_spills_and_a_new_log_replays_once(
    engine: sa.Engine, own_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    spill = tmp_path / "spill.jsonl"
    records = [make_record(i) for i in range(300)]
    log = spill_while_down(own_postgres, engine, spill, records, batch_size=50)
    assert log.depth() == len(records)
    assert log.written == 0
    assert sum(1 for _ in spill.open("rb")) == len(records)

    own_postgres.start()
    # As if a previous replay had committed these but crashed before recording its progress.
    assert write_inference_records(engine, records[:120]) == 120
    again = InferenceLog(engine, spill_path=spill, batch_size=50, **FAST_RETRY)
    again.start()
    ids = {r["request_id"] for r in records}
    wait_until(all_stored(engine, ids))
    wait_until(lambda: again.depth() == 0)
    again.close()
    stored = stored_ids(engine)
    assert len(stored) == len(records)
    assert set(stored) == ids
    assert_round_trip(engine, [records[0], records[7], records[299]])
    assert not spill.exists() or spill.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("spill")) in (
        [],
        ["spill.jsonl"],
    )

    third = InferenceLog(engine, spill_path=spill)
    third.start()
    third.close()
    assert third.written == 0
    assert len(stored_ids(engine)) == len(records)


def test_spilled_bodies_with_line_breaks_and_any_bytes_are_replayed_exactly_once(
    engine: sa.Engine, own_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    """Bodies are kept as the bytes received: pretty-printed JSON spans lines, and a refused body
    may not even be UTF-8; the spill file must bring every one back, byte for byte."""
    bodies = [
        orjson.dumps({"bed": 3, "state": "Ohio"}, option=orjson.OPT_INDENT_2),  # line breaks
        b'[\r\n  {"bed": 2},\r\n  {"bed": 4}\r\n]',
        b'{"bed": 3}',
        b'{"city": "\xff\xfe\n"}',  # not UTF-8 (what the log keeps of a 400)
    ]
    records = []
    for i in range(40):
        record = make_record(i)
        record["inputs"] = orjson.Fragment(bodies[i % len(bodies)])
        record["outputs"] = orjson.Fragment(bodies[(i + 1) % 3])
        records.append(record)
    spill = tmp_path / "spill.jsonl"
    spill_while_down(own_postgres, engine, spill, records)
    assert sum(1 for _ in spill.open("rb")) == len(records)  # one line a record

    own_postgres.start()
    again = InferenceLog(engine, spill_path=spill, **FAST_RETRY)
    again.start()
    wait_until(all_stored(engine, {r["request_id"] for r in records}))
    again.close()
    assert again.rejected == 0
    assert sorted(stored_ids(engine)) == sorted(r["request_id"] for r in records)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT request_id::text, inputs FROM inference_requests"))
        kept = {request_id: compressed_json.unpack_text(frame) for request_id, frame in rows}
    for i, record in enumerate(records):
        assert kept[record["request_id"]] == bodies[i % len(bodies)]


def test_memory_stays_bounded_while_the_database_is_down(
    engine: sa.Engine, own_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    own_postgres.stop()
    log = InferenceLog(
        engine, spill_path=tmp_path / "spill.jsonl", max_queue=100, batch_size=20, **FAST_RETRY
    )
    log.start()
    records = [make_record(i) for i in range(1_000)]
    most_queued = 0
    for record in records:
        log.submit(record)
        most_queued = max(most_queued, log.queued)
    assert most_queued <= 100
    assert log.depth() == len(records)

    own_postgres.start()
    ids = {r["request_id"] for r in records}
    wait_until(all_stored(engine, ids))
    log.close()
    stored = stored_ids(engine)
    assert len(stored) == len(records)
    assert set(stored) == ids
    assert log.depth() == 0


def test_invalid_records_are_dropped_without_holding_back_the_rest(
    engine: sa.Engine, tmp_path: Path
) -> None:
    log = InferenceLog(engine, spill_path=tmp_path / "spill.jsonl", **FAST_RETRY)
    log.start()
    good = [make_record(i) for i in range(10)]
    bad = [make_record(10) | {"request_id": "not-a-uuid"}, make_record(11) | {"endpoint": None}]
    for record in [*good[:5], *bad, *good[5:]]:
        log.submit(record)
    log.close()
    assert set(stored_ids(engine)) == {r["request_id"] for r in good}
    assert log.rejected == 2
    assert log.depth() == 0


def test_a_replay_interrupted_after_a_commit_resumes_without_duplicates(
    engine: sa.Engine, own_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    spill = tmp_path / "spill.jsonl"
    records = [make_record(i) for i in range(300)]
    own_postgres.stop()
    log = InferenceLog(engine, spill_path=spill, **FAST_RETRY)
    log.start()
    for record in records:
        log.submit(record)
    log.close(timeout=10)
    own_postgres.start()
    # A crashed replay: it had taken the file over, recorded progress up to record 100, and
    # committed records 100..149 without recording that.
    replay = spill.with_name("spill.jsonl.replay")
    spill.rename(replay)
    with replay.open("rb") as f:
        for _ in range(100):
            f.readline()
        spill.with_name("spill.jsonl.replay.offset").write_text(str(f.tell()))
    write_inference_records(engine, records[:150])
    # New traffic spilled after the crash, with a torn last line from the crash before it.
    spill.write_bytes(b'{"request_id": "0f0')
    own_postgres.stop()
    later = [make_record(i) for i in range(300, 310)]
    log = InferenceLog(engine, spill_path=spill, **FAST_RETRY)
    log.start()
    for record in later:
        log.submit(record)
    log.close(timeout=10)
    own_postgres.start()

    again = InferenceLog(engine, spill_path=spill, **FAST_RETRY)
    again.start()
    ids = {r["request_id"] for r in [*records, *later]}
    wait_until(all_stored(engine, ids))
    again.close()
    stored = stored_ids(engine)
    assert len(stored) == len(ids)
    assert set(stored) == ids
    assert again.rejected == 1  # the torn line
    assert again.depth() == 0
    assert not replay.exists()
