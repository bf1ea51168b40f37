"""Serving metrics: the price histogram (whole arrays, Prometheus semantics), booster calls."""

from __future__ import annotations

import numpy as np
from prometheus_client import generate_latest

from tasador.serving.metrics import PriceHistogram, ServingMetrics
from tasador.serving.model_holder import ModelHolder


def test_price_histogram_counts_cumulatively_with_inclusive_upper_bounds() -> None:
    hist = PriceHistogram(buckets=(100.0, 200.0))
    hist.observe(np.array([50.0, 100.0, 150.0]))
    hist.observe(np.array([200.0, 250.0]))
    (family,) = list(hist.collect())
    samples = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    assert samples[("tasador_predicted_price_dollars_bucket", "100.0")] == 2
    assert samples[("tasador_predicted_price_dollars_bucket", "200.0")] == 4
    assert samples[("tasador_predicted_price_dollars_bucket", "+Inf")] == 5
    assert samples[("tasador_predicted_price_dollars_count", None)] == 5
    assert samples[("tasador_predicted_price_dollars_sum", None)] == 750.0


def test_booster_calls_are_counted_by_mode_when_scraped() -> None:
    counts = {"alone": 2, "shared": 5, "side_by_side": 0}
    metrics = ServingMetrics(ModelHolder(None, "m", poll_seconds=60), booster_calls=lambda: counts)
    counts["shared"] += 1  # read at scrape time, not copied at start
    text = generate_latest(metrics.registry).decode()
    assert 'tasador_booster_calls_total{mode="alone"} 2.0' in text
    assert 'tasador_booster_calls_total{mode="shared"} 6.0' in text
    assert 'tasador_booster_calls_total{mode="side_by_side"} 0.0' in text
