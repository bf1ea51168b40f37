"""The UI's charts: the data each one draws, exact, and specs with titled, unit-bearing axes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import pytest

from tasador.serving.history_models import (
    BatchOut,
    DistributionBinsOut,
    ImportanceOut,
    ModelVersionOut,
    PriceDistributionOut,
    RequestsSummaryOut,
)
from tasador.ui import charts
from tasador.ui.charts import PriceBar, WaterfallStep


def encodings(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every encoding block of a chart spec, layers included."""
    found = [spec["encoding"]] if "encoding" in spec else []
    for layer in spec.get("layer", []):
        found.extend(encodings(layer))
    return found


def assert_titled_axes(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart validates as Vega-Lite and each x and y it draws has a title."""
    spec = chart.to_dict()  # validates against the Vega-Lite schema
    for encoding in encodings(spec):
        for channel in ("x", "y"):
            if channel in encoding:
                assert encoding[channel].get("title"), (channel, encoding[channel])
    return spec


def money_axes(spec: dict[str, Any]) -> list[str]:
    return [
        channel
        for encoding in encodings(spec)
        for channel in ("x", "y")
        if encoding.get(channel, {}).get("axis", {}).get("format") == charts.MONEY
    ]


def test_waterfall_runs_from_base_to_price_largest_first() -> None:
    steps = charts.waterfall_steps(
        100_000.0, {"house_size": 30_000.0, "state": -50_000.0, "bed": 5_000.0}, 85_000.0
    )
    assert steps == [
        WaterfallStep("base price", 0.0, 100_000.0, "total"),
        WaterfallStep("state", 100_000.0, 50_000.0, "lowers the price"),
        WaterfallStep("house size", 50_000.0, 80_000.0, "raises the price"),
        WaterfallStep("bedrooms", 80_000.0, 85_000.0, "raises the price"),
        WaterfallStep("price", 0.0, 85_000.0, "total"),
    ]
    assert steps[-2].end == steps[-1].end == 85_000.0
    assert [s.dollars for s in steps[1:-1]] == [-50_000.0, 30_000.0, 5_000.0]
    spec = assert_titled_axes(charts.waterfall_chart(steps))
    assert money_axes(spec) == ["x"]
    assert spec["layer"][0]["encoding"]["y"]["sort"] == [s.label for s in steps]
    assert list(charts.waterfall_chart(steps).data["text"]) == [
        "$100,000",
        "-$50,000",
        "+$30,000",
        "+$5,000",
        "$85,000",
    ]


def test_price_bars_most_expensive_first_in_dollars() -> None:
    bars = [PriceBar("Ohio", 200_000.0, "other"), PriceBar("Hawaii", 900_000.0, "home")]
    chart = charts.price_bars(bars, place_title="state")
    assert list(chart.data["place"]) == ["Hawaii", "Ohio"]
    spec = assert_titled_axes(chart)
    assert money_axes(spec) == ["x"]
    assert spec["encoding"]["y"]["title"] == "state"


def version(number: str, batch: int | None, status: str, rmse: float) -> ModelVersionOut:
    return ModelVersionOut.model_validate(
        {
            "version": number,
            "batch_id": batch,
            "batch_number": batch,
            "created_at": "2026-01-01T00:00:00Z",
            "training_rows": 100,
            "training_window": None,
            "evaluation_rows": 20,
            "metrics": {"rmse_log": rmse, "r2_log": 0.5},
            "status": status,
            "reason": f"reason {number}",
            "champion_version": None,
            "champion_metrics": None,
            "trigger": "drift",
            "trigger_reason": None,
            "superseded_by": None,
        }
    )


def test_rmse_history_in_batch_order() -> None:
    models = [
        version("3", 2, "production", 0.35),
        version("2", 1, "rejected", 0.50),
        version("1", 0, "promoted", 0.40),
        version("9", None, "pending", 0.10),  # no batch: not on the chart
    ]
    assert charts.rmse_rows(models) == [
        {"version": "1", "batch": 0, "rmse_log": 0.40, "status": "promoted", "reason": "reason 1"},
        {"version": "2", "batch": 1, "rmse_log": 0.50, "status": "rejected", "reason": "reason 2"},
        {
            "version": "3",
            "batch": 2,
            "rmse_log": 0.35,
            "status": "production",
            "reason": "reason 3",
        },
    ]
    spec = assert_titled_axes(charts.rmse_history_chart(models))
    points = spec["layer"][1]["encoding"]
    assert points["color"]["scale"]["domain"] == ["production", "promoted", "rejected", "pending"]
    assert {"field": "reason", "title": "reason", "type": "nominal"} in points["tooltip"]


def batch(number: int, *, kept: int, rejected: dict[str, int], drift: Any = None) -> BatchOut:
    return BatchOut.model_validate(
        {
            "id": number + 1,
            "batch_number": number,
            "source": "test",
            "group_number": 1,
            "day": None,
            "status": "done",
            "received": kept + sum(rejected.values()),
            "kept": kept,
            "rejected": sum(rejected.values()),
            "rejected_by_reason": rejected,
            "error": None,
            "received_at": None,
            "drift": drift,
            "decision": None,
        }
    )


def checked(*features: tuple[str, float, bool]) -> dict[str, Any]:
    return {
        "checked": True,
        "verdict": any(d for *_, d in features),
        "reason": "r",
        "reference_model_version": "1",
        "drifted_features": [f for f, _, d in features if d],
        "features": [
            {
                "feature": name,
                "drifted": drifted,
                "effect_size": effect,
                "effect_threshold": 0.1,
                "psi": 0.0,
                "psi_threshold": 0.2,
            }
            for name, effect, drifted in features
        ],
    }


def test_rows_by_batch_kept_then_each_reason() -> None:
    batches = [
        batch(1, kept=90, rejected={"relisted_duplicate": 4, "bed_out_of_range": 6}),
        batch(0, kept=50, rejected={}),
    ]
    assert charts.rows_by_batch(batches) == [
        {"batch": 0, "part": "kept", "rows": 50},
        {"batch": 1, "part": "kept", "rows": 90},
        {"batch": 1, "part": "rejected: bedrooms out of range", "rows": 6},
        {"batch": 1, "part": "rejected: relisted duplicate", "rows": 4},
    ]
    assert_titled_axes(charts.rows_by_batch_chart(batches))


def test_drift_cells_effect_over_threshold() -> None:
    unchecked = {**checked(), "checked": False, "verdict": None}
    batches = [
        batch(0, kept=1, rejected={}, drift=unchecked),
        batch(
            1, kept=1, rejected={}, drift=checked(("house_size", 0.25, True), ("bed", 0.05, False))
        ),
    ]
    cells = charts.drift_cells(batches)
    assert [(c["batch"], c["feature"], c["mark"]) for c in cells] == [
        (1, "house size", "drifted"),
        (1, "bedrooms", ""),
    ]
    assert [c["ratio"] for c in cells] == [pytest.approx(2.5), pytest.approx(0.5)]
    spec = assert_titled_axes(charts.drift_heatmap(batches))
    assert spec["layer"][0]["encoding"]["color"]["title"] == "effect size ÷ threshold"
    assert spec["layer"][1]["encoding"]["text"]["field"] == "mark"


def test_distribution_rows_pair_reference_and_batch() -> None:
    bins = DistributionBinsOut(labels=["≤ 2", "> 2"], reference=[0.7, 0.3], current=[0.4, 0.6])
    assert charts.distribution_rows(bins) == [
        {"bin": "≤ 2", "order": 0, "data": "reference", "share": 0.7},
        {"bin": "≤ 2", "order": 0, "data": "this batch", "share": 0.4},
        {"bin": "> 2", "order": 1, "data": "reference", "share": 0.3},
        {"bin": "> 2", "order": 1, "data": "this batch", "share": 0.6},
    ]
    spec = assert_titled_axes(charts.distribution_chart(bins, "bed"))
    assert spec["encoding"]["x"]["title"] == "bedrooms"
    assert spec["encoding"]["y"]["axis"]["format"] == charts.SHARE


def importance(number: str, **terms: float) -> ImportanceOut:
    return ImportanceOut.model_validate(
        {
            "version": number,
            "rows": 10,
            "inputs": [{"name": k, "mean_abs_log": v} for k, v in terms.items()],
            "features": [],
        }
    )


def test_importance_rows_new_and_challenged() -> None:
    new, old = importance("5", house_size=0.3, state=0.1), importance("3", house_size=0.2)
    assert charts.importance_rows(new, old) == [
        {"input": "house size", "model": "version 5 (new)", "mean_abs_log": 0.3},
        {"input": "state", "model": "version 5 (new)", "mean_abs_log": 0.1},
        {"input": "house size", "model": "version 3 (challenged)", "mean_abs_log": 0.2},
    ]
    assert charts.importance_rows(None, old) == [
        {"input": "house size", "model": "version 3 (challenged)", "mean_abs_log": 0.2}
    ]
    spec = assert_titled_axes(charts.importance_chart(new, None))
    assert spec["encoding"]["y"]["sort"] == ["house size", "state"]


def summary(**fields: Any) -> RequestsSummaryOut:
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    base: dict[str, Any] = {
        "since": start,
        "until": start + timedelta(hours=1),
        "total": 7,
        "errors": 2,
        "by_endpoint": {"/predict": 5, "/explain": 2},
        "by_status": {"200": 5, "422": 2},
        "by_model_version": {"6": 7},
        "latency_ms": {"mean": 2.0, "p50": 1.0, "p90": 3.0, "p95": 4.0, "p99": 5.0},
        "bucket_seconds": 30,
        "over_time": [{"start": start, "requests": 7, "errors": 2, "p95_ms": 4.0}],
        "prices": {
            "count": 8,
            "requests_sampled": 5,
            "sample_limit": 5000,
            "p10": None,
            "p25": None,
            "p50": 150_000.0,
            "p75": None,
            "p90": None,
            "histogram_edges": [100_000.0, 200_000.0, 400_000.0],
            "histogram_counts": [3, 5],
        },
    }
    return RequestsSummaryOut.model_validate({**base, **fields})


def test_requests_rows_split_answered_and_errors() -> None:
    answer = summary()
    start, end, label = 1_767_268_800_000, 1_767_268_830_000, "2026-01-01 12:00:00 UTC"
    same = {"start": start, "end": end, "from": label}
    assert charts.requests_rows(answer) == [
        {**same, "kind": "answered", "requests": 5, "low": 0, "high": 5},
        {**same, "kind": "errors", "requests": 2, "low": 5, "high": 7},
    ]
    spec = assert_titled_axes(charts.requests_chart(answer))
    assert spec["encoding"]["y"]["title"] == "requests per 30 s"


def test_price_histogram_bins_in_dollars() -> None:
    prices: PriceDistributionOut = summary().prices
    assert charts.histogram_rows(prices) == [
        {"low": 100_000.0, "high": 200_000.0, "count": 3},
        {"low": 200_000.0, "high": 400_000.0, "count": 5},
    ]
    spec = assert_titled_axes(charts.price_histogram(prices))
    assert money_axes(spec) == ["x"]
    assert spec["encoding"]["x"]["scale"]["type"] == "log"


def test_endpoint_chart_most_first() -> None:
    chart = charts.endpoint_chart({"/explain": 2, "/predict": 5, "/batch_predict": 2})
    assert list(chart.data["endpoint"]) == ["/predict", "/batch_predict", "/explain"]
    assert_titled_axes(chart)
