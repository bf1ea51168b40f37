"""The history endpoints with a long history: 300 batches (each with a real drift report and a
decision) and 300 registered versions. Measures the read the API does when something changed
(CLEAN DATA and the registry, once) and the answers it gives meanwhile (from that read).

No peer: the figures are for docs/serving-performance.md, the answers must be well under a second.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from fixtures.http import running_server
from fixtures.postgres import free_port
from tasador.drift.profile import profile_frame
from tasador.drift.report import DRIFT_CATEGORICAL, DRIFT_NUMERIC, detect_drift
from tasador.platform.mlflow_server import MlflowServer
from tasador.platform.postgres import EmbeddedPostgres
from tasador.registry.aliases import PRODUCTION
from tasador.registry.models import EVAL_PREFIX, TAG_BATCH, ensure_experiment
from tasador.serving.app import create_app
from tasador.serving.history import HistoryReader, read_history
from tasador.serving.model_holder import ModelHolder
from tasador.storage import clean_store
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate
from tasador.storage.records import BatchStatus, DecisionRecord
from tasador.training.synthetic import make_listings

N = 300
MODEL = "bench-history"


def _fill(clean_url: str, client: MlflowClient) -> None:
    """N batches with a drift report and a decision each, and N versions with their metrics."""
    data = make_listings(4_000, seed=5)
    report = detect_drift(
        profile_frame(data.iloc[:2000], DRIFT_NUMERIC, DRIFT_CATEGORICAL), data.iloc[2000:]
    ).to_dict()
    engine = make_engine(clean_url)
    experiment = ensure_experiment(client, "bench-history")
    client.create_registered_model(MODEL)
    try:
        for i in range(1, N + 1):
            clean_store.register_batch(
                engine, batch_id=i, source="bench", group_number=1, day=None,
                batch_number=i, received=1000,
            )  # fmt: skip
            clean_store.store_drift_report(
                engine, i, reference_model_version=str(i - 1) if i > 1 else None,
                verdict=bool(report["verdict"]), reason=str(report["reason"]), report=report,
            )  # fmt: skip
            run = client.create_run(experiment, tags={TAG_BATCH: str(i)})
            metrics = {"rmse_log": 0.3 + i / 1e4, "r2_log": 0.7, "mae": 5e4, "rmse": 9e4}
            now = int(time.time() * 1000)
            client.log_batch(
                run.info.run_id,
                metrics=[Metric(EVAL_PREFIX + k, v, now, 0) for k, v in metrics.items()],
                params=[Param("train_rows", str(1000 * i))],
            )
            client.set_terminated(run.info.run_id)
            version = client.create_model_version(
                MODEL, f"{run.info.artifact_uri}/model", run.info.run_id, tags={TAG_BATCH: str(i)}
            )
            promoted = i % 3 != 0
            clean_store.store_decision(
                engine,
                DecisionRecord(
                    batch_id=i, action="train", trigger="drift", reason="data drift",
                    model_version=str(version.version), promoted=promoted,
                    promotion_reason="beats the champion" if promoted else "does not beat it",
                    champion_version=str(i - 1) if i > 1 else None,
                    challenger_metrics=metrics, champion_metrics=metrics,
                ),
                status=BatchStatus.DONE,
            )  # fmt: skip
            if promoted:
                client.set_registered_model_alias(MODEL, PRODUCTION, str(version.version))
    finally:
        engine.dispose()


def _median_ms(call: Any, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def run(server: EmbeddedPostgres, tmp: Path) -> list[dict[str, Any]]:
    """Fill a history of N batches and versions, then time the read and the answers."""
    for name in ("bench_hist_clean", "bench_hist_mlflow"):
        server.drop_database(name)
        server.create_database(name)
    clean_url = server.url("bench_hist_clean")
    migrate(clean_url, "clean")
    mlflow_server = MlflowServer(
        backend_uri=server.url("bench_hist_mlflow"), artifacts_destination=str(tmp / "hist-art"),
        port=free_port(), log_file=tmp / "hist-mlflow.log",
    )  # fmt: skip
    mlflow_server.start(timeout=180)
    rows: list[dict[str, Any]] = []
    clean = make_engine(clean_url)
    try:
        client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
        _fill(clean_url, client)
        label = f"history: {N} batches, {N} versions"
        cold, worst = _median_ms(lambda: read_history(clean, client, MODEL), 5)
        rows.append(
            {"benchmark": label, "impl": "read after a change", "seconds": cold / 1000,
             "note": f"median of 5, max {worst:.0f} ms"}
        )  # fmt: skip
        app = create_app(
            holder=ModelHolder(client, MODEL, poll_seconds=3600, explain_threads=1),
            inference_log=None, model_name=MODEL, reload_token=None, max_batch=10,
            max_body_bytes=10_000, history=HistoryReader(clean, client, MODEL),
        )  # fmt: skip
        with running_server(app) as url, httpx.Client(base_url=url, timeout=60) as http:
            http.get("/models").raise_for_status()  # the first read
            for path in ("/models?limit=1000", "/batches?limit=1000", f"/batches/{N // 2}"):
                median, worst = _median_ms(lambda p=path: http.get(p).raise_for_status(), 30)
                rows.append(
                    {"benchmark": label, "impl": f"GET {path}", "seconds": median / 1000,
                     "note": f"median of 30, max {worst:.0f} ms"}
                )  # fmt: skip
    finally:
        clean.dispose()
        mlflow_server.stop()
    return rows
