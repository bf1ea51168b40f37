"""tasador's Grafana dashboards as code: `python deploy/grafana/dashboards.py` (`make dashboards`)
writes them as JSON into deploy/grafana/dashboards/, which Grafana provisions from files.

- `tasador-service`: the inference API, from Prometheus (its /metrics and the recording rules of
  deploy/prometheus/rules/tasador.yml).
- `tasador-loop`: what the loop did with each batch, from CLEAN DATA (PostgreSQL, read by the
  role of readonly-role.sql).

Data sources are named by the fixed uids of provisioning/datasources/tasador.yml. Every panel's
description is the question it answers (docs/observability.md lists them).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Self

from grafana_foundation_sdk.builders import (
    barchart,
    dashboard,
    heatmap,
    prometheus,
    stat,
    statushistory,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import heatmap as heatmap_model
from grafana_foundation_sdk.models import prometheus as prometheus_model

OUT: Final[Path] = Path(__file__).resolve().parent / "dashboards"

PROMETHEUS: Final = model.DataSourceRef(type_val="prometheus", uid="prometheus")
CLEAN_DATA: Final = model.DataSourceRef(
    type_val="grafana-postgresql-datasource", uid="tasador-clean"
)

# Grafana's "All" of the variable: any version, including one first seen after the page loaded.
MODEL_VERSION: Final[str] = 'model_version=~"$model_version"'


# PostgreSQL targets (the SDK has no builder for grafana-postgresql-datasource) -------------------


class SqlFormat(enum.StrEnum):
    """How Grafana reads the rows: a table, or series (a `time` column, `metric` names them)."""

    TABLE = "table"
    TIME_SERIES = "time_series"


@dataclass
class SqlQuery(cogvariants.Dataquery):
    """A raw-SQL target of the grafana-postgresql-datasource, written in the code editor."""

    ref_id: str
    raw_sql: str
    format: SqlFormat
    datasource: model.DataSourceRef

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "rawSql": self.raw_sql,
            "format": self.format,
            "rawQuery": True,
            "editorMode": "code",
            "datasource": self.datasource,
        }


class Sql(cogbuilder.Builder[SqlQuery]):
    """Builds a `SqlQuery` on CLEAN DATA: `Sql(text).time_series()`."""

    def __init__(self, raw_sql: str) -> None:
        self._internal = SqlQuery("A", raw_sql.strip(), SqlFormat.TABLE, CLEAN_DATA)

    def build(self) -> SqlQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def time_series(self) -> Self:
        self._internal.format = SqlFormat.TIME_SERIES
        return self


def promql(expr: str, legend: str, ref_id: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id)


# Small shared pieces -----------------------------------------------------------------------------


def legend_table() -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.RIGHT)
        .show_legend(True)
        .calcs(["lastNotNull", "max"])
    )


def legend_list() -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
    )


def steps(*pairs: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in pairs])
    )


def yes_no(no: str, yes: str) -> list[model.ValueMapping]:
    """0 and 1 shown as words, green and red."""
    return [
        model.ValueMap(
            options={
                "0": model.ValueMappingResult(text=no, color="green", index=0),
                "1": model.ValueMappingResult(text=yes, color="red", index=1),
            }
        )
    ]


def last_value() -> common_builders.ReduceDataOptions:
    return common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def series(title: str, question: str, unit: str) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .description(question)
        .unit(unit)
        .legend(legend_list())
        .height(8)
        .span(12)
    )


def bars(title: str, question: str, unit: str) -> timeseries.Panel:
    return (
        series(title, question, unit)
        .draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    )


def single(title: str, question: str, unit: str) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(question)
        .unit(unit)
        .reduce_options(last_value())
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .height(5)
        .span(6)
    )


def grid(title: str, question: str) -> statushistory.Panel:
    """Features as rows, batches as columns."""
    return (
        statushistory.Panel()
        .title(title)
        .description(question)
        .show_value(common.VisibilityMode.AUTO)
        .legend(legend_list())
        .height(9)
        .span(12)
    )


def sheet(title: str, question: str) -> table.Panel:
    return table.Panel().title(title).description(question).show_header(True).height(9).span(12)


def numbered(board: dashboard.Dashboard) -> model.Dashboard:
    """The built dashboard, its panels numbered in order (Grafana links and embeds by id)."""
    built = board.build()
    for number, panel in enumerate(built.panels or [], start=1):
        panel.id_val = number
    return built


def dashboard_links() -> dashboard.DashboardLink:
    return (
        dashboard.DashboardLink("tasador")
        .type(model.DashboardLinkType.DASHBOARDS)
        .tags(["tasador"])
        .as_dropdown(False)
        .keep_time(True)
    )


# The service: the inference API, from Prometheus -------------------------------------------------

RATE: Final[str] = "$__rate_interval"
PRICE_BUCKETS: Final[str] = (
    f"sum by (le) (rate(tasador_predicted_price_dollars_bucket{{{MODEL_VERSION}}}[{RATE}]))"
)
PRICE_BUCKETS_BY_VERSION: Final[str] = (
    "sum by (model_version, le) "
    f"(rate(tasador_predicted_price_dollars_bucket{{{MODEL_VERSION}}}[{RATE}]))"
)


def latency_quantile(q: float) -> str:
    return f"histogram_quantile({q}, tasador:request_seconds_bucket:rate5m)"


def service_dashboard() -> model.Dashboard:
    traffic = series(
        "Requests per second by endpoint",
        "How much traffic does each endpoint get? (5-minute rate, all API instances)",
        "reqps",
    ).with_target(promql("sum by (endpoint) (tasador:requests:rate5m)", "{{endpoint}}"))
    errors = series(
        "Errors: non-2xx share by endpoint and status",
        "Which endpoints refuse or fail requests, with which status, and how often? (share of "
        "the endpoint's requests; 4xx are the client's, 5xx the service's)",
        "percentunit",
    ).with_target(
        promql(
            'sum by (endpoint, status) (tasador:requests:rate5m{status!~"2.."})'
            " / ignoring (status) group_left"
            " sum by (endpoint) (tasador:requests:rate5m)",
            "{{endpoint}} {{status}}",
        )
    )
    server_errors = (
        single(
            "Server errors (5xx)",
            "Is the share of requests that end in a server error near the 5% that pages "
            "(TasadorHighErrorRate)?",
            "percentunit",
        )
        .thresholds(steps((None, "green"), (0.01, "orange"), (0.05, "red")))
        .with_target(
            # 0, not nothing, while there is traffic and no 5xx at all
            promql("tasador:errors:ratio_rate5m or sum(tasador:requests:rate5m) * 0", "5xx")
        )
    )
    latency = (
        series(
            "Latency p50 / p90 / p99 by endpoint",
            "How long does each endpoint take to answer, for the median, the 90th and the 99th "
            "percentile request? (5-minute window; TasadorSlowPredictions tickets /predict p99 "
            "over 500 ms)",
            "s",
        )
        .legend(legend_table())
        .span(24)
        .with_target(promql(latency_quantile(0.5), "{{endpoint}} p50", "A"))
        .with_target(promql(latency_quantile(0.9), "{{endpoint}} p90", "B"))
        .with_target(promql(latency_quantile(0.99), "{{endpoint}} p99", "C"))
    )
    served = (
        single(
            "Served model version",
            "Which model version do the API instances serve, and how many serve it?",
            "none",
        )
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .color_mode(common.BigValueColorMode.NONE)
        .with_target(promql("count by (name, version) (tasador_model_info)", "v{{version}}"))
    )
    age = (
        single(
            "Served model age",
            "How long ago did the served model finish training?",
            "s",
        )
        .color_mode(common.BigValueColorMode.NONE)
        .with_target(
            promql(
                "min by (version) (time() - tasador_model_trained_timestamp_seconds)",
                "v{{version}}",
            )
        )
    )
    loop_age = (
        single(
            "Since the loop last finished a batch",
            "Is the loop still finishing batches? (time since the last one; "
            "TasadorNoBatchProcessed tickets after 3 hours)",
            "s",
        )
        .thresholds(steps((None, "green"), (3 * 3600, "orange")))
        .with_target(
            promql("min(time() - tasador_loop_last_batch_timestamp_seconds)", "last batch")
        )
    )
    reloads_failed = (
        single(
            "Failed model reloads",
            "Has the API failed to load a new production model lately? (it keeps serving the "
            "one it has; TasadorModelReloadFailing tickets any failure in 15 minutes)",
            "none",
        )
        .thresholds(steps((None, "green"), (1, "red")))
        .with_target(
            promql(
                'sum(increase(tasador_model_reloads_total{result="failure"}[15m]))',
                "failures, 15 min",
            )
        )
    )
    priced = series(
        "Listings priced per second by model version",
        "How many listings does each model version price? (a list counts each listing; "
        "filtered by the model_version variable)",
        "suffix: listings/s",
    ).with_target(
        promql(
            f"sum by (model_version) (rate(tasador_predictions_total{{{MODEL_VERSION}}}[{RATE}]))",
            "v{{model_version}}",
        )
    )
    reloads = bars(
        "Model reloads by result",
        "When did the API swap a new model version in, and did any check or load fail?",
        "none",
    ).with_target(
        promql(
            f"sum by (result) (increase(tasador_model_reloads_total[{RATE}]))",
            "{{result}}",
        )
    )
    price_map = (
        heatmap.Panel()
        .title("Predicted prices: distribution")
        .description(
            "How are the prices the API gives spread, and does the spread move? (listings per "
            "second in each price band)"
        )
        .calculate(False)
        .rows_frame(heatmap.RowsHeatmapOptions().layout(common.HeatmapCellLayout.LE))
        .y_axis(heatmap.YAxisConfig().unit("currencyUSD"))
        .color(
            heatmap.HeatmapColorOptions()
            .mode(heatmap_model.HeatmapColorMode.SCHEME)
            .scheme("Oranges")
            .scale(heatmap_model.HeatmapColorScale.EXPONENTIAL)
            .exponent(0.5)
            .steps(64)
        )
        .show_legend()
        .show_tooltip()
        .height(9)
        .span(12)
        .with_target(
            promql(PRICE_BUCKETS, "{{le}}").format(prometheus_model.PromQueryFormat.HEATMAP)
        )
    )
    price_quantiles = (
        series(
            "Predicted prices by model version: p10 / p50 / p90",
            "What price does each model version give the typical listing, and the cheap and dear "
            "ones? (estimated from the price histogram's bands)",
            "currencyUSD",
        )
        .height(9)
        .with_target(
            promql(
                f"histogram_quantile(0.1, {PRICE_BUCKETS_BY_VERSION})",
                "v{{model_version}} p10",
                "A",
            )
        )
        .with_target(
            promql(
                f"histogram_quantile(0.5, {PRICE_BUCKETS_BY_VERSION})",
                "v{{model_version}} p50",
                "B",
            )
        )
        .with_target(
            promql(
                f"histogram_quantile(0.9, {PRICE_BUCKETS_BY_VERSION})",
                "v{{model_version}} p90",
                "C",
            )
        )
    )
    backlog = series(
        "Inference-log backlog",
        "Do inference records reach RAW DATA, or pile up in memory and the spill file? "
        "(TasadorInferenceLogBacklog tickets over 1,000 and growing)",
        "short",
    ).with_target(promql("tasador_inference_log_queue_depth", "{{instance}}"))
    write_failures = bars(
        "Inference-log write failures",
        "Does writing inference records to RAW DATA fail? (failed attempts; records are kept "
        "and retried)",
        "none",
    ).with_target(
        promql(
            f"sum by (instance) (increase(tasador_inference_log_write_failures_total[{RATE}]))",
            "{{instance}}",
        )
    )
    drift_verdict = (
        single(
            "Live traffic drifted?",
            "Do the listings the API was asked to price lately differ from the served model's "
            "training data? (the loop's drift rule, on the newest TASADOR_SERVING_DRIFT_SAMPLE "
            "listings, checked every TASADOR_SERVING_DRIFT_INTERVAL_SECONDS)",
            "none",
        )
        .mappings(yes_no("no drift", "drifted"))
        .thresholds(steps((None, "green"), (1, "red")))
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .with_target(
            promql(
                f"max by (model_version) (tasador_live_drift_detected{{{MODEL_VERSION}}})",
                "v{{model_version}}",
            )
        )
    )
    drift_listings = (
        single(
            "Listings in the last drift check",
            "How many recent listings did the last check compare? (at most "
            "TASADOR_SERVING_DRIFT_SAMPLE; under TASADOR_SERVING_DRIFT_MIN_LISTINGS no check "
            "runs and the last verdict stays)",
            "short",
        )
        .color_mode(common.BigValueColorMode.NONE)
        .with_target(
            promql(
                f"max by (model_version) (tasador_live_drift_listings{{{MODEL_VERSION}}})",
                "v{{model_version}}",
            )
        )
    )
    drift_checked = (
        single(
            "Since the last drift check",
            "Is the live drift monitor still checking? (time since each API instance last "
            "checked, whatever came of it; TASADOR_SERVING_DRIFT_INTERVAL_SECONDS=0 turns it off)",
            "s",
        )
        .color_mode(common.BigValueColorMode.NONE)
        .with_target(
            promql("time() - tasador_live_drift_last_check_timestamp_seconds", "{{instance}}")
        )
    )
    drifted_features = (
        statushistory.Panel()
        .title("Live traffic: drifted features")
        .description(
            "Which features of recent traffic drifted from the training data, check by check?"
        )
        .mappings(yes_no("stable", "drifted"))
        .thresholds(steps((None, "green"), (1, "red")))
        .legend(legend_list())
        .height(8)
        .span(8)
        .with_target(
            promql(
                "max by (model_version, feature) "
                f"(tasador_live_drift_feature_drifted{{{MODEL_VERSION}}})",
                "{{feature}}",
            )
        )
    )
    effect = (
        series(
            "Live traffic: effect size by feature",
            "How far has each feature of recent traffic moved from the training data? (KS D "
            "for numbers, Cramér's V for categories; 0 = the same, 1 = apart)",
            "none",
        )
        .min(0)
        .span(8)
        .with_target(
            promql(
                "max by (model_version, feature) "
                f"(tasador_live_drift_effect_size{{{MODEL_VERSION}}})",
                "{{feature}}",
            )
        )
    )
    psi = (
        series(
            "Live traffic: PSI by feature",
            "How much has each feature's population shifted between training and recent "
            "traffic? (population stability index; 0.2 is the loop's default line)",
            "none",
        )
        .min(0)
        .span(8)
        .with_target(
            promql(
                f"max by (model_version, feature) (tasador_live_drift_psi{{{MODEL_VERSION}}})",
                "{{feature}}",
            )
        )
    )
    board = (
        dashboard.Dashboard("tasador: inference service")
        .uid("tasador-service")
        .description("The inference API: traffic, errors, latency, models, prices, live drift.")
        .tags(["tasador"])
        .link(dashboard_links())
        .readonly()
        .time("now-3h", "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            dashboard.QueryVariable("model_version")
            .label("model version")
            .description("the versions that priced listings in the time range")
            .datasource(PROMETHEUS)
            .query("label_values(tasador_predictions_total, model_version)")
            .multi(True)
            .include_all(True)
            .all_value(".*")
            .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(model.VariableSort.NUMERICAL_DESC)
        )
        .with_row(dashboard.Row("Traffic and errors"))
        .with_panel(traffic.datasource(PROMETHEUS).span(9))
        .with_panel(errors.datasource(PROMETHEUS).span(9))
        .with_panel(server_errors.datasource(PROMETHEUS).height(8))
        .with_row(dashboard.Row("Latency"))
        .with_panel(latency.datasource(PROMETHEUS))
        .with_row(dashboard.Row("Models"))
        .with_panel(served.datasource(PROMETHEUS))
        .with_panel(age.datasource(PROMETHEUS))
        .with_panel(loop_age.datasource(PROMETHEUS))
        .with_panel(reloads_failed.datasource(PROMETHEUS))
        .with_panel(priced.datasource(PROMETHEUS))
        .with_panel(reloads.datasource(PROMETHEUS))
        .with_row(dashboard.Row("Predicted prices"))
        .with_panel(price_map.datasource(PROMETHEUS))
        .with_panel(price_quantiles.datasource(PROMETHEUS))
        .with_row(dashboard.Row("Inference log"))
        .with_panel(backlog.datasource(PROMETHEUS))
        .with_panel(write_failures.datasource(PROMETHEUS))
        .with_row(dashboard.Row("Live traffic drift"))
        .with_panel(drift_verdict.datasource(PROMETHEUS).span(8))
        .with_panel(drift_listings.datasource(PROMETHEUS).span(8))
        .with_panel(drift_checked.datasource(PROMETHEUS).span(8))
        .with_panel(drifted_features.datasource(PROMETHEUS))
        .with_panel(effect.datasource(PROMETHEUS))
        .with_panel(psi.datasource(PROMETHEUS))
    )
    return numbered(board)


# The loop: batches, drift, decisions and models, from CLEAN DATA ---------------------------------

REJECTED_BY_REASON: Final[str] = """
FROM batches AS b
CROSS JOIN LATERAL jsonb_each_text(b.rejected_by_reason) AS r(reason, n)
WHERE $__timeFilter(b.created_at)
"""
FEATURES_OF_REPORTS: Final[str] = """
FROM drift_reports AS d
CROSS JOIN LATERAL jsonb_array_elements(d.report -> 'features') AS f
WHERE $__timeFilter(d.created_at)
"""


def loop_dashboard() -> model.Dashboard:
    batch_rows = bars(
        "Rows per batch: received, kept, rejected",
        "How many rows did each batch bring, and how many survived cleaning?",
        "short",
    ).with_target(
        Sql(
            """
