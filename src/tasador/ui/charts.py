"""The UI's charts: the API's answers as Altair charts, with axis titles and units.

Each chart has a pure data step (`*_rows`, `waterfall_steps`) that the unit tests check with exact
values, and a builder that only draws those rows. Altair only: charts render offline, with no
maps, tiles or web fonts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC
from typing import Any, Final, TypeVar

import altair as alt
import pandas as pd

from tasador.serving.history_models import (
    BatchOut,
    DistributionBinsOut,
    ImportanceOut,
    ModelVersionOut,
    PriceDistributionOut,
    RequestsSummaryOut,
)
from tasador.ui.words import dollars, field_words, reason_words, signed_dollars

Chart = TypeVar("Chart", alt.Chart, alt.LayerChart)

MONEY: Final[str] = "$,.0f"
SHARE: Final[str] = ".0%"

#: Colours by model status: the same on every chart.
STATUS_COLOURS: Final[dict[str, str]] = {
    "production": "#1f77b4",
    "promoted": "#2ca02c",
    "rejected": "#d62728",
    "pending": "#7f7f7f",
}
_STATUS_SHAPES: Final[dict[str, str]] = {
    "production": "diamond",
    "promoted": "circle",
    "rejected": "cross",
    "pending": "square",
}


def _scale(colours: Mapping[str, str]) -> alt.Scale:
    return alt.Scale(domain=list(colours), range=list(colours.values()))


def _sized(chart: Chart, height: int) -> Chart:
    """`height` pixels of plot (axes and legends come on top); the width fits the page."""
    return chart.properties(
        height=height, autosize=alt.AutoSizeParams(type="fit-x", contains="padding")
    )


_BOTTOM_LEGEND: Final = alt.Legend(orient="bottom", direction="vertical", labelLimit=0)


# --- why this price ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaterfallStep:
    """One bar of a waterfall: from `start` to `end` dollars; `kind` total, up or down."""

    label: str
    start: float
    end: float
    kind: str

    @property
    def dollars(self) -> float:
        return self.end - self.start


def waterfall_steps(
    base_price: float,
    contributions: Mapping[str, float],
    price: float,
    *,
    words: Callable[[str], str] = field_words,
) -> list[WaterfallStep]:
    """The base price, each contribution (largest in size first) added to a running total, and the
    price: the API's dollars add up, so the running total ends at the price."""
    steps = [WaterfallStep("base price", 0.0, base_price, "total")]
    running = base_price
    for name, value in sorted(contributions.items(), key=lambda kv: (-abs(kv[1]), kv[0])):
        steps.append(WaterfallStep(words(name), running, running + value, _direction(value)))
        running += value
    steps.append(WaterfallStep("price", 0.0, price, "total"))
    return steps


def _direction(value: float) -> str:
    return "raises the price" if value >= 0 else "lowers the price"


_WATERFALL_COLOURS: Final[dict[str, str]] = {
    "total": "#4c78a8",
    "raises the price": "#2ca02c",
    "lowers the price": "#d62728",
}


def waterfall_chart(steps: Sequence[WaterfallStep]) -> alt.LayerChart:
    """Horizontal bars from the base price through each input's contribution to the price, in
    order, each labelled with its dollars. The axis spans the running totals, not 0 to the price:
    from zero, the contributions (a few percent of the price) would be slivers."""
    moving = [v for step in steps if step.kind != "total" for v in (step.start, step.end)]
    totals = [step.end for step in steps if step.kind == "total"]
    low, high = min(moving + totals), max(moving + totals)
    floor = max(0.0, low - 0.15 * (high - low or abs(low) or 1.0))
    rows = [
        {
            **asdict(step),
            "dollars": step.dollars,
            "low": floor if step.kind == "total" else min(step.start, step.end),
            "high": max(step.start, step.end),
            "text": signed_dollars(step.dollars) if step.kind != "total" else dollars(step.end),
        }
        for step in steps
    ]
    data = pd.DataFrame(
        rows, columns=["label", "start", "end", "kind", "dollars", "low", "high", "text"]
    )
    base = alt.Chart(data).encode(
        y=alt.Y("label:N", sort=[step.label for step in steps], title="input of the listing"),
    )
    bars = base.mark_bar().encode(
        x=alt.X(
            "low:Q",
            title="price (USD)",
            axis=alt.Axis(format=MONEY),
            scale=alt.Scale(zero=False, nice=False, domain=[floor, high + 0.1 * (high - floor)]),
        ),
        x2="high:Q",
        color=alt.Color("kind:N", scale=_scale(_WATERFALL_COLOURS), title=None),
        tooltip=[
            alt.Tooltip("label:N", title="input"),
            alt.Tooltip("dollars:Q", title="contribution (USD)", format=MONEY),
            alt.Tooltip("end:Q", title="running total (USD)", format=MONEY),
        ],
    )
    labels = base.mark_text(align="left", dx=4).encode(
        x=alt.X("high:Q", title="price (USD)"), text="text:N"
    )
    return _sized(alt.LayerChart(layer=[bars, labels]), 28 * len(rows))


