"""`make bench`: tasador against named peers, measured in the same run, printed as one table.

Each benchmark module returns rows `{"benchmark", "impl", "seconds", ["rows_per_s"], ["note"]}`; the
row whose impl is exactly "tasador" is the reference of its benchmark, and every other row gets its
time as a ratio to it (a ratio above 1 means tasador is that many times faster). A benchmark
whose target is a rate (its rows say `"by": "rate"`) compares rows/s instead, as its target does.
The project's targets are checked and printed, never asserted; a target whose rows were measured
by a load generator that was itself the bottleneck (`client_bound`) is printed as not judged.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the free-port helper


def _targets(rows: list[dict[str, Any]]) -> list[tuple[str, bool | None, str]]:
    """The project's targets, checked against the measured rows (None: not judged)."""
    bound = {row["benchmark"] for row in rows if row.get("client_bound")}

    def seconds(benchmark: str, impl: str) -> float | None:
        for row in rows:
            if row["benchmark"].startswith(benchmark) and row["impl"] == impl:
                return float(row["seconds"])
        return None

    checks: list[tuple[str, bool | None, str]] = []
    ours, to_sql, copy = (
        seconds("ingest", "tasador"),
        seconds("ingest", "pandas to_sql"),
        seconds("ingest", "bare psycopg COPY"),
    )
    if ours and to_sql:
        checks.append(("ingest ≥ 7× pandas to_sql", to_sql / ours >= 7, f"{to_sql / ours:.1f}×"))
    if ours and copy:
        checks.append(
            ("ingest within 1.5× of bare COPY", ours / copy <= 1.5, f"{ours / copy:.2f}×")
        )

    def rate(benchmark: str, impl: str) -> float | None:
        for row in rows:
            if row["benchmark"] == benchmark and row["impl"] == impl and row.get("rows_per_s"):
                return float(row["rows_per_s"])
        return None

    peer = "mlflow models serve"
    c16 = "serve 1 listing, concurrency 16"
    c1 = "serve 1 listing, concurrency 1"
    ours16, peer16 = rate(c16, "tasador"), rate(c16, peer)
    if ours16 and peer16:
        checks.append(
            ("1-listing req/s at concurrency 16 ≥ 5× mlflow", ours16 >= 5 * peer16,
             f"{ours16 / peer16:.1f}×")
        )  # fmt: skip
    ours1, peer1 = seconds(c1, "tasador"), seconds(c1, peer)
    if ours1 and peer1:
        checks.append(
            ("p50 at concurrency 1 ≤ ¼ of mlflow's", ours1 <= peer1 / 4, f"{ours1 / peer1:.2f}×")
        )
    batch = "serve 1,000 listings per request"
    ours_b, floor_b = rate(batch, "tasador"), rate(batch, "in-process inplace_predict")
    if ours_b and floor_b:
        checks.append(
            ("1,000-row requests ≥ ½ the in-process booster rate", ours_b >= floor_b / 2,
             f"{ours_b / floor_b:.2f}×")
        )  # fmt: skip
    explain, contribs = (
        seconds("explain", "tasador"),
        seconds("explain", "in-process pred_contribs"),
    )
    if explain and contribs:
        checks.append(
            ("/explain p50 ≤ 1.25× in-process pred_contribs", explain <= 1.25 * contribs,
             f"{explain / contribs:.2f}×")
        )  # fmt: skip
    drift = seconds("drift", "tasador")
    if drift is not None:
        checks.append(("drift 1M vs 1M < 2 s", drift < 2.0, f"{drift:.2f} s"))
    judged: list[tuple[str, bool | None, str]] = []
    for name, ok, value in checks:
        serving = name.startswith(("1-listing", "p50 at", "1,000-row", "/explain"))
        if serving and bound:
            value += " (not judged: the Python load client was the bottleneck; install wrk)"
            ok = None
        judged.append((name, ok, value))
    return judged


def _slower(row: dict[str, Any], ref: dict[str, Any]) -> float:
    """How many times slower `row` is than tasador's `ref`, by rate where the benchmark says so."""
    if row.get("by") == "rate" and row.get("rows_per_s") and ref.get("rows_per_s"):
        return float(ref["rows_per_s"]) / float(row["rows_per_s"])
    return float(row["seconds"]) / float(ref["seconds"])


def render(rows: list[dict[str, Any]], console: Console) -> None:
    """Print the benchmark table and the target checks."""
    table = Table(title="tasador benchmarks (same machine, same run)")
    for column in ("benchmark", "implementation", "seconds", "rows/s", "vs tasador", "note"):
        table.add_column(
            column, justify="right" if column in {"seconds", "rows/s", "vs tasador"} else "left"
        )
    reference = {r["benchmark"]: r for r in rows if r["impl"] == "tasador"}
    for row in rows:
        ref = reference.get(row["benchmark"])
        comparable = ref is not None and row["impl"] != "tasador" and ref["seconds"] > 0
        ratio = f"{_slower(row, ref):.2f}×" if comparable and ref is not None else ""
        rate = f"{row['rows_per_s']:,.0f}" if row.get("rows_per_s") else ""
        table.add_row(
            row["benchmark"], row["impl"], f"{row['seconds']:.4f}", rate, ratio, row.get("note", "")
        )
    console.print(table)
    for name, ok, value in _targets(rows):
        verdict = "NOT JUDGED" if ok is None else "PASS" if ok else "MISS"
        console.print(f"{verdict}  {name}: {value}")


