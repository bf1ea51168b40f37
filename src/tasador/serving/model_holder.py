"""The model being served, and following the registry's `production` alias.

`ModelHolder.current()` returns an immutable `ServedModel`; a request takes it once and uses it to
the end, so a swap never changes the model under a request in flight. `reload()` asks the registry
which version holds `production`; when it is another version, it downloads and loads it completely,
then swaps the reference (a lock guards only the swap). When anything fails (MLflow down, a broken
artifact) the current model stays, the failure is recorded in `status()`, and the next poll retries.
A daemon thread polls every `poll_seconds`.

`ServedModel.predict` runs a call of up to one XGBoost block of rows (`ONE_BLOCK_ROWS`) on a
one-thread copy of the booster: XGBoost predicts a block on one thread, but a call with more
threads still waits for each of them at its barriers, so a single listing would wait for every core
to be free (measurements: docs/serving-performance.md).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import xgboost as xgb
from mlflow import MlflowClient

from tasador.drift.profile import DataProfile
from tasador.registry.aliases import PRODUCTION, get_production
from tasador.registry.models import TAG_WINDOW, load_model_version, run_finished_at
from tasador.serving.explain import TreeSplit, input_weights, tree_split
from tasador.serving.periodic import Periodic
from tasador.training.features import FeatureSpec
from tasador.training.intervals import PriceInterval

logger = logging.getLogger(__name__)

PUBLIC_RELOAD_ERROR: Final[str] = "the last reload failed; the service log has the detail"
ONE_BLOCK_ROWS: Final[int] = 64  # XGBoost's CPU predictor hands rows to threads in blocks of 64


@dataclass(frozen=True)
class ServedModel:
    """One loaded model version, ready to predict and explain; never changed once built."""

    name: str
    version: str
    run_id: str
    booster: xgb.Booster  # XGBoost's default threads (the cores this process may use)
    spec: FeatureSpec
    metrics: dict[str, float]
    tags: dict[str, str]
    trained_at: datetime | None
    loaded_at: datetime
    input_names: tuple[str, ...]
    input_weights: np.ndarray  # model features x input fields, see explain.input_weights
    tree_split: TreeSplit  # how one row's explanation is spread over threads
    one_thread: xgb.Booster  # a copy of `booster` with one thread, for up to one block of rows
    interval: PriceInterval | None = None  # the price range; None for models trained without
    profile: DataProfile | None = None  # the training data's drift reference (live drift)

    @property
    def training_window(self) -> str | None:
        return self.tags.get(TAG_WINDOW)

    def booster_for(self, rows: int) -> xgb.Booster:
        """The booster to run a call of `rows` rows on: one thread up to one block of rows."""
        return self.one_thread if rows <= ONE_BLOCK_ROWS else self.booster

    def predict(self, x: np.ndarray, *, one_thread: bool = False) -> np.ndarray:
        """The model's raw predictions (log price) for the rows of the model matrix `x`.

        `one_thread` runs the call on one thread whatever its size, for calls made side by side.
        """
        booster = self.one_thread if one_thread else self.booster_for(len(x))
        return np.asarray(booster.inplace_predict(x), dtype=np.float64)


def serve_model(
    *,
    name: str,
    version: str,
    run_id: str,
    booster: xgb.Booster,
    spec: FeatureSpec,
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
    trained_at: datetime | None = None,
    explain_threads: int = 1,
    interval: PriceInterval | None = None,
    profile: DataProfile | None = None,
) -> ServedModel:
    """A `ServedModel` with its explanation weights and tree split worked out once."""
    names, weights = input_weights(spec.feature_names)
    if spec.geography is not None:  # built now, not on the first request
        _ = spec.geography.neighbourhood.by_zip
    one_thread = booster.copy()
    one_thread.set_param({"nthread": 1})
    return ServedModel(
        name=name,
        version=version,
        run_id=run_id,
        booster=booster,
        spec=spec,
        metrics=dict(metrics or {}),
        tags=dict(tags or {}),
        trained_at=trained_at,
        loaded_at=datetime.now(UTC),
        input_names=names,
        input_weights=weights,
        tree_split=tree_split(booster, explain_threads),
        one_thread=one_thread,
        interval=interval,
        profile=profile,
    )


def _drift_reference(data: dict[str, Any], version: str) -> DataProfile | None:
    """The version's training profile; None (drift on live traffic not checked) when it has
    none that this code reads: the model itself serves all the same."""
    try:
        return DataProfile.from_dict(data)
    except (ValueError, KeyError, TypeError) as err:
        logger.warning("version %s has no readable training profile (%s)", version, err)
        return None


@dataclass(frozen=True)
class ReloadStatus:
    """How following the alias has gone so far."""

    poll_seconds: float
    last_checked_at: datetime | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str | None = None
    successes: int = 0  # new versions loaded and swapped in
    failures: int = 0  # checks or loads that failed


@dataclass(frozen=True)
class ReloadResult:
    """What one check of the alias did."""

    model: ServedModel | None
    changed: bool
    error: str | None = None


class ModelHolder:
    """Holds the served model and keeps it on the version that holds `production`."""

    def __init__(
        self,
        client: MlflowClient,
        model_name: str,
        *,
        poll_seconds: float,
        explain_threads: int = 1,
    ) -> None:
        self.client = client
        self.explain_threads = explain_threads
        self.model_name = model_name
        self.alias = PRODUCTION
        self.poll_seconds = poll_seconds
        self._model: ServedModel | None = None
        self._status = ReloadStatus(poll_seconds=poll_seconds)
        self._swap_lock = threading.Lock()
        self._reload_lock = threading.Lock()  # one load at a time (poller and POST /reload)
        self._poller = Periodic(self.reload, poll_seconds, "model-poller", first_at_once=True)

    def current(self) -> ServedModel | None:
        """The model to use for one whole request."""
        return self._model

    def status(self) -> ReloadStatus:
        return self._status

    def reload(self) -> ReloadResult:
        """Load the `production` version if it is not the one served; never raises."""
        with self._reload_lock:
            now = datetime.now(UTC)
            try:
                served = self._model
                ref = get_production(self.client, self.model_name)
                if ref is None or (served is not None and served.version == ref.version):
                    self._status = replace(self._status, last_checked_at=now)
                    return ReloadResult(model=served, changed=False)
                loaded = load_model_version(self.client, self.model_name, ref.version)
                model = serve_model(
                    name=self.model_name,
                    version=loaded.version,
                    run_id=loaded.run_id,
                    booster=loaded.booster,
                    spec=loaded.spec,
                    metrics=loaded.metrics.to_dict(),
                    tags=loaded.tags,
                    trained_at=run_finished_at(self.client, loaded.run_id),
                    explain_threads=self.explain_threads,
                    interval=loaded.interval,
                    profile=_drift_reference(loaded.training_profile, loaded.version),
                )
            except Exception as err:  # anything: the current model must keep serving
                error = f"{type(err).__name__}: {err}"[:2000]
                logger.warning("reloading %s failed: %s", self.model_name, error)
                self._status = replace(
                    self._status,
                    last_checked_at=now,
                    last_failure_at=now,
                    last_error=error,
                    failures=self._status.failures + 1,
                )
                return ReloadResult(model=self._model, changed=False, error=error)
            self.swap(model)
            self._status = replace(
                self._status,
                last_checked_at=now,
                last_success_at=datetime.now(UTC),
                successes=self._status.successes + 1,
            )
            logger.info("serving %s version %s", self.model_name, model.version)
            return ReloadResult(model=model, changed=True)

    def swap(self, model: ServedModel) -> None:
        """Serve `model` from now on (requests in flight keep the one they took)."""
        with self._swap_lock:
            self._model = model

    def start(self) -> None:
        """Check the alias now and then every `poll_seconds`, in a daemon thread."""
        self._poller.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._poller.stop(timeout)

    def describe(self) -> dict[str, Any]:
        """The reload status as plain values, for the public /model: a failure is described in
        fixed words (its detail, with registry URLs and exception text, is in the service log)."""
        s = self._status
        return {
            "last_checked_at": s.last_checked_at,
            "last_success_at": s.last_success_at,
            "last_failure_at": s.last_failure_at,
            "last_error": PUBLIC_RELOAD_ERROR if s.last_error else None,
            "successes": s.successes,
            "failures": s.failures,
            "poll_seconds": s.poll_seconds,
        }