# --- compare locations ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceBar:
    """One place and the price of the same home there; `note` colours it."""

    place: str
    price: float
    note: str = ""


def price_bars(bars: Sequence[PriceBar], *, place_title: str) -> alt.Chart:
    """Horizontal bars of one home's price in each place, most expensive first."""
    rows = [asdict(bar) for bar in sorted(bars, key=lambda b: (-b.price, b.place))]
    notes = sorted({bar.note for bar in bars})
    colours = dict(zip(notes, ["#4c78a8", "#f58518", "#9d9d9d", "#54a24b"], strict=False))
    chart = (
        alt.Chart(pd.DataFrame(rows, columns=["place", "price", "note"]))
        .mark_bar()
        .encode(
            x=alt.X("price:Q", title="predicted price (USD)", axis=alt.Axis(format=MONEY)),
            y=alt.Y("place:N", sort="-x", title=place_title, axis=alt.Axis(labelOverlap=False)),
            color=alt.Color("note:N", scale=_scale(colours), title=None, legend=_BOTTOM_LEGEND),
            tooltip=[
                alt.Tooltip("place:N", title=place_title),
                alt.Tooltip("price:Q", title="price (USD)", format=MONEY),
                alt.Tooltip("note:N", title="note"),
            ],
        )
    )
    return _sized(chart, 22 * max(3, len(rows)))


# --- model history -------------------------------------------------------------------------


def rmse_rows(models: Sequence[ModelVersionOut]) -> list[dict[str, Any]]:
    """Each version that has a batch number and an RMSE(log): its point on the history chart,
    oldest batch first."""
    rows = [
        {
            "version": m.version,
            "batch": m.batch_number,
            "rmse_log": m.metrics["rmse_log"],
            "status": m.status,
            "reason": m.reason or "",
        }
        for m in models
        if m.batch_number is not None and "rmse_log" in m.metrics
    ]
    return sorted(
        rows, key=lambda r: (r["batch"], int(r["version"]) if r["version"].isdigit() else 0)
    )


def rmse_history_chart(models: Sequence[ModelVersionOut]) -> alt.LayerChart:
    """RMSE(log) of each version over the batch it was trained on, marked by status."""
    data = pd.DataFrame(
        rmse_rows(models), columns=["version", "batch", "rmse_log", "status", "reason"]
    )
    base = alt.Chart(data).encode(
        x=alt.X("batch:Q", title="batch number", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y(
            "rmse_log:Q", title="RMSE of log price (lower is better)", scale=alt.Scale(zero=False)
        ),
    )
    line = base.mark_line(color="#9d9d9d")
    points = base.mark_point(size=140, filled=True).encode(
        color=alt.Color("status:N", scale=_scale(STATUS_COLOURS), title="status"),
        shape=alt.Shape("status:N", scale=_scale(_STATUS_SHAPES), title="status"),
        tooltip=[
            alt.Tooltip("version:N", title="version"),
            alt.Tooltip("batch:Q", title="batch"),
            alt.Tooltip("rmse_log:Q", title="RMSE (log price)", format=".4f"),
            alt.Tooltip("status:N", title="status"),
            alt.Tooltip("reason:N", title="reason"),
        ],
    )
    return _sized(alt.LayerChart(layer=[line, points]), 300)


# --- data and drift ------------------------------------------------------------------------


def rows_by_batch(batches: Sequence[BatchOut]) -> list[dict[str, Any]]:
    """Rows kept and rejected (one part per reason) of each batch, oldest first."""
    rows = []
    for batch in sorted(batches, key=lambda b: b.batch_number):
        rows.append({"batch": batch.batch_number, "part": "kept", "rows": batch.kept})
        for reason, count in sorted(batch.rejected_by_reason.items()):
            rows.append(
                {
                    "batch": batch.batch_number,
                    "part": f"rejected: {reason_words(reason)}",
                    "rows": count,
                }
            )
    return rows


def rows_by_batch_chart(batches: Sequence[BatchOut]) -> alt.Chart:
    """Stacked bars: the rows each batch kept, and those it rejected by reason."""
    data = pd.DataFrame(rows_by_batch(batches), columns=["batch", "part", "rows"])
    parts = sorted(set(data["part"]) - {"kept"})
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("batch:O", title="batch number", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("rows:Q", title="rows", stack="zero"),
            color=alt.Color("part:N", title="rows", sort=["kept", *parts], legend=_BOTTOM_LEGEND),
            order=alt.Order("part:N"),
            tooltip=[
                alt.Tooltip("batch:O", title="batch"),
                alt.Tooltip("part:N", title="rows"),
                alt.Tooltip("rows:Q", title="count", format=","),
            ],
        )
    )
    return _sized(chart, 300)


