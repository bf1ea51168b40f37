"""The serving benchmark's bookkeeping: turns, medians, and what it reads from wrk."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from fixtures.http import running_server

BENCH = Path(__file__).resolve().parents[2] / "bench" / "serving_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("serving_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_measures_take_turns_and_report_medians_and_total_errors(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "SETTLE_SECONDS", 0.0)
    calls: list[str] = []

    def measure(name: str, values: list[float]) -> Callable[[], dict[str, float]]:
        runs = iter(values)

        def run() -> dict[str, float]:
            calls.append(name)
            value = next(runs)
            return {"p50": value, "errors": 1.0}

        return run

    stats = bench.interleaved(
        {"a": measure("a", [5.0, 1.0, 3.0]), "b": measure("b", [10.0, 30.0, 20.0])}, rounds=3
    )
    assert calls == ["a", "b", "a", "b", "a", "b"]
    assert stats == {"a": {"p50": 3.0, "errors": 3.0}, "b": {"p50": 20.0, "errors": 3.0}}


def test_in_process_calls_runs_the_work_back_to_back_and_reports_p50_and_mean(
    bench: ModuleType,
) -> None:
    done: list[int] = []
    stats = bench.in_process_calls(lambda: done.append(sum(range(1_000))), repeats=50)
    assert len(done) == 50
    assert set(stats) == {"p50", "mean"}
    assert stats["p50"] > 0
    assert stats["mean"] > 0


@pytest.mark.integration  # a real uvicorn server
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk (Debian package) is not installed")
def test_wrk_figures_are_read_from_a_real_run(bench: ModuleType) -> None:
    async def app(scope: dict, receive: Callable, send: Callable) -> None:
        assert scope["type"] == "http"
        while (await receive()).get("more_body"):
            pass
        status = 200 if scope["path"] == "/ok" else 500
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    with running_server(app) as url:
        good = bench.wrk_load(f"{url}/ok", b"{}", connections=2, seconds=1)
        bad = bench.wrk_load(f"{url}/fail", b"{}", connections=2, seconds=1)
    assert good["rps"] > 0
    assert 0 < good["p50"] <= good["p99"]
    assert good["errors"] == 0
    assert bad["errors"] > 0
