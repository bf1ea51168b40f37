"""Prometheus' configuration and rules, checked by Prometheus' own `promtool`: the config and rules
load, and the rule tests prove every alert fires on a failing series and stays silent on a healthy
one (Debian package `prometheus`; CI installs it, elsewhere the tests skip saying so)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> str:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`; .ci/run installs it)")
    done = subprocess.run(
        [binary, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_config_and_rules_load() -> None:
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")
    assert "SUCCESS" in promtool("check", "rules", *map(str, PROMETHEUS.glob("rules/*.yml")))


def test_every_alert_fires_on_failure_and_stays_silent_when_healthy() -> None:
    alerts = {
        rule["alert"]
        for path in PROMETHEUS.glob("rules/*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    fired: set[str] = set()
    silent: set[str] = set()
    for path in PROMETHEUS.glob("tests/*.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for check in test.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    assert alerts
    assert fired == alerts, "an alert no test sees firing"
    assert silent == alerts, "an alert no test sees silent"
    assert "SUCCESS" in promtool("test", "rules", *map(str, PROMETHEUS.glob("tests/*.yml")))