SELECT $__time(created_at), received, kept, rejected
FROM batches
WHERE $__timeFilter(created_at)
ORDER BY created_at
"""
        ).time_series()
    )
    # received = kept + rejected: stacking would count the rows twice
    batch_rows = batch_rows.stacking(
        common_builders.StackingConfig().mode(common.StackingMode.NONE)
    )
    rejected = bars(
        "Rows rejected by reason, per batch",
        "Why were rows rejected, batch by batch?",
        "short",
    ).with_target(
        Sql(
            f"""
SELECT $__time(b.created_at), r.reason AS metric, r.n::bigint AS value
{REJECTED_BY_REASON.strip()}
ORDER BY 1, 2
"""
        ).time_series()
    )
    rejected_total = (
        barchart.Panel()
        .title("Rows rejected by reason, in total")
        .description("Which cleaning rules reject the most rows over the time range?")
        .orientation(common.VizOrientation.HORIZONTAL)
        .x_field("reason")
        .legend(legend_list())
        .unit("short")
        .height(8)
        .span(12)
        .with_target(
            Sql(
                f"""
SELECT r.reason, sum(r.n::bigint)::bigint AS "rejected rows"
{REJECTED_BY_REASON.strip()}
GROUP BY r.reason
ORDER BY 2 DESC
"""
            )
        )
    )
    batch_table = sheet(
        "Batches: status and last error",
        "Where is each batch in the loop (received, cleaned, drift_checked, decided, trained, "
        "done), and what error stopped it, if any?",
    ).with_target(
        Sql(
            """