def drift_cells(batches: Sequence[BatchOut]) -> list[dict[str, Any]]:
    """One cell per feature and checked batch: effect size over its threshold (1 or more is
    a drift-sized effect) and whether the test called it drifted."""
    cells = []
    for batch in sorted(batches, key=lambda b: b.batch_number):
        if batch.drift is None or not batch.drift.checked:
            continue
        for f in batch.drift.features:
            ratio = f.effect_size / f.effect_threshold if f.effect_threshold > 0 else 0.0
            cells.append(
                {
                    "batch": batch.batch_number,
                    "feature": field_words(f.feature),
                    "ratio": ratio,
                    "effect_size": f.effect_size,
                    "effect_threshold": f.effect_threshold,
                    "psi": f.psi,
                    "drifted": f.drifted,
                    "mark": "drifted" if f.drifted else "",
                }
            )
    return cells


def drift_heatmap(batches: Sequence[BatchOut]) -> alt.LayerChart:
    """Feature × batch: colour the effect size over its threshold, labelled where it drifted."""
    columns = [
        "batch",
        "feature",
        "ratio",
        "effect_size",
        "effect_threshold",
        "psi",
        "drifted",
        "mark",
    ]
    data = pd.DataFrame(drift_cells(batches), columns=columns)
    base = alt.Chart(data).encode(
        x=alt.X("batch:O", title="batch number", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("feature:N", title="feature"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "ratio:Q",
            title="effect size ÷ threshold",
            scale=alt.Scale(scheme="orangered", domainMin=0),
        ),
        tooltip=[
            alt.Tooltip("feature:N", title="feature"),
            alt.Tooltip("batch:O", title="batch"),
            alt.Tooltip("effect_size:Q", title="effect size", format=".3f"),
            alt.Tooltip("effect_threshold:Q", title="threshold", format=".3f"),
            alt.Tooltip("ratio:Q", title="effect ÷ threshold", format=".2f"),
            alt.Tooltip("psi:Q", title="PSI", format=".3f"),
            alt.Tooltip("drifted:N", title="drifted"),
        ],
    )
    labels = base.mark_text(fontWeight="bold").encode(text="mark:N")
    return _sized(alt.LayerChart(layer=[cells, labels]), 32 * max(1, data["feature"].nunique()))


def distribution_rows(bins: DistributionBinsOut) -> list[dict[str, Any]]:
    """Each bin's share in the reference (the champion's training data) and in the batch."""
    rows = []
    for i, label in enumerate(bins.labels):
        rows.append({"bin": label, "order": i, "data": "reference", "share": bins.reference[i]})
        rows.append({"bin": label, "order": i, "data": "this batch", "share": bins.current[i]})
    return rows


def distribution_chart(bins: DistributionBinsOut, feature: str) -> alt.Chart:
    """Side-by-side bars of the reference and the batch, as shares of the same bins."""
    data = pd.DataFrame(distribution_rows(bins), columns=["bin", "order", "data", "share"])
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "bin:N",
                sort=list(bins.labels),
                title=field_words(feature),
                axis=alt.Axis(labelAngle=-30, labelLimit=200),
            ),
            xOffset=alt.XOffset("data:N", sort=["reference", "this batch"]),
            y=alt.Y("share:Q", title="share of rows", axis=alt.Axis(format=SHARE)),
            color=alt.Color(
                "data:N",
                title=None,
                scale=_scale({"reference": "#9d9d9d", "this batch": "#f58518"}),
            ),
            tooltip=[
                alt.Tooltip("bin:N", title=field_words(feature)),
                alt.Tooltip("data:N", title="data"),
                alt.Tooltip("share:Q", title="share", format=".1%"),
            ],
        )
    )
    return _sized(chart, 260)


# --- why it retrained ----------------------------------------------------------------------


def importance_rows(new: ImportanceOut | None, old: ImportanceOut | None) -> list[dict[str, Any]]:
    """Mean |SHAP| per listing input of the new version and the one it challenged."""
    rows = []
    for role, importance in (("new", new), ("challenged", old)):
        if importance is None:
            continue
        for term in importance.inputs:
            rows.append(
                {
                    "input": field_words(term.name),
                    "model": f"version {importance.version} ({role})",
                    "mean_abs_log": term.mean_abs_log,
                }
            )
    return rows


