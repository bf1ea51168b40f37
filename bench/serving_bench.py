"""Serving: the same production model behind `mlflow models serve` (pyfunc) and behind tasador.

One 300-tree, depth-8 XGBoost model (the project's reference model), trained on the project's
synthetic listings, is logged and registered the way the pipeline does it and given the
`production` alias. Then, in the same run and with one worker each:

- single-listing requests at concurrency 1 and 16 (requests/s, p50, p99), by `wrk` (Debian package
  `wrk`, which `make bench` installs where it can); without it an asyncio httpx client on the same
  cores measures itself more than the servers, so its rows are marked `client_bound` and no target
  is judged from them;
- 1,000-listing requests one after another (rows/s), and from two clients at once (the
  machine's cores; for information, no target);
- `/explain` latency against XGBoost's own in-process `pred_contribs` for the same row (one call);
- the in-process floor: `inplace_predict` on 1 row with one thread and on 1,000 rows with
  XGBoost's default threads, as the server predicts them (`ServedModel.predict`);
- for 1,000 listings, also the server's own code for the request run in this process with no
  HTTP and no inference log (decode and check, features, booster, answer): what any server built
  on that code could reach, and how much of the gap to the floor is the server's.

Both servers run on this machine next to the load generator; on 2 cores they share them. Each
comparison runs in 6 short rounds that take turns (tasador, peer, floor, tasador, ...), and reports
the median of each figure: this machine's speed drifts by up to 2x over seconds, and short turns
spread its slow and fast moments over every side.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import xgboost as xgb
from mlflow import MlflowClient

from tasador import schema
from tasador.datasource.generator import generate_listings
from tasador.drift.profile import profile_frame
from tasador.drift.report import DRIFT_CATEGORICAL, DRIFT_NUMERIC
from tasador.ingestion.cleaning import clean_listings
from tasador.ingestion.raw import raw_frame
from tasador.platform.local import wait_for_http
from tasador.platform.mlflow_server import MlflowServer
from tasador.platform.postgres import EmbeddedPostgres
from tasador.registry.models import log_and_register
from tasador.serving.columnar import listing_columns_fast
from tasador.serving.model_holder import ONE_BLOCK_ROWS, serve_model
from tasador.serving.responses import priced
from tasador.storage.migrate import migrate
from tasador.training.features import build_features, fit_features
from tasador.training.metrics import evaluate
from tasador.training.train import TrainedModel, predict_price

MODEL_NAME = "tasador-bench-serving"
ROUNDS = 6  # alternating rounds per comparison
SETTLE_SECONDS = 1.0  # pause before each round
REQUEST_FIELDS = (
    "bed", "bath", "acre_lot", "house_size", "state", "status", "city", "zip_code",
    "brokered_by", "prev_sold_date",
)  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def train_reference_model(rows: int = 60_000, seed: int = 3) -> tuple[TrainedModel, pd.DataFrame]:
    """The reference model: 300 trees of depth 8 on clean synthetic listings."""
    raw = generate_listings(rows, seed)
    records = raw.astype(object).where(raw.notna(), None).to_dict("records")
    clean = clean_listings(raw_frame(records)).clean
    spec = fit_features(clean)
    x = build_features(clean, spec)
    y = np.log(clean[schema.TARGET].to_numpy(dtype=float))
    params = {"max_depth": 8, "eta": 0.08, "tree_method": "hist", "nthread": 2, "seed": seed}
    started = time.perf_counter()
    booster = xgb.train(params, xgb.DMatrix(x, label=y, missing=np.nan), num_boost_round=300)
    seconds = time.perf_counter() - started
    fitted = evaluate(clean[schema.TARGET].to_numpy(), np.exp(booster.inplace_predict(x)))
    trained = TrainedModel(
        booster=booster, spec=spec, params=params, best_iteration=299, n_trials=0,
        train_rows=len(clean), tuning_seconds=seconds, validation=fitted,
    )  # fmt: skip
    return trained, clean


def complete(clean: pd.DataFrame) -> pd.DataFrame:
    """Rows with the four sizes the inference API requires."""
    return clean.dropna(subset=["bed", "bath", "acre_lot", "house_size"])


def request_bodies(clean: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    """Listings as a client sends them (JSON-safe), the first `n` clean rows."""
    frame = complete(clean).head(n)
    out = []
    for row in frame.to_dict("records"):
        body: dict[str, Any] = {}
        for name in REQUEST_FIELDS:
            value = row[name]
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                continue
            if name == "prev_sold_date":
                value = pd.Timestamp(value).date().isoformat()
            elif isinstance(value, np.integer | int):
                value = int(value)
            elif isinstance(value, np.floating | float):
                value = float(value)
            body[name] = value
        out.append(body)
    return out


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def wrk_load(url: str, body: bytes, connections: int, seconds: int) -> dict[str, float]:
    """Requests/s and latency percentiles (ms) from wrk with a POST body."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(body.decode())}\n"
        )
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name,
             url],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            raise RuntimeError(f"wrk printed no {label} latency:\n{out}")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps, "p50": ms("50%"), "p99": ms("99%"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }  # fmt: skip


