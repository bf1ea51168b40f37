"""The serving process's OpenMP threads sleep between booster calls instead of spinning."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Trains a small two-thread booster, predicts, then sleeps: how much CPU does the idle process use?
PROBE = """
import json, os, sys, time
if sys.argv[1] == "passive":
    from tasador.serving.openmp import wait_passively
    assert wait_passively()
import numpy as np, xgboost as xgb
rng = np.random.default_rng(0)
x = rng.normal(size=(4000, 8)).astype(np.float32)
booster = xgb.train({"max_depth": 6, "nthread": 2}, xgb.DMatrix(x, label=x.sum(axis=1)), 40)
for _ in range(5):
    booster.inplace_predict(x)
started = time.process_time()
time.sleep(0.3)
idle = (time.process_time() - started) * 1000
print(json.dumps({"idle_cpu_ms": idle, "policy": os.environ.get("OMP_WAIT_POLICY")}))
"""


def _probe(mode: str) -> dict[str, float | str | None]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], env=env, capture_output=True, text=True, check=True,
        timeout=120,
    ).stdout  # fmt: skip
    result: dict[str, float | str | None] = json.loads(out.strip().splitlines()[-1])
    return result


def test_after_a_prediction_the_idle_process_uses_no_cpu() -> None:
    result = _probe("passive")
    assert result["policy"] == "PASSIVE"
    assert float(result["idle_cpu_ms"] or 0) < 1.0  # nothing spins while the process sleeps


@pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="libgomp does not spin with more threads than CPUs"
)
def test_without_the_policy_the_threads_spin_after_a_prediction() -> None:
    """The control: what `wait_passively` prevents."""
    result = _probe("default")
    assert result["policy"] is None
    assert float(result["idle_cpu_ms"] or 0) > 1.0


def test_a_policy_already_in_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    import xgboost  # noqa: F401  (loaded in this process, as in a test session)

    from tasador.serving import openmp

    monkeypatch.setenv(openmp.VARIABLE, "ACTIVE")
    assert openmp.wait_passively()  # the environment chose before XGBoost was loaded
    assert os.environ[openmp.VARIABLE] == "ACTIVE"
    monkeypatch.delenv(openmp.VARIABLE)
    assert not openmp.wait_passively()  # loaded with no policy: too late to set one
    assert openmp.VARIABLE not in os.environ