SELECT id AS batch, batch_number AS "number", status, received, kept, rejected, error,
       updated_at AS "last change"
FROM batches
WHERE $__timeFilter(created_at)
ORDER BY id DESC
"""
        )
    )
    drift_effect = (
        grid(
            "Drift heat map: effect size by feature and batch",
            "How far did each feature move from the production model's training data, batch "
            "by batch? (KS D for numbers, Cramér's V for categories; 0 = the same, 1 = apart)",
        )
        .color_scheme(dashboard.FieldColor().mode(model.FieldColorModeId.CONTINUOUS_GR_YL_RD))
        .min(0)
        .max(1)
        .decimals(2)
        .with_target(
            Sql(
                f"""
SELECT $__time(d.created_at), f ->> 'feature' AS metric, (f ->> 'effect_size')::float8 AS value
{FEATURES_OF_REPORTS.strip()}
ORDER BY 1, 2
"""
            ).time_series()
        )
    )
    drifted = (
        grid(
            "Drift heat map: drifted features by batch",
            "Which features drifted in which batch? (significant after correction and a large "
            "enough effect or PSI)",
        )
        .mappings(yes_no("stable", "drifted"))
        .thresholds(steps((None, "green"), (1, "red")))
        .with_target(
            Sql(
                f"""
SELECT $__time(d.created_at), f ->> 'feature' AS metric,
       (f ->> 'drifted')::boolean::int AS value
{FEATURES_OF_REPORTS.strip()}
ORDER BY 1, 2
"""
            ).time_series()
        )
    )
    drift_table = sheet(
        "Drift verdict per batch",
        "Did each batch drift from the production model's training data, and why?",
    ).with_target(
        Sql(
            """