async def _httpx_load(url: str, body: bytes, connections: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += response.status_code >= 300

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return {
        "rps": len(latencies) / elapsed, "p50": _percentile(latencies, 50),
        "p99": _percentile(latencies, 99), "errors": float(errors),
    }  # fmt: skip


def load(url: str, body: bytes, connections: int, seconds: int) -> dict[str, float]:
    """Drive `url` with `connections` concurrent POSTs of `body` for `seconds`."""
    if shutil.which("wrk"):
        return wrk_load(url, body, connections, seconds)
    return asyncio.run(_httpx_load(url, body, connections, seconds))


def interleaved(
    measures: dict[str, Callable[[], dict[str, float]]], rounds: int = ROUNDS
) -> dict[str, dict[str, float]]:
    """Each measure run `rounds` times, taking turns; per measure, the median of each figure
    (errors: the total). Taking turns spreads the machine's slow and fast moments over all."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            time.sleep(SETTLE_SECONDS)  # the previous server finishes what it still holds
            runs[name].append(measure())
    out: dict[str, dict[str, float]] = {}
    for name, results in runs.items():
        out[name] = {
            key: (sum if key == "errors" else statistics.median)([r[key] for r in results])
            for key in results[0]
        }
    return out


def in_process_calls(work: Any, repeats: int = 300) -> dict[str, float]:
    """p50 and mean (ms) of an in-process call made `repeats` times in a row."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return {"p50": statistics.median(times), "mean": statistics.fmean(times)}


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        # `mlflow models serve` execs `uvicorn` by name: put this environment's scripts first
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
             **env},
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, 15)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)


