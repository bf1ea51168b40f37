"""`make bench`'s table: the ratio column compares what each benchmark's target compares."""

from __future__ import annotations

import io
import re

from bench.__main__ import _targets, render
from rich.console import Console

BATCH = "serve 1,000 listings per request"
C1 = "serve 1 listing, concurrency 1"


def _rows() -> list[dict]:
    # p50 and rate disagree on purpose: the floor's p50 is far below its mean call time
    return [
        {"benchmark": BATCH, "impl": "tasador", "seconds": 0.008, "rows_per_s": 110_000.0,
         "by": "rate"},
        {"benchmark": BATCH, "impl": "in-process inplace_predict", "seconds": 0.004,
         "rows_per_s": 200_000.0, "by": "rate"},
        {"benchmark": C1, "impl": "tasador", "seconds": 0.001, "rows_per_s": 900.0,
         "by": "seconds"},
        {"benchmark": C1, "impl": "mlflow models serve", "seconds": 0.005, "rows_per_s": 150.0,
         "by": "seconds"},
    ]  # fmt: skip


def _table(rows: list[dict]) -> str:
    out = io.StringIO()
    render(rows, Console(file=out, width=250, color_system=None))
    return out.getvalue()


def _ratio(table: str, impl: str) -> str:
    line = next(line for line in table.splitlines() if impl in line)
    found = re.search(r"(\d+\.\d\d)×", line)
    assert found is not None, line
    return found.group(1)


def test_a_rate_target_is_shown_as_a_rate_ratio_matching_its_check() -> None:
    rows = _rows()
    table = _table(rows)
    # 110,000 rows/s against 200,000: tasador at 0.55 of the floor, the floor 0.55x "slower"
    assert _ratio(table, "in-process inplace_predict") == "0.55"
    check = next(value for name, _, value in _targets(rows) if name.startswith("1,000-row"))
    assert check == "0.55×"
    assert "MISS  1,000-row" not in table


def test_a_latency_target_is_shown_as_a_ratio_of_seconds() -> None:
    table = _table(_rows())
    assert _ratio(table, "mlflow models serve") == "5.00"  # 0.005 s / 0.001 s, not 900 / 150
    assert "PASS  p50 at concurrency 1" in table


def test_targets_measured_by_a_client_bound_load_generator_are_not_judged() -> None:
    rows = [{**row, "client_bound": True} for row in _rows()]
    table = _table(rows)
    assert "PASS  p50" not in table
    assert "MISS" not in table
    assert "NOT JUDGED  p50 at concurrency 1" in table
    assert "install wrk" in table


def test_the_quality_table_judges_the_k_fold_means() -> None:
    from bench.__main__ import render_quality

    def row(impl: str, rmse: float, coverage: float | None) -> dict:
        return {
            "benchmark": "price accuracy, 5-fold", "impl": impl, "rmse_log": rmse,
            "rmse_log_sd": 0.02, "mape": 0.4, "mape_sd": 0.02, "rows": 3_595,
            "coverage": coverage, "coverage_sd": 0.02, "width": 1.0, "width_sd": 0.05,
        }  # fmt: skip

    plain = "plain XGBoost (raw numbers, one-hot state)"
    for ours, held, verdicts in (
        (0.475, 0.776, ("PASS  RMSE(log) ≥ 15%", "PASS  the 80% range holds")),
        (0.52, 0.70, ("MISS  RMSE(log) ≥ 15%", "MISS  the 80% range holds")),
    ):
        out = io.StringIO()
        render_quality(
            [row("tasador", ours, held), row(plain, 0.59, None)],
            Console(file=out, width=200),
        )
        text = out.getvalue()
        for verdict in verdicts:
            assert verdict in text
        assert f"{held:.1%} ± 2.0%" in text
    out = io.StringIO()
    render_quality([{"benchmark": "price accuracy", "impl": "—", "skipped": "no sample"}],
                   Console(file=out))  # fmt: skip
    assert "skipped (no sample)" in out.getvalue()
