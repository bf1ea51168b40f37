"""Prometheus metrics of the inference API, all named `tasador_*`, on a registry per app.

Each app gets its own `CollectorRegistry`, so several apps (tests, benchmarks) live in one process.
Counts are kept in this process: run one uvicorn worker per process and scale with processes or
replicas, each scraped on its own (no prometheus multiprocess mode needed).

Request counts and latency are observed per request. The predicted-price histogram is filled in
bulk with numpy (one call per request, however many listings it had). The model, reload and
inference-log figures are read from their owners when scraped, so they cannot drift from them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Final

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from tasador.serving.live_drift import LiveDriftCheck
from tasador.serving.model_holder import ModelHolder

PRICE_BUCKETS: Final[tuple[float, ...]] = (
    50_000, 100_000, 150_000, 200_000, 300_000, 400_000, 500_000, 750_000,
    1_000_000, 1_500_000, 2_000_000, 3_000_000, 5_000_000, 10_000_000,
)  # fmt: skip
LATENCY_BUCKETS: Final[tuple[float, ...]] = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip


class PriceHistogram(Collector):
    """`tasador_predicted_price_dollars{model_version}`: a histogram filled a whole array at a
    time, one per model version (price quantiles per version)."""

    name: Final[str] = "tasador_predicted_price_dollars"

    def __init__(self, buckets: Sequence[float] = PRICE_BUCKETS) -> None:
        self.edges = np.asarray(buckets, dtype=np.float64)
        # per version: counts per bucket (last: above every edge), and the sum
        self._by_version: dict[str, tuple[np.ndarray, float]] = {}
        self._lock = threading.Lock()

    def observe(self, model_version: str, prices: np.ndarray) -> None:
        # side="left": a price equal to an edge counts in that edge's bucket (le is inclusive)
        counts = np.bincount(
            np.searchsorted(self.edges, prices, side="left"), minlength=len(self.edges) + 1
        )
        total = float(np.sum(prices))
        with self._lock:
            before, before_sum = self._by_version.get(
                model_version, (np.zeros(len(self.edges) + 1, dtype=np.int64), 0.0)
            )
            self._by_version[model_version] = (before + counts, before_sum + total)

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            observed = dict(self._by_version)
        family = HistogramMetricFamily(
            self.name, "predicted prices (USD), by model version", labels=["model_version"]
        )
        for version, (counts, total) in sorted(observed.items()):
            cumulative = np.cumsum(counts)
            buckets = [(_le(e), float(c)) for e, c in zip(self.edges, cumulative, strict=False)]
            buckets.append(("+Inf", float(cumulative[-1])))
            family.add_metric([version], buckets, sum_value=total)
        yield family


def _le(edge: float) -> str:
    return str(float(edge))


class StateCollector(Collector):
    """Model, reload and inference-log figures, read from their owners at scrape time."""

    def __init__(
        self,
        holder: ModelHolder,
        queue_depth: Callable[[], int] | None,
        write_failures: Callable[[], int] | None,
        booster_calls: Callable[[], dict[str, int]] | None = None,
        last_batch_done: Callable[[], float | None] | None = None,
    ) -> None:
        self.holder = holder
        self.queue_depth = queue_depth
        self.write_failures = write_failures
        self.booster_calls = booster_calls
        self.last_batch_done = last_batch_done

    def collect(self) -> Iterable[Metric]:
        info = GaugeMetricFamily(
            "tasador_model_info",
            "the served model version (value 1); absent before a model is loaded",
            labels=["name", "version", "run_id"],
        )
        model = self.holder.current()
        trained = GaugeMetricFamily(
            "tasador_model_trained_timestamp_seconds",
            "when the served model finished training (Unix time): its age is time() minus this",
            labels=["version"],
        )
        loaded = GaugeMetricFamily(
            "tasador_model_loaded_timestamp_seconds",
            "when this process loaded the served model (Unix time)",
            labels=["version"],
        )
        if model is not None:
            info.add_metric([model.name, model.version, model.run_id], 1.0)
            loaded.add_metric([model.version], model.loaded_at.timestamp())
            if model.trained_at is not None:
                trained.add_metric([model.version], model.trained_at.timestamp())
        yield info
        yield trained
        yield loaded
        if self.last_batch_done is not None:
            done = self.last_batch_done()
            if done is not None:
                yield GaugeMetricFamily(
                    "tasador_loop_last_batch_timestamp_seconds",
                    "when the loop last finished a batch (Unix time, read from CLEAN DATA)",
                    value=done,
                )
        status = self.holder.status()
        reloads = CounterMetricFamily(
            "tasador_model_reloads",
            "model reloads: success = a new version swapped in, failure = a check or load failed",
            labels=["result"],
        )
        reloads.add_metric(["success"], status.successes)
        reloads.add_metric(["failure"], status.failures)
        yield reloads
        if self.queue_depth is not None:
            yield GaugeMetricFamily(
                "tasador_inference_log_queue_depth",
                "inference records waiting to be written (in memory and spilled)",
                value=float(self.queue_depth()),
            )
        if self.write_failures is not None:
            yield CounterMetricFamily(
                "tasador_inference_log_write_failures",
                "failed attempts to write inference records to RAW DATA",
                value=float(self.write_failures()),
            )
        if self.booster_calls is not None:
            calls = CounterMetricFamily(
                "tasador_booster_calls",
                "booster calls for /predict: alone = one request on every core, shared = the "
                "requests waiting together in one call, side_by_side = a large request on one "
                "thread while others run",
                labels=["mode"],
            )
            for mode, count in self.booster_calls().items():
                calls.add_metric([mode], float(count))
            yield calls


class LiveDriftCollector(Collector):
    """The live-traffic drift monitor's last verdict, per feature, labelled by model version."""

    def __init__(
        self,
        latest: Callable[[], LiveDriftCheck | None],
        verdict: Callable[[], LiveDriftCheck | None],
    ) -> None:
        self.latest = latest
        self.verdict = verdict

    def collect(self) -> Iterable[Metric]:
        latest = self.latest()
        if latest is not None:
            yield GaugeMetricFamily(
                "tasador_live_drift_last_check_timestamp_seconds",
                "when recent traffic was last checked for drift (Unix time), whatever came of it",
                value=latest.checked_at.timestamp(),
            )
        check = self.verdict()
        if check is None or check.report is None or check.model_version is None:
            return
        version, report = check.model_version, check.report
        detected = GaugeMetricFamily(
            "tasador_live_drift_detected",
            "1 when the last check found recent requests drifted from the served model's "
            "training data (the loop's drift rule), else 0",
            labels=["model_version"],
        )
        detected.add_metric([version], float(report.verdict))
        listings = GaugeMetricFamily(
            "tasador_live_drift_listings",
            "recent priced listings the last drift check compared",
            labels=["model_version"],
        )
        listings.add_metric([version], float(check.listings))
        labels = ["model_version", "feature"]
        drifted = GaugeMetricFamily(
            "tasador_live_drift_feature_drifted", "1: the feature drifted, else 0", labels=labels
        )
        effect = GaugeMetricFamily(
            "tasador_live_drift_effect_size",
            "the feature's shift: KS D (numeric) or Cramér's V (categorical)",
            labels=labels,
        )
        psi = GaugeMetricFamily(
            "tasador_live_drift_psi", "the feature's population stability index", labels=labels
        )
        for f in report.features:
            drifted.add_metric([version, f.feature], float(f.drifted))
            effect.add_metric([version, f.feature], f.effect_size)
            psi.add_metric([version, f.feature], f.psi)
        yield from (detected, listings, drifted, effect, psi)


class ServingMetrics:
    """The metrics of one app and the registry they live on."""

    def __init__(
        self,
        holder: ModelHolder,
        *,
        queue_depth: Callable[[], int] | None = None,
        write_failures: Callable[[], int] | None = None,
        booster_calls: Callable[[], dict[str, int]] | None = None,
        last_batch_done: Callable[[], float | None] | None = None,
        live_drift: LiveDriftCollector | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tasador_requests",
            "HTTP requests by endpoint and status code",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tasador_request_seconds",
            "time to answer a request, by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "tasador_predictions",
            "listings priced, by model version",
            ["model_version"],
            registry=self.registry,
        )
        self.prices = PriceHistogram()
        self.registry.register(self.prices)
        self.registry.register(
            StateCollector(holder, queue_depth, write_failures, booster_calls, last_batch_done)
        )
        if live_drift is not None:
            self.registry.register(live_drift)

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def observe_predictions(self, model_version: str, prices: np.ndarray) -> None:
        self.predictions.labels(model_version).inc(len(prices))
        self.prices.observe(model_version, prices)
