"""The serving process's OpenMP threads wait asleep, not spinning.

XGBoost predicts with OpenMP threads. By default libgomp, the OpenMP runtime its Linux wheels
bring, keeps each worker thread spinning for a while after every parallel region (`GOMP_SPINCOUNT`,
300,000 turns) so that the next region starts a little sooner. A server does other work between
two booster calls (reading and decoding the next request, writing answers, its database archiving
the last ones), and the spinning takes a core from it. Measured on 2 cores: a 1,000-row
`inplace_predict` followed by a 3-30 ms pause cost 17-25 ms of CPU per call spinning and 10-14 ms
with the threads asleep; `tasador serve` under back-to-back 1,000-listing requests used 17.5-20.6 ms
of CPU per request spinning against 11.6-15.3 ms with `OMP_WAIT_POLICY=PASSIVE`, and answered more
requests per second in 4 of 5 alternating pairs (by 11-14%).

`OMP_WAIT_POLICY` is the OpenMP standard's own variable; the runtime reads it once, when it is
loaded (with XGBoost), so `tasador serve` sets it first thing. A value already in the environment
wins.
"""

from __future__ import annotations

import os
import sys
from typing import Final

VARIABLE: Final[str] = "OMP_WAIT_POLICY"
PASSIVE: Final[str] = "PASSIVE"


def wait_passively() -> bool:
    """Make OpenMP threads wait asleep unless the environment chose; False if it is too late.

    Too late means XGBoost, and with it the OpenMP runtime, was loaded in this process before
    any policy was in the environment.
    """
    if "xgboost" in sys.modules:
        return VARIABLE in os.environ  # the runtime read it when it was loaded
    os.environ.setdefault(VARIABLE, PASSIVE)
    return True