SELECT batch_id AS batch, reference_model_version AS "against version",
       CASE WHEN verdict THEN 'drifted' ELSE 'no drift' END AS verdict, reason
FROM drift_reports
WHERE $__timeFilter(created_at)
ORDER BY batch_id DESC
"""
        )
    )
    decisions = sheet(
        "Decisions: retrain or not, and why",
        "Did the loop retrain on each batch, and why (first model, drift, a champion that got "
        "worse, or nothing to do)?",
    ).with_target(
        Sql(
            """
SELECT batch_id AS batch,
       CASE WHEN action = 'train' THEN 'retrain' ELSE 'keep the model' END AS decision,
       trigger, reason, created_at AS decided
FROM decisions
WHERE $__timeFilter(created_at)
ORDER BY batch_id DESC
"""
        )
    )
    promotions = sheet(
        "Promotions: promoted or rejected, and why",
        "Was each new version promoted to production or rejected, against which champion, and why?",
    ).with_target(
        Sql(
            """
SELECT model_version AS version, batch_id AS batch,
       CASE WHEN promoted THEN 'promoted' ELSE 'rejected' END AS outcome,
       champion_version AS "champion", promotion_reason AS reason, updated_at AS decided
FROM decisions
WHERE promoted IS NOT NULL AND $__timeFilter(updated_at)
ORDER BY batch_id DESC
"""
        )
    )
    rmse_by_version = (
        barchart.Panel()
        .title("RMSE(log) of each version and of the champion it challenged")
        .description(
            "Did each new version price the evaluation listings better than the production "
            "model of the time? (RMSE of log prices on the same rows; lower is better)"
        )
        .x_field("version")
        .legend(legend_list())
        .decimals(3)
        .height(8)
        .span(12)
        .with_target(
            Sql(
                """
