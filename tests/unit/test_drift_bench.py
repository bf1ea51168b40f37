"""The drift benchmark runs end to end on a small size and reports every implementation."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "drift_bench.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("drift_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_reports_tasador_and_the_scipy_peer() -> None:
    rows = _load().run(rows=5_000)
    assert [r["impl"] for r in rows] == [
        "tasador",
        "tasador profile",
        "tasador (20k-sample profile)",
        "scipy ks_2samp + chi2_contingency",
    ]
    assert {r["benchmark"] for r in rows} == {"drift 5,000 vs 5,000"}
    assert all(r["seconds"] > 0 for r in rows)
    assert "price" in rows[0]["note"]  # the benchmark batch is 30% dearer
