"""The serving process's OpenMP threads wait asleep: the policy is set before XGBoost loads.

How much CPU spinning threads take is measured by `make bench` (bench/openmp_bench.py), not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Builds the app factory's module the way `uvicorn --factory` does, then loads XGBoost.
PROBE = """
import json, os, sys
import tasador.serving.main
from tasador.serving.openmp import wait_passively
before = "xgboost" in sys.modules
set_in_time = wait_passively()
import xgboost
print(json.dumps({"xgboost_before": before, "in_time": set_in_time,
                  "policy": os.environ.get("OMP_WAIT_POLICY")}))
"""


def test_the_serving_entry_point_sets_the_policy_before_xgboost_loads() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True,
        timeout=120,
    ).stdout  # fmt: skip
    result = json.loads(out.strip().splitlines()[-1])
    assert result == {"xgboost_before": False, "in_time": True, "policy": "PASSIVE"}


def test_a_policy_already_in_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    import xgboost  # noqa: F401  (loaded in this process, as in a test session)

    from tasador.serving import openmp

    monkeypatch.setenv(openmp.VARIABLE, "ACTIVE")
    assert openmp.wait_passively()  # the environment chose before XGBoost was loaded
    assert os.environ[openmp.VARIABLE] == "ACTIVE"
    monkeypatch.delenv(openmp.VARIABLE)
    assert not openmp.wait_passively()  # loaded with no policy: too late to set one
    assert openmp.VARIABLE not in os.environ
