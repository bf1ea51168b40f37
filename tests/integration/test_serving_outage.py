"""PostgreSQL stopped during traffic: no request fails, and every request is in RAW DATA after it
comes back. Runs its own PostgreSQL server, since it stops it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import xgboost as xgb

from fixtures.http import running_server
from fixtures.postgres import free_port
from tasador.platform.postgres import EmbeddedPostgres
from tasador.serving.app import create_app
from tasador.serving.inference_log import InferenceLog
from tasador.serving.model_holder import ModelHolder, serve_model
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate
from tasador.storage.raw_store import load_inference_records
from tasador.training.features import build_features, fit_features
from tasador.training.synthetic import make_listings

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
