"""CPU that an idle serving process burns after a booster call: OpenMP threads spinning or asleep.

A process trains a small two-thread booster, predicts, then sleeps 0.3 s; the CPU it uses while
asleep is what spinning OpenMP threads take from the rest of the server (see
`tasador.serving.openmp`). With `OMP_WAIT_POLICY=PASSIVE` it should be about nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

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
print(json.dumps({"idle_cpu_s": time.process_time() - started}))
"""


def _idle_cpu(mode: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], env=env, capture_output=True, text=True, check=True,
        timeout=300,
    ).stdout  # fmt: skip
    return float(json.loads(out.strip().splitlines()[-1])["idle_cpu_s"])


def run(repeats: int = 3) -> list[dict[str, Any]]:
    """Median idle CPU over `repeats` processes, with the policy tasador sets and without it."""
    rows = []
    for impl, mode in (("tasador", "passive"), ("libgomp default (spinning)", "default")):
        runs = sorted(_idle_cpu(mode) for _ in range(repeats))
        rows.append(
            {
                "benchmark": "idle CPU in 0.3 s after a booster call",
                "impl": impl,
                "seconds": runs[len(runs) // 2],
                "note": "CPU seconds, median of 3 processes",
            }
        )
    return rows
