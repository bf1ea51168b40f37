"""PostgreSQL stopped during traffic: no request fails, and every request is in RAW DATA after it
comes back. Runs its own PostgreSQL server, since it stops it."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest
import sqlalchemy as sa
import xgboost as xgb
from mlflow import MlflowClient

from fixtures.http import running_server
from fixtures.postgres import free_port
from tasador.platform.mlflow_server import MlflowServer
from tasador.platform.postgres import EmbeddedPostgres
from tasador.registry.aliases import PRODUCTION
from tasador.registry.models import log_and_register
from tasador.serving.app import create_app
from tasador.serving.inference_log import InferenceLog
from tasador.serving.model_holder import ModelHolder, serve_model
from tasador.storage import compressed_json
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate
from tasador.storage.raw_store import load_inference_records
from tasador.training.features import build_features, fit_features
from tasador.training.metrics import evaluate
from tasador.training.synthetic import make_listings
from tasador.training.train import predict_price, tune_and_train

pytestmark = pytest.mark.integration

LISTING = {"bed": 3, "bath": 2, "acre_lot": 0.25, "house_size": 1600, "state": "Alabama",
           "status": "sold"}  # fmt: skip


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(data_dir=tmp_path / "pg", port=free_port(), durable=False)
    server.start()
    yield server
    server.destroy()


def test_database_outage_loses_no_request(own_postgres: EmbeddedPostgres, tmp_path: Path) -> None:
    frame = make_listings(500, seed=4)
    spec = fit_features(frame)
    booster = xgb.train(
        {"max_depth": 3},
        xgb.DMatrix(build_features(frame, spec), label=np.log(frame["price"].to_numpy())),
        10,
    )
    name = f"raw_{uuid.uuid4().hex[:8]}"
    own_postgres.create_database(name)
    url_db = own_postgres.url(name)
    migrate(url_db, "raw")
    engine = make_engine(url_db)
    log = InferenceLog(
        engine, spill_path=tmp_path / "spill.jsonl", flush_seconds=0.05, retry_initial=0.1,
        retry_max=0.5,
    )  # fmt: skip
    # no registry here: the model is swapped in by hand, the poller only records its failures
    holder = ModelHolder(None, "outage", poll_seconds=3600)  # type: ignore[arg-type]
    holder.swap(serve_model(name="outage", version="7", run_id="r", booster=booster, spec=spec))
    app = create_app(
        holder=holder,
        inference_log=log,
        model_name="outage",
        reload_token=None,
        max_batch=10,
        max_body_bytes=100_000,
    )
    ids: list[str] = []
    with running_server(app) as url, httpx.Client(base_url=url) as http:

        def send(n: int) -> None:
            for i in range(n):
                answer = http.post("/predict", json={**LISTING, "bed": 1 + i % 10})
                assert answer.status_code == 200
                ids.append(answer.json()["request_id"])

        send(20)
        own_postgres.stop()
        send(50)  # the database is down: answers go on
        deadline = time.monotonic() + 30
        while log.write_failures == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log.write_failures > 0  # it did try, and failed
        metrics = http.get("/metrics").text
        assert "tasador_inference_log_write_failures_total" in metrics
        assert "tasador_inference_log_queue_depth" in metrics
        send(10)
        own_postgres.start()
        send(20)
    # clean shutdown: the log is flushed
    stored = {str(r["request_id"]) for r in load_inference_records(engine)}
    engine.dispose()
    assert stored == set(ids)
    assert len(ids) == 100


def test_database_and_registry_outages_under_load_lose_nothing(
    own_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    """Clients send for a few seconds (pretty-printed and compact bodies, single listings and
    lists) while PostgreSQL is stopped and restarted and the MLflow server is killed and
    restarted: no request fails, and every one is stored exactly once, its body as sent."""
    data = make_listings(600, seed=12)
    trained = tune_and_train(data[~data["is_holdout"]], n_trials=1, timeout_seconds=60, seed=3)
    for database in ("raw_load", "mlflow_load"):
        own_postgres.create_database(database)
    raw_url = own_postgres.url("raw_load")
    migrate(raw_url, "raw")
    mlflow = MlflowServer(own_postgres.url("mlflow_load"), str(tmp_path / "art"), port=free_port())
    mlflow.start()
    engine = make_engine(raw_url)
    try:
        client = MlflowClient(tracking_uri=mlflow.url, registry_uri=mlflow.url)
        holdout = data[data["is_holdout"]]
        ref = log_and_register(
            client, model_name="load", experiment="load", trained=trained,
            evaluation=evaluate(holdout["price"].to_numpy(),
                                predict_price(trained.booster, trained.spec, holdout)),
            training_profile={}, batch_id=1, training_window="1", extra_tags={},
            example_frame=data,
        )  # fmt: skip
        client.set_registered_model_alias("load", PRODUCTION, ref.version)
        log = InferenceLog(
            engine, spill_path=tmp_path / "spill.jsonl", flush_seconds=0.05, retry_initial=0.1,
            retry_max=0.5,
        )  # fmt: skip
        app = create_app(
            holder=ModelHolder(client, "load", poll_seconds=0.2),
            inference_log=log,
            model_name="load",
            reload_token=None,
            max_batch=10,
            max_body_bytes=100_000,
        )
        sent: dict[str, bytes] = {}
        failures: list[str] = []
        stop = threading.Event()
        with running_server(app) as url:
            deadline = time.monotonic() + 60
            while httpx.get(f"{url}/ready").status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.1)

            def client_loop(worker: int) -> None:
                with httpx.Client(base_url=url, timeout=30) as http:
                    i = 0
                    while not stop.is_set() and i < 2_000:
                        body: object = {**LISTING, "bed": 1 + (worker + i) % 10}
                        if i % 3 == 2:
                            body = [body, {**LISTING, "bath": 1 + i % 4}]
                        option = orjson.OPT_INDENT_2 if (worker + i) % 2 else 0
                        raw = orjson.dumps(body, option=option)
                        answer = http.post(
                            "/predict", content=raw, headers={"content-type": "application/json"}
                        )
                        if answer.status_code != 200:
                            failures.append(f"{answer.status_code} {answer.text[:200]}")
                        else:
                            sent[answer.json()["request_id"]] = raw
                        i += 1

            workers = [threading.Thread(target=client_loop, args=(w,)) for w in range(6)]
            for worker in workers:
                worker.start()
            time.sleep(1.0)
            own_postgres.stop()  # RAW DATA down under load
            time.sleep(1.5)
            mlflow_pid = mlflow._process.pid  # type: ignore[union-attr]
            os.killpg(mlflow_pid, signal.SIGKILL)  # the registry dies too
            time.sleep(1.5)
            own_postgres.start()
            mlflow._process = None
            mlflow.start()
            time.sleep(1.5)
            stop.set()
            for worker in workers:
                worker.join(60)
        assert failures == []
        assert len(sent) > 100
        with engine.connect() as conn:
            counts = conn.execute(
                sa.text(
                    "SELECT request_id::text, count(*), min(inputs) FROM inference_requests "
                    "GROUP BY request_id"
                )
            ).all()
        stored = {request_id: (n, frame) for request_id, n, frame in counts}
        assert set(stored) == set(sent)
        assert {n for n, _ in stored.values()} == {1}  # exactly once
        for request_id, raw in sent.items():
            assert compressed_json.unpack_text(stored[request_id][1]) == raw
    finally:
        engine.dispose()
        mlflow.stop()
