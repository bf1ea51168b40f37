"""One round of the loop at the real API's batch sizes: seconds per step, per batch.

The world is real and private to the benchmark: RAW and CLEAN databases on the harness's
PostgreSQL, an MLflow server on a third database, and the data API simulator in a uvicorn thread
serving the synthetic dataset at full scale (`generate_listings(2_226_382, seed=7)` cut by the
course scheme gives batches of about 80k, 80k, 230k, 4k, 320k and 360k rows). Every batch goes
through the real round: `ingest_next_batch` (HTTP fetch, JSON parse, RAW COPY, registration), then
`process_batch` with a reporter that timestamps each step start (clean, drift, decide, train,
promote); a step lasts until the next one starts, the last until `process_batch` returns. The
simulator serialises each batch once before the clock starts, so ingest measures tasador's side of
the fetch, not the simulator's JSON encoding. Steps a batch skips (no training) get no row.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from tasador.datasource.client import DataApiClient
from tasador.datasource.dataset import split_batches
from tasador.datasource.generator import generate_listings
from tasador.datasource.simulator import create_simulator_app
from tasador.pipeline import LoopConfig, Stores, ingest_next_batch, process_batch
from tasador.platform.mlflow_server import MlflowServer
from tasador.platform.postgres import EmbeddedPostgres
from tasador.storage.engine import make_engine
from tasador.storage.migrate import migrate

SEED: Final[int] = 7
GROUP: Final[int] = 1
DAY: Final[str] = "Tuesday"
WARM_GROUP: Final[int] = 99  # a cursor of its own, used only to make the simulator serialise
QUIET_VARIABLE: Final[str] = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
STEPS: Final[tuple[str, ...]] = ("ingest", "clean", "drift", "decide", "train", "promote")


@dataclass
class StepClock:
    """A pipeline reporter that timestamps step starts and counts tuning trials."""

    starts: list[tuple[str, float]] = field(default_factory=list)
    trials: int = 0

    def step(self, batch_number: int, name: str) -> None:
        self.starts.append((name, time.perf_counter()))

    def trial(self, number: int, total: int, value: float) -> None:
        self.trials += 1

    def durations(self, end: float) -> dict[str, float]:
        """Each step's seconds: until the next step starts, the last until `end`."""
        ends = [t for _, t in self.starts[1:]] + [end]
        return {name: stop - start for (name, start), stop in zip(self.starts, ends, strict=True)}


def _fresh_database(server: EmbeddedPostgres, name: str) -> str:
    server.drop_database(name)
    server.create_database(name)
    return server.url(name)


def _free_port() -> int:
    from fixtures.http import free_port  # tests/ is on sys.path under the harness and pytest

    return free_port()


def _warm_simulator(url: str, count: int) -> None:
    """Have the simulator serialise every batch now (its bodies are cached) on a spare cursor."""
    with httpx.Client(base_url=url, timeout=600) as http:
        for _ in range(count):
            http.get("/data", params={"group_number": WARM_GROUP}).raise_for_status()


def _training_note(stores: Stores, config: LoopConfig, version: str, trials: int) -> str:
    """Training rows, trials and tuning time MLflow recorded for a version (after the clock)."""
    run = stores.mlflow.get_run(stores.mlflow.get_model_version(config.model_name, version).run_id)
    rows = run.data.params.get("train_rows", "?")
    rows = f"{int(rows):,}" if rows.isdigit() else rows
    tuning = run.data.metrics.get("tuning_seconds")
    return f"trained on {rows} rows, {trials} trials" + (
        f" in {tuning:.0f} s of tuning" if tuning is not None else ""
    )


