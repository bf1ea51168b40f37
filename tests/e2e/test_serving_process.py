"""`tasador serve` as a real process next to the real loop: it follows every promotion the loop
makes while requests keep coming, fails none of them, and logs every one to RAW DATA."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures.http import free_port
from tasador.datasource.simulator import create_simulator_app
from tasador.pipeline import run_loop
from tasador.registry.aliases import get_production
from tasador.storage.engine import make_engine
from tasador.storage.raw_store import load_inference_records

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LISTING: dict[str, Any] = {
    "bed": 3,
    "bath": 2,
    "acre_lot": 0.25,
    "house_size": 1600,
    "state": "Texas",
    "status": "for_sale",
    "city": "Austin",
    "zip_code": "78701",
}


def wait_until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.1)


def test_served_process_follows_the_loops_promotions_under_load(
    make_world: Callable[..., Any], test_batches: list[Any], tmp_path: Path
) -> None:
    # the first four batches: promotions to follow under load and, on these batches, a rejected
    # challenger that must never be served (batch 3); the last two would only add promotions
    world = make_world(app=create_simulator_app(test_batches[:4]))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **world.env(),
        "TASADOR_STATE_DIR": str(tmp_path / "state"),
        "TASADOR_SERVING_PORT": str(port),
        "TASADOR_SERVING_POLL_SECONDS": "0.5",
        "TASADOR_SERVING_RELOAD_TOKEN": "e2e-token",
    }
    log_file = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "tasador", "serve"],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    answers: list[tuple[int, str | None]] = []
    errors: list[str] = []
    done = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for _ in range(20_000):  # bounded; stops when the loop is over
                if done.is_set():
                    return
                try:
                    r = http.post("/predict", json=LISTING)
                    answers.append((r.status_code, r.json().get("model_version")))
                except httpx.HTTPError as err:
                    errors.append(repr(err))
                time.sleep(0.005)

    try:
        wait_until(lambda: httpx.get(f"{url}/health").status_code == 200, 120)
        assert httpx.get(f"{url}/ready").status_code == 503  # nothing promoted yet
        loader = threading.Thread(target=load)
        loader.start()
        stores = world.stores()
        with world.client() as client:
            results = run_loop(client, stores, world.config)
        production = get_production(stores.mlflow, world.config.model_name)
        assert production is not None
        promoted = [r.model_version for r in results if r.promoted]
        assert promoted[-1] == production.version
        wait_until(
            lambda: httpx.get(f"{url}/model").json().get("version") == production.version, 60
        )
        time.sleep(0.5)  # a few more answers from the last version
        done.set()
        loader.join(60)
        info = httpx.get(f"{url}/model").json()
    finally:
        done.set()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        finally:
            if server.poll() is None:
                server.kill()
            log_file.close()

    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal it caught
    assert server.returncode in (0, -signal.SIGTERM), (tmp_path / "serve.log").read_text()[-3000:]
    assert errors == []
    statuses = {status for status, _ in answers}
    assert statuses <= {200, 503}
    first_ok = next(i for i, (status, _) in enumerate(answers) if status == 200)
    assert {status for status, _ in answers[first_ok:]} == {200}  # ready once, ready for good
    versions = [int(v) for status, v in answers if status == 200 and v is not None]
    assert versions == sorted(versions)  # only ever newer models
    assert {str(v) for v in versions} <= set(promoted)
    assert str(versions[-1]) == production.version
    assert info["reload"]["successes"] >= len(set(versions))
    assert info["reload"]["failures"] == 0

    # the clean shutdown flushed the inference log: every request is in RAW DATA
    records = load_inference_records(world.stores().raw)
    assert len(records) == len(answers)
    assert sorted(r["status_code"] for r in records) == sorted(s for s, _ in answers)
    by_version: dict[str | None, int] = {}
    for r in records:
        by_version[r["model_version"]] = by_version.get(r["model_version"], 0) + 1
    expected: dict[str | None, int] = {}
    for status, v in answers:
        key = v if status == 200 else None
        expected[key] = expected.get(key, 0) + 1
    assert by_version == expected


def test_served_process_migrates_a_new_raw_database_and_logs_requests_with_no_model(
    make_database: Callable[[str], str], tmp_path: Path
) -> None:
    """`tasador serve` on its own: a new RAW DATA database, and a registry that is not there."""
    raw_url = make_database("serve")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TASADOR_DB_RAW_URL": raw_url,
        "TASADOR_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",  # nobody listens
        "TASADOR_STATE_DIR": str(tmp_path / "state"),
        "TASADOR_SERVING_PORT": str(port),
    }
    log_file = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "tasador", "serve"],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: httpx.get(f"{url}/health").status_code == 200, 120)
        answer = httpx.post(f"{url}/predict", json=LISTING)
        assert answer.status_code == 503
        assert "no model loaded" in answer.json()["detail"]
        # the registry is down: the failed check is reported (after the client's own retries)
        wait_until(lambda: httpx.get(f"{url}/model").json()["reload"]["failures"] >= 1, 120)
        reload_status = httpx.get(f"{url}/model").json()["reload"]
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        finally:
            if server.poll() is None:
                server.kill()
            log_file.close()
    assert server.returncode in (0, -signal.SIGTERM), (tmp_path / "serve.log").read_text()[-3000:]
    assert reload_status["last_error"]
    engine = make_engine(raw_url)
    try:
        records = load_inference_records(engine)
    finally:
        engine.dispose()
    assert [(r["endpoint"], r["status_code"], r["model_version"]) for r in records] == [
        ("/predict", 503, None)
    ]
    assert records[0]["inputs"] == LISTING
