"""Serving metrics: the price histogram (whole arrays, Prometheus semantics), booster calls."""

from __future__ import annotations

import numpy as np
from prometheus_client import generate_latest

from tasador.serving.metrics import PriceHistogram, ServingMetrics
from tasador.serving.model_holder import ModelHolder


def test_price_histogram_counts_cumulatively_with_inclusive_upper_bounds() -> None:
    hist = PriceHistogram(buckets=(100.0, 200.0))
    hist.observe("3", np.array([50.0, 100.0, 150.0]))
    hist.observe("3", np.array([200.0, 250.0]))
    hist.observe("4", np.array([120.0]))
    (family,) = list(hist.collect())
    samples = {
        (s.name, s.labels["model_version"], s.labels.get("le")): s.value for s in family.samples
    }
    assert samples[("tasador_predicted_price_dollars_bucket", "3", "100.0")] == 2
    assert samples[("tasador_predicted_price_dollars_bucket", "3", "200.0")] == 4
    assert samples[("tasador_predicted_price_dollars_bucket", "3", "+Inf")] == 5
    assert samples[("tasador_predicted_price_dollars_count", "3", None)] == 5
    assert samples[("tasador_predicted_price_dollars_sum", "3", None)] == 750.0
    # each version on its own
    assert samples[("tasador_predicted_price_dollars_bucket", "4", "100.0")] == 0
    assert samples[("tasador_predicted_price_dollars_bucket", "4", "200.0")] == 1
    assert samples[("tasador_predicted_price_dollars_count", "4", None)] == 1


def test_booster_calls_are_counted_by_mode_when_scraped() -> None:
    counts = {"alone": 2, "shared": 5, "side_by_side": 0}
    metrics = ServingMetrics(ModelHolder(None, "m", poll_seconds=60), booster_calls=lambda: counts)
    counts["shared"] += 1  # read at scrape time, not copied at start
    text = generate_latest(metrics.registry).decode()
    assert 'tasador_booster_calls_total{mode="alone"} 2.0' in text
    assert 'tasador_booster_calls_total{mode="shared"} 6.0' in text
    assert 'tasador_booster_calls_total{mode="side_by_side"} 0.0' in text


def test_the_served_models_age_and_the_loops_last_batch_are_gauges() -> None:
    from datetime import UTC, datetime

    import xgboost as xgb

    from tasador.serving.model_holder import serve_model
    from tasador.training.features import build_features, fit_features
    from tasador.training.synthetic import make_listings

    holder = ModelHolder(None, "m", poll_seconds=60)
    done: list[float | None] = [None]
    metrics = ServingMetrics(holder, last_batch_done=lambda: done[0])
    assert metrics.registry.get_sample_value("tasador_loop_last_batch_timestamp_seconds") is None
    text = generate_latest(metrics.registry).decode()
    assert "tasador_model_trained_timestamp_seconds{" not in text  # no model yet
    frame = make_listings(200, seed=2)
    spec = fit_features(frame)
    booster = xgb.train(
        {"max_depth": 2},
        xgb.DMatrix(build_features(frame, spec), label=np.log(frame["price"].to_numpy())),
        num_boost_round=2,
    )
    trained_at = datetime(2026, 11, 30, tzinfo=UTC)
    holder.swap(
        serve_model(name="m", version="7", run_id="r", booster=booster, spec=spec,
                    trained_at=trained_at)
    )  # fmt: skip
    done[0] = 1_800_000_000.0
    value = metrics.registry.get_sample_value
    assert value("tasador_model_trained_timestamp_seconds", {"version": "7"}) == (
        trained_at.timestamp()
    )
    loaded = value("tasador_model_loaded_timestamp_seconds", {"version": "7"})
    assert loaded is not None
    assert loaded >= trained_at.timestamp()
    assert value("tasador_loop_last_batch_timestamp_seconds") == 1_800_000_000.0