def importance_chart(new: ImportanceOut | None, old: ImportanceOut | None) -> alt.Chart:
    """Side-by-side bars of global importance per input, new model against the one it challenged,
    inputs by the new model's importance."""
    data = pd.DataFrame(importance_rows(new, old), columns=["input", "model", "mean_abs_log"])
    first = new or old
    order = [field_words(t.name) for t in first.inputs] if first else []
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("input:N", sort=order, title="input of the listing"),
            yOffset=alt.YOffset("model:N"),
            x=alt.X("mean_abs_log:Q", title="mean |SHAP| (log price)"),
            color=alt.Color("model:N", title=None, legend=_BOTTOM_LEGEND),
            tooltip=[
                alt.Tooltip("input:N", title="input"),
                alt.Tooltip("model:N", title="model"),
                alt.Tooltip("mean_abs_log:Q", title="mean |SHAP| (log price)", format=".4f"),
            ],
        )
    )
    return _sized(chart, 30 * max(1, len(order)))


# --- live service --------------------------------------------------------------------------


def requests_rows(summary: RequestsSummaryOut) -> list[dict[str, Any]]:
    """Answered and failed requests per time bucket, stacked (`low` to `high`); times as epoch
    milliseconds (what Vega reads as an instant, so the axis shows UTC in any browser's zone)
    and as UTC text."""
    rows = []
    for bucket in summary.over_time:
        start = round(bucket.start.timestamp() * 1000)
        end = start + summary.bucket_seconds * 1000
        label = bucket.start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        answered = bucket.requests - bucket.errors
        for kind, low, high in (
            ("answered", 0, answered),
            ("errors", answered, bucket.requests),
        ):
            rows.append(
                {
                    "start": start,
                    "end": end,
                    "from": label,
                    "kind": kind,
                    "requests": high - low,
                    "low": low,
                    "high": high,
                }
            )
    return rows


def requests_chart(summary: RequestsSummaryOut) -> alt.Chart:
    """Requests over time, one bar per bucket, answered below and errors on top."""
    columns = ["start", "end", "from", "kind", "requests", "low", "high"]
    data = pd.DataFrame(requests_rows(summary), columns=columns)
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("start:T", title="time (UTC)", scale=alt.Scale(type="utc")),
            x2="end:T",
            y=alt.Y("low:Q", title=f"requests per {summary.bucket_seconds} s"),
            y2="high:Q",
            color=alt.Color(
                "kind:N", title=None, scale=_scale({"answered": "#4c78a8", "errors": "#d62728"})
            ),
            tooltip=[
                alt.Tooltip("from:N", title="from"),
                alt.Tooltip("kind:N", title="requests"),
                alt.Tooltip("requests:Q", title="count", format=","),
            ],
        )
    )
    return _sized(chart, 240)


def histogram_rows(prices: PriceDistributionOut) -> list[dict[str, Any]]:
    """The predicted-price histogram's bins: from, to, count."""
    edges, counts = prices.histogram_edges, prices.histogram_counts
    return [
        {"low": edges[i], "high": edges[i + 1], "count": count}
        for i, count in enumerate(counts)
        if i + 1 < len(edges)
    ]


def price_histogram(prices: PriceDistributionOut) -> alt.Chart:
    """How many answered prices fell in each (log-spaced) bin of dollars."""
    data = pd.DataFrame(histogram_rows(prices), columns=["low", "high", "count"])
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "low:Q",
                title="predicted price (USD, log scale)",
                scale=alt.Scale(type="log"),
                axis=alt.Axis(format=MONEY, labelOverlap=True),
            ),
            x2="high:Q",
            y=alt.Y("count:Q", title="predictions"),
            y2=alt.datum(0),
            tooltip=[
                alt.Tooltip("low:Q", title="from (USD)", format=MONEY),
                alt.Tooltip("high:Q", title="to (USD)", format=MONEY),
                alt.Tooltip("count:Q", title="predictions", format=","),
            ],
        )
    )
    return _sized(chart, 240)


def endpoint_chart(by_endpoint: Mapping[str, int]) -> alt.Chart:
    """Requests per endpoint, most first."""
    ranked: list[tuple[str, int]] = sorted(by_endpoint.items(), key=lambda kv: (-kv[1], kv[0]))
    data = pd.DataFrame(ranked, columns=["endpoint", "requests"])
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("requests:Q", title="requests"),
            y=alt.Y("endpoint:N", sort="-x", title="endpoint"),
            tooltip=[
                alt.Tooltip("endpoint:N", title="endpoint"),
                alt.Tooltip("requests:Q", title="requests", format=","),
            ],
        )
    )
    return _sized(chart, 28 * max(1, len(data)))
