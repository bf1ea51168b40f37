"""Price accuracy on real listings: tasador's trainer against peers trained on the same rows.

Data: the real 5,000-row random sample in `../shared/data/realtor/` (skipped, saying why, without
it). Training rows are what the loop would hold: the part's complete rows served in the course
API's batches, parsed from their JSON form and cleaned by tasador's cleaning (the training rows,
as the loop trains). Test rows are every row of the other part under the strict rule (10k ≤ price
≤ 10M, 1 ≤ bed ≤ 20, 1 ≤ bath ≤ 15, 300 ≤ house_size ≤ 20,000), missing fields and all.

Peers, trained in the same run on the same rows: the median price of the state; a plain XGBoost on
the raw numbers with one-hot state (fixed, common parameters, no tuning); tasador's trainer without
the ZIP code's geography, masked copies and cross-validated tuning (as it was before). Splits: the
first 60% of the file trains and the rest tests (the sample is random, so its order is too); and a
5-fold over the whole sample, reported as mean ± standard deviation over the folds. On the first
split, the real loop also runs over the part (PostgreSQL, an MLflow server, the simulator over HTTP)
and its production model is scored on the same test rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import orjson
import pandas as pd
import xgboost as xgb

from tasador.datasource.dataset import load_dataset, split_batches
from tasador.ingestion.cleaning import clean_listings
from tasador.ingestion.raw import raw_frame
from tasador.platform.postgres import EmbeddedPostgres
from tasador.training.baseline import StateMedian
from tasador.training.intervals import PriceInterval, fit_interval
from tasador.training.train import predict_price, tune_and_train

SAMPLE: Final[Path] = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "realtor"
    / "realtor_random5k_2024.csv"
)
FOLDS: Final[int] = 5
FIRST_PART: Final[float] = 0.6
SEED: Final[int] = 42
N_TRIALS: Final[int] = 20
COVERAGE: Final[float] = 0.8
NUMBERS: Final[tuple[str, ...]] = ("bed", "bath", "acre_lot", "house_size")

Predictor = Callable[[pd.DataFrame], np.ndarray]
Fitted = tuple[Predictor, PriceInterval | None]


def strict(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows a price can be judged on (the rule shared with the system tasador replaces)."""
    keep = (
        frame["price"].between(10_000, 10_000_000)
        & frame["bed"].between(1, 20)
        & frame["bath"].between(1, 15)
        & frame["house_size"].between(300, 20_000)
    )
    return frame.loc[keep].reset_index(drop=True)


