"""The predicted-price histogram is filled a whole array at a time, with Prometheus semantics."""

from __future__ import annotations

import numpy as np

from tasador.serving.metrics import PriceHistogram


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
