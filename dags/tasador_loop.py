"""
# tasador loop

One run is one round of tasador's continuous-training loop, the same stages as `tasador run`:

1. **fetch** the next batch from the data API into RAW DATA (a re-run takes the same batch; a batch
   an earlier run left unfinished comes first);
2. **clean** it into CLEAN DATA (rejected rows kept, with their reason);
3. **check_drift** against the production model's training data;
4. **decide**: train (first model, drift, or a champion worse on this batch) or skip, with why;
5. **train** a challenger (XGBoost + Optuna), logged and registered in MLflow;
6. **promote** it if it beats the champion on the shared evaluation set, else keep it as rejected;
7. **finish**: copy the batch to the data lake (with S3) and mark it done;
8. **reload**: ask the inference API to serve the production model now (it also polls).

When the data API has sent every batch, `fetch` says so and the rest is skipped: the run is green.
Tasks pass ids only; each reads the settings (`TASADOR_*`) and calls `tasador.airflow_tasks`.
Params: `group_number` and `day` of the data API stream.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from tasador.settings import get_settings

if TYPE_CHECKING:
    from tasador.airflow_tasks import RunParams

_settings = get_settings()


def _params(context: dict[str, Any]) -> RunParams:
    from tasador.airflow_tasks import RunParams

    params = context["params"]
    return RunParams(group_number=int(params["group_number"]), day=str(params["day"]))


@dag(
    dag_id="tasador_loop",
    description="one round of tasador's loop: fetch, clean, drift, decide, train, promote, serve",
    doc_md=__doc__,
    schedule=_settings.airflow.schedule,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["tasador", "continuous-training"],
    params={
        "group_number": Param(
            _settings.data_api.group_number,
            type="integer",
            minimum=0,
            description="group number sent to the data API",
        ),
        "day": Param(
            _settings.data_api.day, type="string", minLength=1, description="day sent to the API"
        ),
    },
    default_args={
        "retries": _settings.airflow.retries,
        "retry_delay": timedelta(seconds=_settings.airflow.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(seconds=_settings.airflow.max_retry_delay_seconds),
    },
)
def tasador_loop() -> None:
    @task
    def fetch(**context: Any) -> int:
        """The batch this run works on, stored in RAW DATA."""
        from tasador import airflow_tasks

        run = context["dag_run"]
        batch_id = airflow_tasks.fetch(
            _params(context), airflow_tasks.run_key(run.dag_id, run.run_id, run.logical_date)
        )
        if batch_id is None:
            raise AirflowSkipException("the data API has sent every batch: nothing left to do")
        return batch_id

    @task
    def clean(batch_id: int, **context: Any) -> dict[str, int]:
        """Validate the batch into CLEAN DATA."""
        from tasador import airflow_tasks

        return airflow_tasks.clean(_params(context), batch_id)

    @task
    def check_drift(batch_id: int, **context: Any) -> str:
        """Drift against the production model's training data."""
        from tasador import airflow_tasks

        return airflow_tasks.check_drift(_params(context), batch_id)

    @task.branch
    def decide(batch_id: int, **context: Any) -> str:
        """Train a challenger, or skip training (the decision and why are stored)."""
        from tasador import airflow_tasks

        return "train" if airflow_tasks.decide(_params(context), batch_id) else "skip_training"

    @task
    def train(batch_id: int, **context: Any) -> str | None:
        """Tune, train and register the challenger."""
        from tasador import airflow_tasks

        return airflow_tasks.train(_params(context), batch_id)

    @task
    def promote(batch_id: int, version: str | None, **context: Any) -> bool | None:
        """Promote the challenger by the champion/challenger rule, or record why not."""
        from tasador import airflow_tasks

        return airflow_tasks.promote(_params(context), batch_id, version)

    @task
    def skip_training() -> None:
        """No new model for this batch (`decide` logged why)."""

    @task(trigger_rule="none_failed_min_one_success")
    def finish(batch_id: int, **context: Any) -> dict[str, object]:
        """Copy the batch to the data lake and mark it done."""
        from tasador import airflow_tasks

        return airflow_tasks.finish(_params(context), batch_id)

    @task(retries=0)
    def reload() -> bool:
        """Ask the inference API to serve the production model now; never fails the run."""
        from tasador import airflow_tasks

        return airflow_tasks.reload_inference_api()

    batch_id = fetch()
    trained = train(batch_id)
    promoted = promote(batch_id, trained)
    skipped = skip_training()
    clean(batch_id) >> check_drift(batch_id) >> decide(batch_id) >> [trained, skipped]
    [promoted, skipped] >> finish(batch_id) >> reload()


tasador_loop()
