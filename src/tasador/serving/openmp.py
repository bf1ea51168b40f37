"""The serving process's OpenMP threads wait asleep, not spinning.

By default libgomp (the OpenMP runtime of XGBoost's Linux wheels) keeps each worker thread spinning
for a while after every parallel region, taking a core from the server's other work between
booster calls (decoding requests, writing answers, the database archiving them). `OMP_WAIT_POLICY`
is the OpenMP standard's variable; the runtime reads it once, when it is loaded with XGBoost, so the
serving entry point sets it first thing. A value already in the environment wins. Measurements:
docs/serving-performance.md and `make bench` (idle CPU after a booster call).
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
