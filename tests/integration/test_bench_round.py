"""The round benchmark at toy size: every step of a first model's round is timed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tasador.platform.postgres import EmbeddedPostgres

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `bench`

from bench import round_bench

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_round_bench_times_every_step_of_the_first_round(
    postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    rows = round_bench.run(postgres, tmp_path, rows=8_000, n_trials=1, prefix="bench_smoke")

    first = [r for r in rows if r["benchmark"].startswith("round: batch 0 ")]
    assert {r["impl"] for r in first} == {f"tasador {s}" for s in round_bench.STEPS} | {"tasador"}
    assert all(r["seconds"] > 0 and r["rows_per_s"] > 0 for r in rows)
    numbers = {r["benchmark"].split("(")[0] for r in rows}
    assert numbers == {f"round: batch {k} " for k in range(6)}
    total = next(r for r in first if r["impl"] == "tasador")
    steps = sum(r["seconds"] for r in first if r["impl"] != "tasador")
    assert total["seconds"] == pytest.approx(steps)
    assert "trained on" in total["note"]
