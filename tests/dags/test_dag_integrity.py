"""The DAG file as Airflow reads it: imports with no errors, no heavy imports at parse time, and the
tasks, dependencies, retries, params and schedule the loop needs (read in Airflow's environment)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fixtures.airflow import DAG_ID, DAGS, airflow_bin

# Run by Airflow's interpreter: parse the DAG folder as the dag-processor does, then describe it.
INSPECT = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
before = set(sys.modules)
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - started
dag = bag.dags.get(sys.argv[2])
print(json.dumps({
    "seconds": seconds,
    "errors": {path: str(error) for path, error in bag.import_errors.items()},
    "heavy": sorted(m for m in ("mlflow", "xgboost", "pandas", "sqlalchemy", "optuna")
                    if m in set(sys.modules) - before),
    "dag": None if dag is None else {
        "schedule": str(dag.schedule),
        "max_active_runs": dag.max_active_runs,
        "catchup": dag.catchup,
        "tags": sorted(dag.tags),
        "doc_md": bool(dag.doc_md),
        "params": {k: dag.params.get_param(k).resolve() for k in dag.params},
        "tasks": {t.task_id: {
            "upstream": sorted(t.upstream_task_ids),
            "retries": t.retries,
            "backoff": t.retry_exponential_backoff,
            "retry_delay": t.retry_delay.total_seconds(),
            "trigger_rule": getattr(t.trigger_rule, "value", t.trigger_rule),
        } for t in dag.tasks},
    },
}))
"""


def inspect_dag(tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    home = tmp_path / "airflow"
    home.mkdir(exist_ok=True)
    done = subprocess.run(
        [str(airflow_bin() / "python"), "-c", INSPECT, str(DAGS), DAG_ID],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "TASADOR_STATE_DIR": str(tmp_path / "state"),
            **(env or {}),
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_dag_file_imports_cleanly_without_heavy_modules(tmp_path: Path) -> None:
    found = inspect_dag(tmp_path)
    print(f"\nthe DAG folder parsed in {found['seconds'] * 1000:.0f} ms")
    assert found["errors"] == {}
    assert found["dag"] is not None
    assert found["heavy"] == []  # heavy imports live inside the tasks


def test_the_dag_has_the_loops_tasks_dependencies_and_retries(tmp_path: Path) -> None:
    dag = inspect_dag(tmp_path)["dag"]
    upstream = {task: set(spec["upstream"]) for task, spec in dag["tasks"].items()}
    assert upstream == {
        "fetch": set(),
        "clean": {"fetch"},
        "check_drift": {"fetch", "clean"},
        "decide": {"fetch", "check_drift"},
        "train": {"fetch", "decide"},
        "skip_training": {"decide"},
        "promote": {"fetch", "train"},
        "finish": {"fetch", "promote", "skip_training"},
        "reload": {"finish"},
    }
    assert dag["tasks"]["finish"]["trigger_rule"] == "none_failed_min_one_success"
    for task, spec in dag["tasks"].items():
        if task == "reload":  # a failed reload never fails the run: the API polls anyway
            assert spec["retries"] == 0
            continue
        assert spec["retries"] == 3, task
        assert spec["backoff"] == 2.0
        assert spec["retry_delay"] == 60.0
    assert dag["max_active_runs"] == 1
    assert dag["catchup"] is False
    assert dag["doc_md"]
    assert dag["tags"] == ["continuous-training", "tasador"]
    assert dag["params"] == {"group_number": 1, "day": "Tuesday"}
    assert dag["schedule"] == "@hourly"


@pytest.mark.parametrize(
    ("env", "schedule", "params", "retries"),
    [
        (
            {
                "TASADOR_AIRFLOW_SCHEDULE": "*/10 * * * *",
                "TASADOR_DATA_API_GROUP_NUMBER": "7",
                "TASADOR_DATA_API_DAY": "Friday",
                "TASADOR_AIRFLOW_RETRIES": "5",
            },
            "*/10 * * * *",
            {"group_number": 7, "day": "Friday"},
            5,
        ),
        ({"TASADOR_AIRFLOW_SCHEDULE": "none"}, "None", {"group_number": 1, "day": "Tuesday"}, 3),
    ],
)
def test_the_schedule_params_and_retries_come_from_the_settings(
    tmp_path: Path, env: dict[str, str], schedule: str, params: dict[str, Any], retries: int
) -> None:
    dag = inspect_dag(tmp_path, env)["dag"]
    assert dag["schedule"] == schedule
    assert dag["params"] == params
    assert dag["tasks"]["train"]["retries"] == retries