def _rows_of(
    batch_number: int, received: int, seconds: dict[str, float], note: str
) -> list[dict[str, Any]]:
    """One row per step the batch went through, then the round's total (the reference row)."""
    label = f"round: batch {batch_number} ({received:,} rows)"
    rows = [
        {
            "benchmark": label,
            "impl": f"tasador {step}",
            "seconds": seconds[step],
            "rows_per_s": received / seconds[step],
        }
        for step in STEPS
        if step in seconds
    ]
    total = sum(seconds.values())
    skipped = [step for step in STEPS if step not in seconds]
    if skipped:
        note += f"; skipped {', '.join(skipped)}"
    rows.append(
        {
            "benchmark": label,
            "impl": "tasador",
            "seconds": total,
            "rows_per_s": received / total,
            "note": note,
        }
    )
    return rows


def run(
    server: EmbeddedPostgres,
    tmp: Path,
    *,
    rows: int = 2_226_382,
    n_trials: int = 5,
    timeout_seconds: float = 60.0,
    prefix: str = "bench",
) -> list[dict[str, Any]]:
    """Run every batch of a full-scale synthetic API through the loop; rows per step and batch.

    All six batches are processed (each model trains on every clean row so far, as the loop
    does); `n_trials` and `timeout_seconds` (LoopConfig's own default budget) bound each training
    so the whole run stays within minutes on 2 cores. `prefix` names the three databases.
    """
    from fixtures.http import ServerThread

    names = [f"{prefix}_raw", f"{prefix}_clean", f"{prefix}_mlflow"]
    raw_url, clean_url, mlflow_url = (_fresh_database(server, name) for name in names)
    migrate(raw_url, "raw")
    migrate(clean_url, "clean")
    folder = tmp / f"{prefix}-round"
    mlflow = MlflowServer(
        backend_uri=mlflow_url,
        artifacts_destination=str(folder / "artifacts"),
        port=_free_port(),
        log_file=folder / "mlflow.log",
    )
    simulator: ServerThread | None = None
    progress_bar = os.environ.get(QUIET_VARIABLE)
    os.environ[QUIET_VARIABLE] = "false"  # MLflow's per-download progress bars flood the table
    engines = []
    out: list[dict[str, Any]] = []
    try:
        mlflow.start(timeout=180)
        batches = split_batches(generate_listings(rows, seed=SEED))
        simulator = ServerThread(create_simulator_app(batches))
        url = simulator.start()
        _warm_simulator(url, len(batches))
        raw, clean = make_engine(raw_url), make_engine(clean_url)
        engines += [raw, clean]
        from mlflow import MlflowClient

        stores = Stores(raw=raw, clean=clean, mlflow=MlflowClient(tracking_uri=mlflow.url))
        suffix = uuid.uuid4().hex[:8]
        config = LoopConfig(
            source=url,
            group_number=GROUP,
            day=DAY,
            model_name=f"tasador-bench-{suffix}",
            experiment=f"bench-{suffix}",
            n_trials=n_trials,
            timeout_seconds=timeout_seconds,
        )
        with DataApiClient(url, group_number=GROUP, day=DAY, timeout_seconds=600) as client:
            while True:
                started = time.perf_counter()
                fetched = ingest_next_batch(client, stores, config)
                if fetched is None:
                    break
                batch, frame = fetched
                # process_batch's first reporter call ("clean") is where ingest ends.
                clock = StepClock(starts=[("ingest", started)])
                result = process_batch(stores, batch, config, clock, raw=frame)
                seconds = clock.durations(time.perf_counter())
                del frame
                notes = [f"{result.kept:,} kept", result.action or "no action"]
                if result.drift is not None:
                    notes.append(f"drift {result.drift}")
                if "train" in seconds and result.model_version is not None:
                    notes.append(_training_note(stores, config, result.model_version, clock.trials))
                if result.promoted is not None:
                    notes.append("promoted" if result.promoted else "not promoted")
                out += _rows_of(batch.batch_number, result.received, seconds, "; ".join(notes))
    finally:
        if simulator is not None:
            simulator.stop()
        for engine in engines:
            engine.dispose()
        mlflow.stop()
        if progress_bar is None:
            os.environ.pop(QUIET_VARIABLE, None)
        else:
            os.environ[QUIET_VARIABLE] = progress_bar
        for name in names:
            server.drop_database(name)
    return out
