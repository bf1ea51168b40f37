"""The old system's client under load (bench/locustfile.py) against the real inference API over a
finished loop: every endpoint it calls is called, and no answer lacks a field it reads.

Locust runs in a subprocess: importing it here would monkey-patch this whole process with gevent.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
# The request names the locustfile reports, one per endpoint (and query) the client calls.
ENDPOINTS = (
    ("POST", "/predict"),
    ("POST", "/explain"),
    ("POST", "/batch_predict"),
    ("GET", "/health"),
    ("GET", "/model"),
    ("GET", "/"),
    ("GET", "/states"),
    ("GET", "/predictions/history?limit=20"),
    ("GET", "/predictions/history?state=California"),
    ("GET", "/metrics/summary"),
)


def test_the_old_client_under_load_gets_every_field_it_reads(
    history_api: str, tmp_path: Path
) -> None:
    prefix = tmp_path / "load"
    # no locust settings from the environment; no bytecode written into the repository
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE.relative_to(ROOT)),
        "--headless",
        "-u",
        "20",
        "-r",
        "10",
        "-t",
        "15s",
        "--host",
        history_api,
        "--csv",
        str(prefix),
        "--only-summary",
        "--stop-timeout",
        "10",
    ]
    run = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    output = f"exit {run.returncode}\nstdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-5000:]}"
    stats_file = Path(f"{prefix}_stats.csv")
    failures_file = Path(f"{prefix}_failures.csv")
    assert stats_file.exists(), output

    with stats_file.open(newline="") as f:
        rows = list(csv.DictReader(f))
    counts = {(r["Type"], r["Name"]): int(r["Request Count"]) for r in rows}
    failed = {(r["Type"], r["Name"]): int(r["Failure Count"]) for r in rows}
    print("\nrequests (failures) by endpoint:")
    for key in sorted(counts):
        print(f"  {key[0]:>4} {key[1]:<42} {counts[key]:>6} ({failed[key]})")

    failures = failures_file.read_text() if failures_file.exists() else "(no failures file)"
    total = next(r for r in rows if r["Name"] == "Aggregated")
    assert int(total["Failure Count"]) == 0, f"failed requests:\n{failures}\n{output}"
    missing = [key for key in ENDPOINTS if counts.get(key, 0) == 0]
    assert not missing, f"never called: {missing}; counts: {counts}\n{output}"
    assert set(counts) - {("", "Aggregated")} == set(ENDPOINTS), counts
    assert run.returncode == 0, output