def run(server: EmbeddedPostgres, tmp: Path, *, seconds: int = 3) -> list[dict[str, Any]]:
    """Serve one model both ways and measure; returns rows for the bench table."""
    for name in ("bench_srv_mlflow", "bench_srv_raw"):
        server.drop_database(name)
        server.create_database(name)
    migrate(server.url("bench_srv_raw"), "raw")
    mlflow_server = MlflowServer(
        backend_uri=server.url("bench_srv_mlflow"), artifacts_destination=str(tmp / "srv-art"),
        port=_free_port(), log_file=tmp / "srv-mlflow.log",
    )  # fmt: skip
    mlflow_server.start(timeout=180)
    peer = ours = None
    try:
        trained, clean = train_reference_model()
        client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
        evaluation = evaluate(
            clean[schema.TARGET].to_numpy(), predict_price(trained.booster, trained.spec, clean)
        )
        ref = log_and_register(
            client, model_name=MODEL_NAME, experiment="bench-serving", trained=trained,
            evaluation=evaluation,
            training_profile=profile_frame(clean, DRIFT_NUMERIC, DRIFT_CATEGORICAL).to_dict(),
            batch_id=0, training_window="benchmark", extra_tags={},
        )  # fmt: skip
        client.set_registered_model_alias(MODEL_NAME, "production", ref.version)

        env = {"MLFLOW_TRACKING_URI": mlflow_server.url, "MLFLOW_REGISTRY_URI": mlflow_server.url}
        peer_port, our_port = _free_port(), _free_port()
        peer = _start(
            [sys.executable, "-m", "mlflow", "models", "serve", "-m",
             f"models:/{MODEL_NAME}/{ref.version}", "--env-manager", "local", "-w", "1",
             "-h", "127.0.0.1", "-p", str(peer_port)],
            env, tmp / "srv-peer.log",
        )  # fmt: skip
        ours = _start(
            [sys.executable, "-m", "tasador", "serve", "--host", "127.0.0.1",
             "--port", str(our_port)],
            {
                "TASADOR_MLFLOW_TRACKING_URI": mlflow_server.url,
                "TASADOR_MLFLOW_MODEL_NAME": MODEL_NAME,
                "TASADOR_DB_RAW_URL": server.url("bench_srv_raw"),
                "TASADOR_STATE_DIR": str(tmp / "srv-state"),
            },
            tmp / "srv-ours.log",
        )  # fmt: skip
        for url, process, log in (
            (f"http://127.0.0.1:{peer_port}/ping", peer, tmp / "srv-peer.log"),
            (f"http://127.0.0.1:{our_port}/ready", ours, tmp / "srv-ours.log"),
        ):
            try:
                wait_for_http(url, 180, process)
            except (RuntimeError, TimeoutError) as err:
                raise RuntimeError(f"{err}\n{log.read_text(errors='replace')[-3000:]}") from err

        listings = request_bodies(clean, 1_000)
        one, batch = listings[0], listings
        peer_url = f"http://127.0.0.1:{peer_port}/invocations"
        our_url = f"http://127.0.0.1:{our_port}"
        peer_one = orjson.dumps({"dataframe_records": [one]})
        peer_batch = orjson.dumps({"dataframe_records": batch})
        our_one, our_batch = orjson.dumps(one), orjson.dumps(batch)

        # the floor: the booster in this process, on features of the same rows, with the threads
        # the server gives it (one for one row; XGBoost's default, all cores, for 1,000)
        x_one = build_features(complete(clean).head(1), trained.spec)
        x_batch = build_features(complete(clean).head(1_000), trained.spec)
        booster = trained.booster
        served = serve_model(
            name=MODEL_NAME, version=ref.version, run_id="", booster=booster, spec=trained.spec
        )
        one_row_booster = served.one_thread if len(x_one) <= ONE_BLOCK_ROWS else booster

        def request_path() -> bytes:
            """The server's own work for a 1,000-listing request, minus HTTP and the log."""
            columns = listing_columns_fast(our_batch, len(batch))
            if columns is None:
                raise RuntimeError("the benchmark's listings missed the server's fast path")
            x = build_features(columns, served.spec)
            _, items = priced(x, served.predict(x), served.spec)
            return orjson.dumps({"model_version": served.version, "predictions": items})

        request_path()  # fails here, not mid-measurement, if the body missed the fast path
        dmatrix_one = xgb.DMatrix(x_one, missing=np.nan)

        rows: list[dict[str, Any]] = []

        def wrk_stats(url: str, body: bytes, connections: int) -> Callable[[], dict[str, float]]:
            return lambda: load(url, body, connections, seconds)

        def in_process(work: Callable[[], Any], repeats: int) -> Callable[[], dict[str, float]]:
            return lambda: in_process_calls(work, repeats)

        for connections in (1, 16):
            label = f"serve 1 listing, concurrency {connections}"
            stats = interleaved({
                "tasador": wrk_stats(f"{our_url}/predict", our_one, connections),
                "mlflow models serve": wrk_stats(peer_url, peer_one, connections),
            })  # fmt: skip
            for impl, st in stats.items():
                rows.append({
                    "benchmark": label, "impl": impl, "seconds": st["p50"] / 1000,
                    "rows_per_s": st["rps"], "by": "rate" if connections == 16 else "seconds",
                    "note": f"{st['rps']:,.0f} req/s, p50 {st['p50']:.2f} ms, "
                            f"p99 {st['p99']:.2f} ms, errors {st['errors']:.0f}",
                })  # fmt: skip
        label = "serve 1,000 listings per request"
        stats = interleaved({
            "tasador": wrk_stats(f"{our_url}/predict", our_batch, 1),
            "mlflow models serve": wrk_stats(peer_url, peer_batch, 1),
            "in-process inplace_predict": in_process(lambda: booster.inplace_predict(x_batch), 200),
            "in-process request path": in_process(request_path, 150),
        })  # fmt: skip
        in_process_notes = {
            "in-process inplace_predict": "the floor: booster only",
            "in-process request path": "the server's code for the request, no HTTP, no log: "
            "decode and check, features, booster, answer",
        }
        for impl, st in stats.items():
            if impl in in_process_notes:
                # a rate over calls made back to back, as the servers' rates are over requests
                rows.append({
                    "benchmark": label, "impl": impl, "seconds": st["p50"] / 1000,
                    "rows_per_s": 1_000 / (st["mean"] / 1000), "by": "rate",
                    "note": f"{in_process_notes[impl]}; mean {st['mean']:.2f} ms, "
                            f"p50 {st['p50']:.2f} ms",
                })  # fmt: skip
                continue
            rows.append({
                "benchmark": label, "impl": impl, "seconds": st["p50"] / 1000,
                "rows_per_s": 1_000 * st["rps"], "by": "rate",
                "note": f"concurrency 1: {st['rps']:,.1f} req/s, p50 {st['p50']:.2f} ms, "
                        f"p99 {st['p99']:.2f} ms, errors {st['errors']:.0f}",
            })  # fmt: skip
        # with two clients (the machine's cores): how much more a server gets out of the cores when
        # requests overlap; for information, the target above is judged one request at a time
        label = "serve 1,000 listings per request, concurrency 2"
        stats = interleaved({
            "tasador": wrk_stats(f"{our_url}/predict", our_batch, 2),
            "mlflow models serve": wrk_stats(peer_url, peer_batch, 2),
        })  # fmt: skip
        for impl, st in stats.items():
            rows.append({
                "benchmark": label, "impl": impl, "seconds": st["p50"] / 1000,
                "rows_per_s": 1_000 * st["rps"], "by": "rate",
                "note": f"concurrency 2: {st['rps']:,.1f} req/s, p50 {st['p50']:.2f} ms, "
                        f"p99 {st['p99']:.2f} ms, errors {st['errors']:.0f}",
            })  # fmt: skip
        stats = interleaved({
            "tasador": wrk_stats(f"{our_url}/explain", our_one, 1),
            "in-process pred_contribs": in_process(
                lambda: booster.predict(dmatrix_one, pred_contribs=True), 100
            ),
            "in-process inplace_predict": in_process(
                lambda: one_row_booster.inplace_predict(x_one), 300
            ),
        })  # fmt: skip
        client_bound = shutil.which("wrk") is None
        explain, contribs = stats["tasador"], stats["in-process pred_contribs"]["p50"]
        floor_one = stats["in-process inplace_predict"]["p50"]
        rows += [
            {"benchmark": "explain 1 listing", "impl": "tasador", "seconds": explain["p50"] / 1000,
             "note": f"/explain over HTTP, concurrency 1: p50 {explain['p50']:.2f} ms, "
                     f"p99 {explain['p99']:.2f} ms, errors {explain['errors']:.0f}"},
            {"benchmark": "explain 1 listing", "impl": "in-process pred_contribs",
             "seconds": contribs / 1000, "note": f"p50 {contribs:.2f} ms, same row, one call"},
            {"benchmark": "serve 1 listing, concurrency 1", "impl": "in-process inplace_predict",
             "seconds": floor_one / 1000,
             "note": f"p50 {floor_one:.3f} ms, booster only, one thread"},
        ]  # fmt: skip
        if client_bound:
            for row in rows:
                if not row["impl"].startswith("in-process"):
                    row["client_bound"] = True
                    row["note"] = f"Python load client (no wrk): {row['note']}"
        return rows
    finally:
        _stop(ours)
        _stop(peer)
        mlflow_server.stop()
