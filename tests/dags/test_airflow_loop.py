"""The loop under a real Airflow: `dags/tasador_loop.py` run by Airflow's LocalExecutor (metadata in
PostgreSQL, task logs in S3), against a real MLflow server whose artifacts live in a real SeaweedFS,
the data API simulator and a running inference API.

The tests share one world and run in order: a first round; a round with the data API down (it
fails and changes nothing; the next round takes the batch it could not); rounds until the API is
finished, compared with `tasador run` on the same data; then what the bucket holds; then re-runs.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from mlflow import MlflowClient

from fixtures.airflow import AirflowWorld, DagRunOutcome, airflow_bin
from fixtures.http import free_port, running_server, unused_url
from fixtures.loop import FinishedLoop
from fixtures.serving import wait_until
from tasador.datasource.simulator import create_simulator_app
from tasador.pipeline import RoundResult, Stores, summarize
from tasador.platform.mlflow_server import MlflowServer
from tasador.platform.postgres import EmbeddedPostgres
from tasador.platform.processes import spawn_session, stop_group
from tasador.platform.seaweedfs import SeaweedS3, local_credentials
from tasador.registry.aliases import get_production
from tasador.storage import clean_store
from tasador.storage.engine import make_engine
from tasador.storage.lake import s3_lake
from tasador.storage.objects import list_keys

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BATCHES = 3  # a first model, a second batch, then one with drift
BUCKET = "tasador-loop"
TASKS = {"fetch", "clean", "check_drift", "decide", "train", "promote", "skip_training",
         "finish", "reload"}  # fmt: skip
RELOAD_TOKEN = "airflow-test-reload-token"


@dataclass
class LoopWorld:
    airflow: AirflowWorld
    s3: SeaweedS3
    raw_url: str
    clean_url: str
    tracking_uri: str
    model_name: str
    api_url: str
    runs: list[DagRunOutcome] = field(default_factory=list)
    _engines: list[sa.Engine] = field(default_factory=list)

    def stores(self) -> Stores:
        raw, clean = make_engine(self.raw_url), make_engine(self.clean_url)
        self._engines += [raw, clean]
        return Stores(raw=raw, clean=clean, mlflow=MlflowClient(tracking_uri=self.tracking_uri))

    def keys(self, prefix: str) -> list[str]:
        return list_keys(self.s3.endpoint_url, self.s3.credentials, BUCKET, prefix)

    def snapshot(self) -> dict[str, int]:
        """Rows of every table of RAW and CLEAN DATA, model versions and objects in the bucket."""
        counts: dict[str, int] = {}
        for name, engine in (
            ("raw", make_engine(self.raw_url)),
            ("clean", make_engine(self.clean_url)),
        ):
            with engine.connect() as conn:
                tables = conn.execute(
                    sa.text(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = 'public' AND table_name <> 'alembic_version'"
                    )
                ).scalars()
                for table in tables:
                    query = sa.select(sa.func.count()).select_from(sa.table(table))
                    counts[f"{name}.{table}"] = int(conn.execute(query).scalar_one())
            engine.dispose()
        client = MlflowClient(tracking_uri=self.tracking_uri)
        counts["model versions"] = len(client.search_model_versions(f"name='{self.model_name}'"))
        counts["lake objects"] = len(self.keys("data-"))
        return counts


@pytest.fixture(scope="module")
def world(
    postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory, test_batches: list[Any]
) -> Iterator[LoopWorld]:
    airflow_bin()  # skips, saying why, without Airflow's environment
    tmp = tmp_path_factory.mktemp("airflow-loop")
    with ExitStack() as stack:
        s3 = SeaweedS3(tmp / "s3", free_port(), local_credentials(tmp / "keys"), BUCKET)
        s3.start()
        stack.callback(s3.stop)
        databases = {kind: f"af_{kind}_{uuid.uuid4().hex[:8]}" for kind in
                     ("raw", "clean", "mlflow", "airflow")}  # fmt: skip
        for name in databases.values():
            postgres.create_database(name)
            stack.callback(postgres.drop_database, name)
        mlflow = MlflowServer(
            backend_uri=postgres.url(databases["mlflow"]),
            artifacts_destination=f"s3://{BUCKET}/mlartifacts",
            port=free_port(),
            log_file=tmp / "mlflow.log",
            env={**s3.credentials.env(), "MLFLOW_S3_ENDPOINT_URL": s3.endpoint_url},
        )
        mlflow.start(timeout=180)
        stack.callback(mlflow.stop)
        simulator = stack.enter_context(
            running_server(create_simulator_app(test_batches[:BATCHES]))
        )
        model_name = f"tasador-airflow-{uuid.uuid4().hex[:8]}"
        api_port = free_port()
        tasador_env = {
            "TASADOR_STATE_DIR": str(tmp / "state"),
            "TASADOR_DB_RAW_URL": postgres.url(databases["raw"]),
            "TASADOR_DB_CLEAN_URL": postgres.url(databases["clean"]),
            "TASADOR_DB_MLFLOW_URL": postgres.url(databases["mlflow"]),
            "TASADOR_MLFLOW_TRACKING_URI": mlflow.url,
            "TASADOR_MLFLOW_MODEL_NAME": model_name,
            "TASADOR_MLFLOW_EXPERIMENT": model_name,
            "TASADOR_DATA_API_URL": simulator,
            "TASADOR_DATA_API_ATTEMPTS": "2",
            "TASADOR_TRAIN_N_TRIALS": "3",
            "TASADOR_TRAIN_TIMEOUT_SECONDS": "600",
            "TASADOR_S3_ENDPOINT_URL": s3.endpoint_url,
            "TASADOR_S3_BUCKET": BUCKET,
            "TASADOR_S3_ACCESS_KEY_ID": s3.credentials.access_key_id,
            "TASADOR_S3_SECRET_ACCESS_KEY": s3.credentials.secret_access_key,
            "TASADOR_SERVING_PORT": str(api_port),
            "TASADOR_SERVING_RELOAD_TOKEN": RELOAD_TOKEN,
            "TASADOR_AIRFLOW_RETRIES": "1",
            "TASADOR_AIRFLOW_RETRY_DELAY_SECONDS": "1",
            "TASADOR_AIRFLOW_MAX_RETRY_DELAY_SECONDS": "2",
        }
        # the inference API polls the registry only hourly here: what it serves, the DAG's
        # reload call made it load
        serve_env = {**os.environ, **tasador_env, "TASADOR_SERVING_POLL_SECONDS": "3600"}
        serve_log = tmp / "serve.log"
        server = spawn_session([sys.executable, "-m", "tasador", "serve"], serve_env, serve_log)
        stack.callback(stop_group, server)
        airflow = AirflowWorld(
            home=tmp / "airflow",
            metadata_url=postgres.url(databases["airflow"]),
            tasador_env=tasador_env,
            remote_log_folder=f"s3://{BUCKET}/airflow-logs",
            s3_connection={
                "conn_type": "aws",
                "login": s3.credentials.access_key_id,
                "password": s3.credentials.secret_access_key,
                "extra": {"endpoint_url": s3.endpoint_url},
            },
        )
        airflow.start()
        stack.callback(airflow.stop)
        world = LoopWorld(
            airflow,
            s3,
            postgres.url(databases["raw"]),
            postgres.url(databases["clean"]),
            mlflow.url,
            model_name,
            f"http://127.0.0.1:{api_port}",
        )
        stack.callback(lambda: [engine.dispose() for engine in world._engines])
        yield world


def summaries(world: LoopWorld) -> list[RoundResult]:
    stores = world.stores()
    return [summarize(stores, b.batch_id) for b in clean_store.list_batches(stores.clean)]


def test_a_run_takes_one_batch_through_the_loop(world: LoopWorld) -> None:
    run = world.airflow.dags_test()
    world.runs.append(run)
    assert run.state == "success", run.output[-5000:]
    assert set(run.tasks) == TASKS
    # the first model faces no champion: trained, then judged against the baseline alone
    assert run.tasks["train"] == run.tasks["promote"] == "success"
    assert run.tasks["skip_training"] == "skipped"
    assert [s.batch_number for s in summaries(world)] == [0]


def test_a_run_with_the_data_api_down_changes_nothing_and_the_next_takes_its_batch(
    world: LoopWorld,
) -> None:
    before = world.snapshot()
    down = world.airflow.dags_test(extra_env={"TASADOR_DATA_API_URL": unused_url()})
    assert down.state == "failed"
    assert down.tasks["fetch"] == "failed"
    assert "attempt=2" in "".join(
        world.keys(f"airflow-logs/dag_id=tasador_loop/run_id={down.run_id}/task_id=fetch/")
    )
    assert {down.tasks[t] for t in TASKS - {"fetch"}} == {"upstream_failed"}
    assert world.snapshot() == before
    after = world.airflow.dags_test()
    world.runs.append(after)
    assert after.state == "success", after.output[-5000:]
    assert [s.batch_number for s in summaries(world)] == [0, 1]


def test_runs_until_the_api_is_finished_decide_as_tasador_run(
    world: LoopWorld, finished_loop: FinishedLoop
) -> None:
    for _ in range(BATCHES - 2):
        run = world.airflow.dags_test()
        world.runs.append(run)
        assert run.state == "success", run.output[-5000:]
    finished = world.airflow.dags_test()
    assert finished.state == "success", finished.output[-5000:]
    assert finished.tasks["fetch"] == "skipped"
    assert set(finished.tasks.values()) == {"skipped"}
    assert "the data API has sent every batch" in finished.output

    # `tasador run` on the same batches and settings: its first rounds (a round never depends on
    # the batches after it)
    expected = finished_loop.results[:BATCHES]
    got = summaries(world)

    def decisions(results: list[RoundResult]) -> list[tuple[Any, ...]]:
        return [
            (r.batch_number, r.received, r.kept, r.rejected, r.drift, r.action, r.model_version,
             r.promoted, r.reason)
            for r in results
        ]  # fmt: skip

    assert decisions(got) == decisions(expected)
    assert any(r.promoted for r in got)

    # every model's files are objects in the bucket, written through MLflow's proxy
    client = MlflowClient(tracking_uri=world.tracking_uri)
    versions = client.search_model_versions(f"name='{world.model_name}'")
    assert len(versions) == sum(r.action == "train" for r in got)
    keys = set(world.keys("mlartifacts/"))
    for version in versions:
        folder = "mlartifacts/" + version.source.removeprefix("mlflow-artifacts:/")
        assert {f"{folder}/MLmodel", f"{folder}/artifacts/model.ubj"} <= keys, version.source

    # the inference API serves the production model: loaded through MLflow when the DAG asked
    production = get_production(client, world.model_name)
    assert production is not None
    wait_until(lambda: _served_version(world.api_url) == production.version, timeout=60)


def _served_version(url: str) -> str | None:
    try:
        answer = httpx.get(f"{url}/model", timeout=5)
    except httpx.HTTPError:
        return None
    return answer.json().get("version") if answer.status_code == 200 else None


def test_the_bucket_holds_each_batch_and_every_task_log(world: LoopWorld) -> None:
    stores = world.stores()
    lake = s3_lake(world.s3.endpoint_url, world.s3.credentials, BUCKET)
    batches = clean_store.list_batches(stores.clean)
    assert len(batches) == BATCHES
    assert lake.batches("raw") == lake.batches("clean") == [b.batch_id for b in batches]
    for batch in batches:
        assert lake.rows("raw", batch.batch_id) == batch.received
        assert lake.rows("clean", batch.batch_id) == batch.kept
    logs = world.keys("airflow-logs/")
    for run in world.runs:
        ran = {task for task, state in run.tasks.items() if state != "skipped"}
        logged = {
            key.split("/task_id=")[1].split("/")[0]
            for key in logs
            if f"run_id={run.run_id}/" in key
        }
        assert logged == ran, run.run_id


def test_rerunning_a_finished_run_or_one_of_its_tasks_changes_nothing(world: LoopWorld) -> None:
    first = world.runs[0]
    before = world.snapshot()
    # Airflow replaces the run of that logical date by a new one: the same run for tasador
    again = world.airflow.dags_test(logical_date=first.logical_date.isoformat())
    assert again.logical_date == first.logical_date
    assert again.state == "success", again.output[-5000:]
    assert again.tasks["train"] == "success"  # the batch's version, found again: none registered
    assert world.snapshot() == before
    for task in ("fetch", "train", "promote", "finish"):
        world.airflow.tasks_test(task, again.run_id)
        assert world.snapshot() == before, task
    assert [s.batch_number for s in summaries(world)] == list(range(BATCHES))