SELECT 'v' || model_version AS version,
       (challenger_metrics ->> 'rmse_log')::float8 AS "RMSE(log)",
       (champion_metrics ->> 'rmse_log')::float8 AS "champion's RMSE(log), same rows"
FROM decisions
WHERE promoted IS NOT NULL AND challenger_metrics ->> 'rmse_log' IS NOT NULL
  AND $__timeFilter(updated_at)
ORDER BY batch_id
"""
            )
        )
    )
    production_rmse = (
        series(
            "Production RMSE(log) over time",
            "How good was the production model after each promotion? (its RMSE of log prices "
            "on the evaluation rows of its round)",
            "none",
        )
        .line_interpolation(common.LineInterpolation.STEP_AFTER)
        .show_points(common.VisibilityMode.ALWAYS)
        .decimals(3)
        .with_target(
            Sql(
                """
SELECT $__time(updated_at), (challenger_metrics ->> 'rmse_log')::float8 AS "production RMSE(log)"
FROM decisions
WHERE promoted AND $__timeFilter(updated_at)
ORDER BY updated_at
"""
            ).time_series()
        )
    )
    board = (
        dashboard.Dashboard("tasador: training loop")
        .uid("tasador-loop")
        .description("What the loop did with each batch: cleaning, drift, decisions, models.")
        .tags(["tasador"])
        .link(dashboard_links())
        .readonly()
        .time("now-7d", "now")
        .refresh("5m")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .with_row(dashboard.Row("Batches"))
        .with_panel(batch_rows.datasource(CLEAN_DATA))
        .with_panel(rejected.datasource(CLEAN_DATA))
        .with_panel(rejected_total.datasource(CLEAN_DATA))
        .with_panel(batch_table.datasource(CLEAN_DATA).height(8))
        .with_row(dashboard.Row("Drift"))
        .with_panel(drift_effect.datasource(CLEAN_DATA))
        .with_panel(drifted.datasource(CLEAN_DATA))
        .with_panel(drift_table.datasource(CLEAN_DATA).span(24).height(7))
        .with_row(dashboard.Row("Decisions and models"))
        .with_panel(decisions.datasource(CLEAN_DATA))
        .with_panel(promotions.datasource(CLEAN_DATA))
        .with_panel(rmse_by_version.datasource(CLEAN_DATA))
        .with_panel(production_rmse.datasource(CLEAN_DATA))
    )
    return numbered(board)


# Writing them ------------------------------------------------------------------------------------


def rendered() -> dict[str, str]:
    """Each dashboard's file name and JSON text (sorted keys, 2-space indent, final newline)."""
    boards = {"tasador-service.json": service_dashboard(), "tasador-loop.json": loop_dashboard()}
    return {
        name: json.dumps(board, cls=JSONEncoder, sort_keys=True, indent=2, ensure_ascii=False)
        + "\n"
        for name, board in boards.items()
    }


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, text in rendered().items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
