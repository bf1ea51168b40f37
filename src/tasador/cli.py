"""The `tasador` command line: wiring only (settings → connections → package steps → a table)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console, Group
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from tasador.platform import PRIVATE_UMASK
from tasador.settings import Settings, UiSettings, env_name, get_settings

if TYPE_CHECKING:
    from tasador.pipeline import RoundResult
    from tasador.platform.local import LocalPlatform

app = typer.Typer(
    help="tasador: a house-price model kept continuously trained, served and explained. "
    "Every setting is a TASADOR_* environment variable (or a line in .env).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain click help: `--wait / --no-wait`, no `<bool>` beside flags
)
console = Console()
logger = logging.getLogger("tasador")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        console.print(f"tasador {version('tasador')}")
        raise typer.Exit()


@app.callback()
def _before_every_command(
    _version: Annotated[
        bool | None,
        typer.Option("--version", callback=_print_version, is_eager=True, help="print the version"),
    ] = None,
) -> None:
    """Before any command: files it and its services create are their owner's only (state,
    logs, request bodies, secrets), and library notes that say nothing to a user are silenced."""
    os.umask(PRIVATE_UMASK)
    # platformdirs' note that XDG_RUNTIME_DIR is unset (the embedded PostgreSQL wheel asks it)
    warnings.filterwarnings("ignore", module=r"platformdirs\.")


def _configure_logging(settings: Settings) -> None:
    """Warnings and errors from every library; tasador's INFO lines only at log level DEBUG.

    The progress display already says what each step is doing, so INFO lines would only repeat it.
    """
    level = settings.log_level.upper()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # MLflow sets up its own logger when first imported; tell it the level up front
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR" if level != "DEBUG" else "INFO")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # the table has them
    logging.basicConfig(
        level=logging.WARNING,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=True)],
        force=True,
    )
    logging.getLogger("tasador").setLevel(level if level == "DEBUG" else logging.WARNING)
    for noisy in ("httpx", "alembic", "urllib3", "optuna"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # the data API client logs each retry itself, with what failed; stamina would say it again
    import stamina.instrumentation

    stamina.instrumentation.set_on_retry_hooks([])
    # MLflow warns on every logged model about pickling and pip; errors still show
    logging.getLogger("mlflow").setLevel(logging.ERROR)


class RichReporter:
    """Shows each round and step, and the tuning trials, as rich progress bars."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.round_task = progress.add_task("waiting for the first batch", total=None)
        self.trial_task = progress.add_task("tuning", total=1, visible=False)
        self.batch: int | None = None

    def step(self, batch_number: int, name: str) -> None:
        self.batch = batch_number
        self.progress.update(self.round_task, description=f"batch {batch_number}: {name}")
        if name != "train":
            self.progress.update(self.trial_task, visible=False)

    def trial(self, number: int, total: int, value: float) -> None:
        self.progress.update(
            self.trial_task,
            total=total,
            completed=number,
            visible=True,
            description=f"batch {self.batch}: Optuna trial {number}/{total}, rmse_log {value:.4f}",
        )


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _summary(results: list[RoundResult], this_run: int | None = None) -> Group:
    """What each batch did: the facts as a table, then each batch's reason in full.

    The reasons are sentences; as a table column they would wrap a few characters a line in a
    terminal (or a log) 80 columns wide, so they go under the table, wrapped at words.
    """
    title = "tasador: what each batch did"
    if this_run is not None and this_run != len(results):
        title += f" (all {len(results)}; {this_run} in this run)"
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        collapse_padding=True,
    )
    for column in ("batch", "received", "kept", "rejected", "drift", "decision", "model"):
        numeric = column in {"received", "kept", "rejected"}
        table.add_column(column, justify="right" if numeric else "left", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    why = Table.grid(padding=(0, 1))
    why.add_column(no_wrap=True)
    why.add_column(overflow="fold")
    for r in results:
        outcome = "—" if r.promoted is None else ("promoted" if r.promoted else "rejected")
        drift = "—" if r.drift is None else ("drift" if r.drift else "no drift")
        table.add_row(
            str(r.batch_number),
            f"{r.received:,}",
            f"{r.kept:,}",
            f"{r.rejected:,}",
            drift,
            r.action or "—",
            f"v{r.model_version}" if r.model_version else "—",
            outcome,
        )
        why.add_row(f"batch {r.batch_number}:", r.reason or "—")
    return Group(table, Text("why", style="bold"), why)


def _run_loop(settings: Settings, rounds: int | None) -> list[RoundResult]:
    """The rounds, with progress; then the whole history, this run's batches and earlier ones.

    A data API that keeps failing ends the command with one line (exit code 1); the traceback
    is printed at TASADOR_LOG_LEVEL=DEBUG.
    """
    from tasador.datasource.client import DataApiError
    from tasador.pipeline import run_loop, summarize
    from tasador.storage import clean_store
    from tasador.wiring import open_loop

    with open_loop(settings) as (client, stores, config):
        try:
            with _progress() as progress:
                reporter = RichReporter(progress)
                results = run_loop(client, stores, config, rounds=rounds, reporter=reporter)
                done = len(results)
                progress.update(
                    reporter.round_task,
                    description=f"{done} batch{'es' if done != 1 else ''} processed",
                    total=done,
                    completed=done,
                )
                progress.update(reporter.trial_task, visible=False)
        except DataApiError as err:
            if settings.log_level.upper() == "DEBUG":
                console.print_exception()
            console.print(
                f"[bold red]the data API failed:[/bold red] {err}. Check that it answers at "
                f"{client.base_url} (TASADOR_DATA_API_URL); `tasador run` picks up from here.",
                soft_wrap=True,
            )
            raise typer.Exit(1) from None
        history = [summarize(stores, b.batch_id) for b in clean_store.list_batches(stores.clean)]
    console.print(_summary(history, this_run=len(results)))
    for outcome in client.outcomes:
        if outcome.attempts > 1 or str(outcome.outcome) not in {"ok", "finished"}:
            console.print(
                f"data API: {outcome.outcome} after {outcome.attempts} attempts"
                f" {outcome.error or ''}"
            )
    return results


@app.command()
def up(
    rounds: Annotated[int | None, typer.Option(help="stop after N rounds")] = None,
    wait: Annotated[bool, typer.Option(help="keep the services up until Ctrl-C")] = True,
    loop: Annotated[
        bool,
        typer.Option(help="run the rounds here; --no-loop: only the services (Airflow runs them)"),
    ] = True,
    s3: Annotated[
        bool,
        typer.Option("--s3", help="keep MLflow's artifacts in a local SeaweedFS S3 server"),
    ] = False,
) -> None:
    """Start the local platform, run the loop over every batch, then keep the services up.

    Needs nothing running: starts what no URL configures (PostgreSQL, MLflow, the data API
    simulator) and the inference API, after stopping what a killed earlier run of the same state
    folder left; restarts a service that stops (`tasador status` lists the restarts); SIGTERM
    stops everything as Ctrl-C does. Reads every setting; TASADOR_STATE_DIR holds the state.
    """
    from tasador.platform import PlatformStartError
    from tasador.platform.local import LocalPlatform

    settings = get_settings()
    if s3:
        settings = settings.model_copy(
            update={"s3": settings.s3.model_copy(update={"local": True})}
        )
    _configure_logging(settings)
    # SIGTERM (a service manager, `kill`) stops the services as Ctrl-C does, whatever is running
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with console.status("starting the local platform") as status:
            platform = LocalPlatform.start(
                settings, on_step=lambda s: status.update(f"starting {s}")
            )
    except PlatformStartError as err:
        console.print(
            f"[bold red]cannot start the local platform:[/bold red] {err}", soft_wrap=True
        )
        raise typer.Exit(1) from None
    try:
        if platform.leftovers:
            console.print(
                "stopped what an earlier `tasador up` of this state folder left running: "
                + ", ".join(platform.leftovers),
                soft_wrap=True,
            )
        _print_urls(_shown_urls(platform, airflow=not loop))
        if platform.prometheus_note:
            console.print(platform.prometheus_note, soft_wrap=True)
        if loop:
            _run_loop(settings, rounds)
        if wait:
            if loop:  # the URLs again, under the rounds' output
                _until_production_is_served(
                    settings, platform.urls.tracking_uri, platform.urls.inference_api
                )
                _print_urls(_shown_urls(platform))
            console.print("[bold]services are up; press Ctrl-C to stop them[/bold]")
            stop = threading.Event()
            # Ctrl-C and SIGTERM both stop the services (SIGINT explicitly: a shell that starts us
            # in the background would otherwise have it ignored)
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            while not stop.wait(1.0):
                pass
    finally:
        with console.status("stopping services"):
            platform.stop()
        console.print("services stopped")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _until_production_is_served(settings: Settings, tracking_uri: str, api_url: str) -> None:
    """Let the inference API pick up the last promotion (it polls the alias) before saying the
    services are up; say so if it has not within two poll intervals."""
    from mlflow import MlflowClient

    from tasador.platform.local import wait_for_served_version
    from tasador.registry.aliases import get_production

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        production = get_production(client, settings.mlflow.model_name)
    except Exception as err:  # the services stay up either way; say why this check was skipped
        console.print(
            f"[yellow]could not ask the registry for the production model: {err}[/yellow]"
        )
        return
    if production is None:
        return
    wait = 2 * settings.serving.poll_seconds + 5
    with console.status(f"inference API loading production model v{production.version}"):
        served = wait_for_served_version(api_url, production.version, wait)
    if served != production.version:
        console.print(
            f"[yellow]the inference API serves {f'v{served}' if served else 'no model'}, not "
            f"production v{production.version}, after {wait:.0f} s; see GET /model[/yellow]"
        )


def _shown_urls(platform: LocalPlatform, *, airflow: bool = False) -> dict[str, str]:
    urls = platform.urls.redacted()
    if platform.artifacts:
        urls["artifacts"] = platform.artifacts
    if airflow and platform.airflow_db:
        urls["airflow_db"] = platform.airflow_db
    if platform.prometheus is not None:
        urls["prometheus"] = platform.prometheus.url
    return urls


def _print_urls(urls: dict[str, str]) -> None:
    console.print(_urls_table(urls))


def _urls_table(urls: dict[str, str]) -> Table:
    """Each service and its URL; no box, so a URL wider than the terminal folds, never cut."""
    table = Table.grid(padding=(0, 2))
    table.title = "services"
    table.add_column(no_wrap=True, style="bold")
    table.add_column(overflow="fold")
    labels = {
        "tracking_uri": "MLflow UI",
        "inference_api": "inference API",
        "inference_docs": "inference API docs",
        "ui": "UI",
        "data_api": "data API",
        "raw_db": "RAW DATA",
        "clean_db": "CLEAN DATA",
        "mlflow_db": "MLflow metadata",
        "artifacts": "MLflow artifacts",
        "airflow_db": "Airflow metadata",
        "prometheus": "Prometheus",
    }
    for key, label in labels.items():
        if key in urls:
            table.add_row(label, urls[key])
    return table


@app.command()
def run(
    rounds: Annotated[int | None, typer.Option(help="stop after N rounds")] = None,
) -> None:
    """Run rounds against the configured services until the data API is exhausted.

    Needs the services up (a `tasador up` in another terminal, or the URLs in TASADOR_DB_*_URL,
    TASADOR_MLFLOW_TRACKING_URI, TASADOR_DATA_API_URL). Reads TASADOR_DATA_API_*,
    TASADOR_TRAIN_*, TASADOR_DECISION_*, TASADOR_MLFLOW_*, TASADOR_DB_*.
    """
    settings = get_settings()
    _configure_logging(settings)
    _run_loop(settings, rounds)


@app.command()
def datasource(
    host: Annotated[str | None, typer.Option(help="interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    dataset: Annotated[
        Path | None, typer.Option(help="realtor-schema file (csv, zip, parquet); default synthetic")
    ] = None,
    rows: Annotated[int | None, typer.Option(help="synthetic rows to generate")] = None,
    scale: Annotated[
        float | None,
        typer.Option(help="synthetic size as a multiple of the real file (1.0 = 2.2M rows)"),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="seed of the synthetic dataset")] = None,
) -> None:
    """Serve the data API simulator alone.

    Needs nothing running. Reads TASADOR_SIMULATOR_* (the options override them).
    """
    import uvicorn

    from tasador.datasource.simulator import build_simulator

    settings = get_settings()
    _configure_logging(settings)
    sim = settings.simulator
    n_rows = int(scale * 2_226_382) if scale else (rows or sim.rows)
    app_ = build_simulator(
        dataset or sim.dataset_path, n_rows, seed if seed is not None else sim.seed
    )
    uvicorn.run(app_, host=host or sim.host, port=port or sim.port, log_level="warning")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
) -> None:
    """Serve the inference API: the model that holds `production`, followed by polling.

    Needs the MLflow server and RAW DATA's PostgreSQL (it answers /health without them, and keeps
    requests in a spill file while the database is down); the history endpoints read CLEAN DATA
    (503 while it is down). Reads TASADOR_SERVING_*, TASADOR_MLFLOW_*, TASADOR_DB_RAW_URL,
    TASADOR_DB_CLEAN_URL. One uvicorn worker: run more processes to scale.
    """
    from tasador.serving.main import serve as serve_api

    settings = get_settings()
    _configure_logging(settings)
    serve_api(settings, host, port)