def served_rows(part: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The clean (training, evaluation) rows the loop would hold after the API served `part`."""
    cleaned = []
    for batch in split_batches(part):
        records = orjson.loads(orjson.dumps(batch.to_dict("records"), default=str))
        cleaned.append(clean_listings(raw_frame(records)).clean)
    rows = pd.concat(cleaned, ignore_index=True)
    return rows.loc[~rows["is_holdout"]], rows.loc[rows["is_holdout"]]


def state_median(train: pd.DataFrame, evaluation: pd.DataFrame) -> Fitted:
    return StateMedian.fit(train).predict, None


def plain_xgboost(train: pd.DataFrame, evaluation: pd.DataFrame) -> Fitted:
    states = sorted(train["state"].dropna().astype(str).unique())

    def matrix(frame: pd.DataFrame) -> np.ndarray:
        numbers = frame[list(NUMBERS)].astype("float64").to_numpy()
        state = frame["state"].astype(str).to_numpy()
        onehot = np.stack([state == s for s in states], axis=1).astype(np.float64)
        return np.hstack([numbers, onehot])

    params = {"max_depth": 6, "eta": 0.05, "subsample": 0.8, "colsample_bytree": 0.8,
              "objective": "reg:squarederror", "nthread": 2, "seed": SEED}  # fmt: skip
    booster = xgb.train(
        params,
        xgb.DMatrix(matrix(train), label=np.log(train["price"].to_numpy(dtype=np.float64))),
        num_boost_round=400,
    )

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return np.exp(booster.inplace_predict(matrix(frame)))

    return predict, None


def tasador(train: pd.DataFrame, evaluation: pd.DataFrame, **options: bool) -> Fitted:
    """The loop's trainer; its price range calibrated on the evaluation rows, as the loop does."""
    trained = tune_and_train(train, n_trials=N_TRIALS, timeout_seconds=600, seed=SEED, **options)

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return predict_price(trained.booster, trained.spec, frame)

    log_y = np.log(evaluation["price"].to_numpy(dtype=np.float64))
    return predict, fit_interval(log_y, np.log(predict(evaluation)), COVERAGE, SEED)


def tasador_before(train: pd.DataFrame, evaluation: pd.DataFrame) -> Fitted:
    return tasador(train, evaluation, geography=False, masking=False, cross_validate=False)


IMPLEMENTATIONS: Final[dict[str, Callable[[pd.DataFrame, pd.DataFrame], Fitted]]] = {
    "tasador": tasador,
    "tasador before (no geography, masked copies, cross-validated tuning)": tasador_before,
    "plain XGBoost (raw numbers, one-hot state)": plain_xgboost,
    "median price of the state": state_median,
}


@dataclass(frozen=True)
class Score:
    rmse_log: float
    mape: float
    rows: int
    coverage: float | None  # share of test prices inside the range
    width: float | None  # mean (high − low) / price


def score(predicted: np.ndarray, price: np.ndarray, interval: PriceInterval | None) -> Score:
    error = np.log(predicted) - np.log(price)
    coverage = width = None
    if interval is not None:
        low, high = interval.bounds(predicted)
        coverage = float(np.mean((price >= low) & (price <= high)))
        width = float(np.mean((high - low) / predicted))
    return Score(
        float(np.sqrt(np.mean(error**2))),
        float(np.mean(np.abs(predicted - price) / price)),
        len(price),
        coverage,
        width,
    )


def _interval_spread(folds: list[Score]) -> dict[str, float | None]:
    """Mean and standard deviation of the folds' range coverage and width (None: no range)."""
    coverage = [s.coverage for s in folds if s.coverage is not None]
    width = [s.width for s in folds if s.width is not None]
    if len(coverage) < len(folds) or len(width) < len(folds):
        return {"coverage": None, "width": None}
    return {
        "coverage": float(np.mean(coverage)), "coverage_sd": float(np.std(coverage, ddof=1)),
        "width": float(np.mean(width)), "width_sd": float(np.std(width, ddof=1)),
    }  # fmt: skip


def loop_production(part: pd.DataFrame, server: EmbeddedPostgres, tmp: Path) -> Fitted:
    """The production model after the real loop ran over `part` as the course API serves it:
    RAW and CLEAN DATA on the harness's PostgreSQL, an MLflow server, the simulator over HTTP."""
    from mlflow import MlflowClient

    from fixtures.http import free_port, running_server
    from tasador.datasource.client import DataApiClient
    from tasador.datasource.simulator import create_simulator_app
    from tasador.pipeline import LoopConfig, Stores, run_loop
    from tasador.platform.mlflow_server import MlflowServer
    from tasador.registry.aliases import get_production
    from tasador.registry.models import load_model_version
    from tasador.storage.engine import make_engine
    from tasador.storage.migrate import migrate

    urls = {}
    for kind in ("raw", "clean", "mlflow"):
        server.drop_database(f"quality_{kind}")
        server.create_database(f"quality_{kind}")
        urls[kind] = server.url(f"quality_{kind}")
    migrate(urls["raw"], "raw")
    migrate(urls["clean"], "clean")
    mlflow = MlflowServer(
        backend_uri=urls["mlflow"],
        artifacts_destination=str(tmp / "quality" / "artifacts"),
        port=free_port(),
        log_file=tmp / "quality" / "mlflow.log",
    )
    mlflow.start(timeout=180)
    raw, clean = make_engine(urls["raw"]), make_engine(urls["clean"])
    try:
        with running_server(create_simulator_app(split_batches(part))) as url:
            config = LoopConfig(
                source=url, group_number=1, day="Tuesday", model_name="quality",
                experiment="quality", n_trials=N_TRIALS, timeout_seconds=600, seed=SEED,
                interval_coverage=COVERAGE,
            )  # fmt: skip
            stores = Stores(raw=raw, clean=clean, mlflow=MlflowClient(tracking_uri=mlflow.url))
            with DataApiClient(url, group_number=1, day="Tuesday") as client:
                run_loop(client, stores, config)
            production = get_production(stores.mlflow, config.model_name)
            if production is None:
                raise RuntimeError("the loop promoted no model")
            loaded = load_model_version(stores.mlflow, config.model_name, production.version)
    finally:
        raw.dispose()
        clean.dispose()
        mlflow.stop()

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return predict_price(loaded.booster, loaded.spec, frame)

    return predict, loaded.interval


def _splits(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    cut = int(FIRST_PART * len(frame))
    splits = [("first 60% → rest", frame.iloc[:cut], frame.iloc[cut:])]
    fold = np.arange(len(frame)) % FOLDS
    splits += [(f"fold {k}", frame.loc[fold != k], frame.loc[fold == k]) for k in range(FOLDS)]
    return splits


def run(server: EmbeddedPostgres | None = None, tmp: Path | None = None) -> list[dict[str, Any]]:
    """The table's rows; with a PostgreSQL server and a folder, also the real loop's production
    model on the first split."""
    if not SAMPLE.exists():
        return [{"benchmark": "price accuracy", "impl": "—", "skipped": f"no sample at {SAMPLE}"}]
    frame = load_dataset(SAMPLE)
    scores: dict[tuple[str, str], Score] = {}
    seconds: dict[str, float] = {}
    train_rows: dict[str, int] = {}
    for split, part, rest in _splits(frame):
        (train, evaluation), test = served_rows(part), strict(rest)
        train_rows[split] = len(train)
        price = test["price"].to_numpy(dtype=np.float64)
        for impl, fit in IMPLEMENTATIONS.items():
            started = time.perf_counter()
            predict, interval = fit(train, evaluation)
            seconds[impl] = seconds.get(impl, 0.0) + time.perf_counter() - started
            scores[(split, impl)] = score(predict(test), price, interval)
    rows: list[dict[str, Any]] = []
    first = "first 60% → rest"
    if server is not None and tmp is not None:
        cut = int(FIRST_PART * len(frame))
        predict, interval = loop_production(frame.iloc[:cut], server, tmp)
        test = strict(frame.iloc[cut:])
        s = score(predict(test), test["price"].to_numpy(dtype=np.float64), interval)
        rows.append({
            "benchmark": f"price accuracy, {first}",
            "impl": "tasador, production model of the loop",
            "rmse_log": s.rmse_log, "mape": s.mape, "rows": s.rows,
            "coverage": s.coverage, "width": s.width,
            "note": "the real loop (PostgreSQL, MLflow, simulator) over the part",
        })  # fmt: skip
    for impl in IMPLEMENTATIONS:
        s = scores[(first, impl)]
        rows.append({
            "benchmark": "price accuracy, first 60% → rest", "impl": impl,
            "rmse_log": s.rmse_log, "mape": s.mape, "rows": s.rows,
            "coverage": s.coverage, "width": s.width,
            "note": f"trained on {train_rows[first]:,} clean rows",
        })  # fmt: skip
    for impl in IMPLEMENTATIONS:
        folds = [scores[(f"fold {k}", impl)] for k in range(FOLDS)]
        rmse = np.array([s.rmse_log for s in folds])
        mape = np.array([s.mape for s in folds])
        rows.append({
            "benchmark": f"price accuracy, {FOLDS}-fold", "impl": impl,
            "rmse_log": float(rmse.mean()), "rmse_log_sd": float(rmse.std(ddof=1)),
            "mape": float(mape.mean()), "mape_sd": float(mape.std(ddof=1)),
            "rows": sum(s.rows for s in folds),
            **_interval_spread(folds),
            "note": f"fit {seconds[impl] / (FOLDS + 1):.1f} s per split",
        })  # fmt: skip
    return rows
