"""The pure parts of the history reader: prices found in answers, their distribution, buckets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tasador.serving.history import _bucket_seconds, _prices, price_distribution


def test_prices_are_read_from_single_list_and_refused_answers() -> None:
    assert _prices({"price": 250_000.0, "log_price": 12.4}) == [250_000.0]
    assert _prices([{"price": 1.0}, {"detail": [], "error_count": 1}, {"price": 2}]) == [1.0, 2.0]
    assert _prices({"detail": "no model loaded yet"}) == []
    assert _prices(None) == []
    assert _prices("price") == []


def test_price_distribution_quantiles_and_log_histogram() -> None:
    prices = [100_000.0, 200_000.0, 300_000.0, 400_000.0, 1_000_000.0]
    out = price_distribution(prices, requests=3, limit=10)
    assert out["count"] == 5
    assert (out["requests_sampled"], out["sample_limit"]) == (3, 10)
    assert out["p50"] == pytest.approx(300_000.0)
    assert out["p25"] == pytest.approx(200_000.0)
    edges = out["histogram_edges"]
    assert edges[0] == pytest.approx(100_000.0)
    assert edges[-1] == pytest.approx(1_000_000.0)
    assert len(edges) == len(out["histogram_counts"]) + 1 == 21
    assert edges[1] / edges[0] == pytest.approx(edges[-1] / edges[-2])  # log-spaced
    assert sum(out["histogram_counts"]) == 5


def test_price_distribution_of_nothing_and_of_one_price() -> None:
    empty = price_distribution([], requests=0, limit=10)
    assert empty["count"] == 0
    assert empty["p50"] is None
    assert empty["histogram_edges"] == []
    one = price_distribution([250_000.0], requests=1, limit=10)
    assert one["p10"] == one["p90"] == 250_000.0
    assert sum(one["histogram_counts"]) == 1


@pytest.mark.parametrize(
    ("span", "bucket"),
    [
        (timedelta(minutes=15), 10),
        (timedelta(hours=1), 30),
        (timedelta(hours=24), 900),
        (timedelta(days=7), 6 * 3600),
        (timedelta(days=3650), 7 * 86400),
    ],
)
def test_buckets_keep_at_most_120_points(span: timedelta, bucket: int) -> None:
    assert _bucket_seconds(span) == bucket