@app.command()
def ui(
    host: Annotated[str | None, typer.Option(help="interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    api_url: Annotated[
        str | None, typer.Option(help="the inference API to show (default: the local one)")
    ] = None,
) -> None:
    """Serve the UI (Streamlit): price a home, why that price, model history, drift, retrainings.

    Needs only an inference API (any URL: the UI reads nothing else). Reads TASADOR_UI_*, and
    TASADOR_SERVING_HOST/PORT for the local API's URL.
    """
    from pathlib import Path

    from streamlit.web import bootstrap

    import tasador.ui

    if api_url:  # the app reads its settings in this process: the option wins over the env
        os.environ[env_name(UiSettings, "api_url")] = api_url
        get_settings.cache_clear()
    settings = get_settings()
    _configure_logging(settings)
    options = {
        "server.address": host or settings.ui.host,
        "server.port": port or settings.ui.port,
        "server.headless": True,
        "server.fileWatcherType": "none",
        "browser.gatherUsageStats": False,
        "global.developmentMode": False,
        "client.showErrorDetails": "none",  # a page's bug is a message, never a traceback
        "client.toolbarMode": "viewer",
    }
    app_file = Path(tasador.ui.__file__).with_name("app.py")
    console.print(f"UI on http://{options['server.address']}:{options['server.port']}")
    console.print(f"showing the inference API at {settings.ui.resolved_api_url(settings.serving)}")
    bootstrap.load_config_options(flag_options=options)
    bootstrap.run(str(app_file), False, [], options)


@app.command()
def status() -> None:
    """The decision history: every batch, its rows, drift, decision and model outcome.

    Needs CLEAN DATA: the state folder's PostgreSQL is started for the command when it is not
    running (and left running when it was). Reads TASADOR_DB_*, TASADOR_STATE_DIR.
    """
    from tasador.pipeline import summarize
    from tasador.platform.local import local_postgres_running
    from tasador.platform.supervision import read_restarts
    from tasador.storage import clean_store
    from tasador.wiring import open_stores

    settings = get_settings()
    _configure_logging(settings)
    with local_postgres_running(settings), open_stores(settings) as stores:
        results = [summarize(stores, b.batch_id) for b in clean_store.list_batches(stores.clean)]
    if not results:
        console.print("no batch processed yet")
    else:
        console.print(_summary(results))
    for service, entry in read_restarts(settings.state_dir.resolve()).items():
        console.print(
            f"{service} stopped and was restarted {entry.get('restarts')} time(s), last at "
            f"{entry.get('last_restart_at')}"
            + (f": {entry['last_error']}" if entry.get("last_error") else ""),
            soft_wrap=True,
        )


@app.command("requests")
def requests_(
    limit: Annotated[int, typer.Option(min=1, help="at most this many, newest first")] = 20,
    since: Annotated[
        datetime | None,
        typer.Option(help="only those received after this time (ISO 8601, UTC)"),
    ] = None,
) -> None:
    """The inference requests stored in RAW DATA, newest first, one JSON object per line.

    Each record has its request and answer bodies unpacked (RAW DATA keeps them compressed).
    Needs RAW DATA: the state folder's PostgreSQL is started for the command when it is not
    running (and left running when it was). Reads TASADOR_DB_*, TASADOR_STATE_DIR.
    """
    from tasador.platform.local import local_postgres_running, resolve_urls
    from tasador.serving.inference_log import record_line
    from tasador.storage.engine import make_engine
    from tasador.storage.migrate import migrate
    from tasador.storage.raw_store import load_inference_records

    settings = get_settings()
    _configure_logging(settings)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with local_postgres_running(settings):
        url = resolve_urls(settings).raw_db
        migrate(url, "raw")
        engine = make_engine(url)
        try:
            records = load_inference_records(engine, since=since, limit=limit)
        finally:
            engine.dispose()
    out = sys.stdout.buffer
    for record in records:
        out.write(record_line(record))
    out.flush()


def main() -> None:  # pragma: no cover - entry point
    app()
