"""What `make lint` checks for security also holds in every test run (CI runs `make test`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_bandit_finds_nothing_of_medium_or_high_severity() -> None:
    report = subprocess.run(
        [BIN / "bandit", "-r", "src", "-ll", "-f", "json", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    results = json.loads(report.stdout)["results"]
    assert results == [], [(r["filename"], r["line_number"], r["test_id"]) for r in results]


def test_no_secret_in_the_tracked_files() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    found = subprocess.run(
        [BIN / "detect-secrets-hook", "--baseline", ".secrets.baseline", *files],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert found.returncode == 0, found.stdout + found.stderr