def render_quality(rows: list[dict[str, Any]], console: Console) -> None:
    """Print the price-accuracy table and its target (RMSE(log) ≥ 15% below plain XGBoost)."""
    table = Table(title="price accuracy on real listings (same rows, same run)")
    for column in (
        "split",
        "implementation",
        "RMSE(log)",
        "MAPE",
        "80% range holds",
        "range width / price",
        "test rows",
        "note",
    ):
        table.add_column(column, justify="left" if column in {"split", "implementation", "note"}
                         else "right")  # fmt: skip
    for row in rows:
        if "skipped" in row:
            console.print(f"price accuracy: skipped ({row['skipped']})")
            return
        spread = f" ± {row['rmse_log_sd']:.3f}" if "rmse_log_sd" in row else ""
        mape = f" ± {row['mape_sd']:.1%}" if "mape_sd" in row else ""
        held = width = "—"
        if row.get("coverage") is not None:
            held = f"{row['coverage']:.1%}"
            width = f"{row['width']:.2f}"
            if "coverage_sd" in row:
                held += f" ± {row['coverage_sd']:.1%}"
                width += f" ± {row['width_sd']:.2f}"
        table.add_row(
            row["benchmark"].removeprefix("price accuracy, "), row["impl"],
            f"{row['rmse_log']:.3f}{spread}", f"{row['mape']:.1%}{mape}", held, width,
            f"{row['rows']:,}", row.get("note", ""),
        )  # fmt: skip
    console.print(table)
    folds = {r["impl"]: r for r in rows if "rmse_log_sd" in r}
    ours, plain = folds.get("tasador"), folds.get("plain XGBoost (raw numbers, one-hot state)")
    if ours and plain:
        gain = 1 - ours["rmse_log"] / plain["rmse_log"]
        verdict = "PASS" if gain >= 0.15 else "MISS"
        console.print(
            f"{verdict}  RMSE(log) ≥ 15% below plain XGBoost, k-fold mean: {gain:.1%} below"
        )
    if ours and ours.get("coverage") is not None:
        held = ours["coverage"]
        verdict = "PASS" if 0.75 <= held <= 0.85 else "MISS"
        console.print(f"{verdict}  the 80% range holds 75–85% of test prices, k-fold: {held:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--only",
        nargs="*",
        help="benchmarks to run: drift ingest round serving openmp history quality",
    )
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args()
    wanted = set(
        args.only or ["drift", "ingest", "serving", "openmp", "round", "history", "quality"]
    )

    from fixtures.postgres import free_port
    from tasador.platform.postgres import EmbeddedPostgres

    console = Console(width=max(Console().width, 160))
    rows: list[dict[str, Any]] = []
    quality: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tasador-bench-") as tmp:
        if "drift" in wanted:
            from bench import drift_bench

            console.print("drift: 1M vs 1M rows …")
            rows += drift_bench.run()
        if "openmp" in wanted:
            from bench import openmp_bench

            console.print("openmp: idle CPU after a booster call, threads asleep vs spinning …")
            rows += openmp_bench.run()
        if wanted & {"ingest", "round", "serving", "history", "quality"}:
            server = EmbeddedPostgres(Path(tmp) / "pg", port=free_port(), durable=False)
            server.start()
            try:
                if "ingest" in wanted:
                    from bench import ingest_bench

                    console.print("ingest: tasador vs pandas to_sql vs bare COPY …")
                    server.create_database("bench_ingest")
                    rows += ingest_bench.run(url=server.url("bench_ingest"))
                if "serving" in wanted:
                    from bench import serving_bench

                    console.print("serving: tasador vs mlflow models serve, same model …")
                    rows += serving_bench.run(server, Path(tmp))
                if "round" in wanted:
                    from bench import round_bench

                    console.print("round: one round at the real API's batch sizes …")
                    rows += round_bench.run(server, Path(tmp))
                if "quality" in wanted:
                    from bench import quality_bench

                    console.print("quality: price accuracy on the real sample, tasador vs peers …")
                    quality = quality_bench.run(server, Path(tmp))
                if "history" in wanted:
                    from bench import history_bench

                    console.print("history: the history endpoints over 300 batches and versions …")
                    rows += history_bench.run(server, Path(tmp))
            finally:
                server.destroy()
    if rows:
        render(rows, console)
    if quality:
        render_quality(quality, console)
    if args.json:
        args.json.write_text(json.dumps(rows + quality, indent=2))


if __name__ == "__main__":
    main()
