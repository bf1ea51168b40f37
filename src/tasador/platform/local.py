"""The local profile: where each service is, and starting the ones nobody configured.

With no URL configured, a service is started here: an embedded PostgreSQL (three databases: RAW
DATA, CLEAN DATA, MLflow metadata), an MLflow tracking server on it with artifacts in the state
folder, and the data API simulator. A configured URL is used as is. The inference API
(`tasador serve`) is always started, as a subprocess; it answers /health at once and serves
predictions as soon as a model holds the `production` alias.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
from sqlalchemy.engine import make_url

from tasador.platform import PlatformStartError
from tasador.platform.mlflow_server import MlflowServer
from tasador.platform.ports import Listener, port_in_use, require_free
from tasador.platform.postgres import EmbeddedPostgres
from tasador.platform.prometheus import HOW_TO_GET, LocalPrometheus, prometheus_binary
from tasador.platform.seaweedfs import S3Credentials, SeaweedS3, local_credentials
from tasador.platform.supervision import (
    Service,
    Supervisor,
    forget_pid,
    stop_leftovers,
    write_pid,
)
from tasador.settings import (
    DatabaseSettings,
    MlflowSettings,
    PrometheusSettings,
    S3Settings,
    ServingSettings,
    Settings,
    SimulatorSettings,
    UiSettings,
    env_name,
)
from tasador.storage.engine import ensure_database
from tasador.storage.migrate import migrate
from tasador.storage.objects import ensure_bucket

logger = logging.getLogger(__name__)

RAW_DB, CLEAN_DB, MLFLOW_DB = "tasador_raw", "tasador_clean", "tasador_mlflow"
AIRFLOW_DB = "tasador_airflow"  # made in the embedded PostgreSQL for an Airflow beside it
# What the command line of each process a `tasador up` starts shows (to tell a leftover of ours
# from another process that reused its pid).
LEFTOVER_MARKERS: Final[dict[str, str]] = {
    "mlflow": "mlflow server",
    "serving": "tasador serve",
    "datasource": "tasador datasource",
    "ui": "tasador ui",
    "seaweedfs": "weed mini",
    "prometheus": "prometheus --config.file",
}


@dataclass(frozen=True)
class ServiceUrls:
    """Where every service of a run is."""

    raw_db: str
    clean_db: str
    mlflow_db: str
    tracking_uri: str
    data_api: str
    inference_api: str
    ui: str

    def redacted(self) -> dict[str, str]:
        """The URLs with any password hidden, for printing."""
        out = {}
        for name, value in vars(self).items():
            out[name] = (
                make_url(value).render_as_string(hide_password=True)
                if value.startswith("postgresql")
                else value
            )
        out["inference_docs"] = f"{self.inference_api}/docs"
        return out


def local_postgres(settings: Settings) -> EmbeddedPostgres:
    """The embedded PostgreSQL of the state folder (started or not)."""
    return EmbeddedPostgres(
        data_dir=settings.state_dir.resolve() / "postgres", port=settings.db.embedded_port
    )


def resolve_urls(settings: Settings) -> ServiceUrls:
    """The configured URLs, falling back to where the local profile runs each service."""
    local_pg = local_postgres(settings)
    return ServiceUrls(
        raw_db=settings.db.raw_url or local_pg.url(RAW_DB),
        clean_db=settings.db.clean_url or local_pg.url(CLEAN_DB),
        mlflow_db=settings.db.mlflow_url or local_pg.url(MLFLOW_DB),
        tracking_uri=settings.mlflow.tracking_uri or f"http://127.0.0.1:{settings.mlflow.port}",
        data_api=settings.data_api.url
        or f"http://{settings.simulator.host}:{settings.simulator.port}",
        inference_api=f"http://{settings.serving.host}:{settings.serving.port}",
        ui=f"http://{settings.ui.host}:{settings.ui.port}",
    )


def s3_store(settings: Settings) -> tuple[str | None, S3Credentials | None]:
    """The S3 endpoint and keys: the local SeaweedFS server's (its keys from the state folder),
    or the configured store's (no keys: the AWS chain)."""
    s3 = settings.s3
    if s3.local:
        state = settings.state_dir.resolve()
        return f"http://{SeaweedS3.host}:{s3.port}", local_credentials(state / "s3")
    if s3.access_key_id and s3.secret_access_key:
        keys = S3Credentials(
            s3.access_key_id.get_secret_value(), s3.secret_access_key.get_secret_value()
        )
        return s3.endpoint_url, keys
    return s3.endpoint_url, None


def listeners(settings: Settings, *, postgres: bool) -> list[Listener]:
    """Where the services this profile starts will listen (the configured ones are not ours)."""
    found = [
        Listener("the inference API", settings.serving.host, settings.serving.port,
                 env_name(ServingSettings, "port")),
        Listener("the UI", settings.ui.host, settings.ui.port, env_name(UiSettings, "port")),
    ]  # fmt: skip
    if postgres:
        found.append(
            Listener("the embedded PostgreSQL", EmbeddedPostgres.host, settings.db.embedded_port,
                     env_name(DatabaseSettings, "embedded_port"))
        )  # fmt: skip
    if not settings.mlflow.tracking_uri:
        found.append(
            Listener("the MLflow tracking server", "127.0.0.1", settings.mlflow.port,
                     env_name(MlflowSettings, "port"))
        )  # fmt: skip
        if settings.s3.local:
            found.append(
                Listener("the SeaweedFS S3 server", SeaweedS3.host, settings.s3.port,
                         env_name(S3Settings, "port"))
            )  # fmt: skip
    if not settings.data_api.url:
        found.append(
            Listener("the data API simulator", settings.simulator.host, settings.simulator.port,
                     env_name(SimulatorSettings, "port"))
        )  # fmt: skip
    return found


def wait_for_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until GET `url` answers 200, or fail early if `process` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.3)


def wait_for_served_version(api_url: str, version: str, timeout: float) -> str | None:
    """Wait until the inference API at `api_url` serves model `version` (it follows the registry
    by polling); returns the version it serves in the end (None: no model, or no answer)."""
    deadline = time.monotonic() + timeout
    served: str | None = None
    while True:
        try:
            answer = httpx.get(f"{api_url}/model", timeout=2)
            served = str(answer.json()["version"]) if answer.status_code == 200 else None
        except (httpx.HTTPError, ValueError, KeyError):
            served = None
        if served == version or time.monotonic() > deadline:
            return served
        time.sleep(0.3)


@dataclass
class LocalPlatform:
    """The services one `tasador up` started, and how to stop them."""

    settings: Settings
    urls: ServiceUrls
    postgres: EmbeddedPostgres | None = None
    mlflow: MlflowServer | None = None
    simulator: subprocess.Popen[bytes] | None = None
    inference_api: subprocess.Popen[bytes] | None = None
    ui: subprocess.Popen[bytes] | None = None
    s3: SeaweedS3 | None = None
    prometheus: LocalPrometheus | None = None
    prometheus_note: str | None = None  # why Prometheus was not started, when it was not
    artifacts: str | None = None  # where MLflow keeps artifacts, when in S3
    airflow_db: str | None = None  # an empty database for Airflow's metadata, when embedded
    started: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)  # what an earlier run left, now stopped
    supervisor: Supervisor | None = None

    @classmethod
    def start(
        cls, settings: Settings, on_step: Callable[[str], None] = lambda _: None
    ) -> LocalPlatform:
        """Start what is not configured, create the databases, apply migrations."""
        state = settings.state_dir.resolve()
        state.mkdir(parents=True, exist_ok=True)
        state.chmod(0o700)  # a folder from an older tasador may be open to others
        platform = cls(settings=settings, urls=resolve_urls(settings))
        try:
            platform._stop_leftovers(state, on_step)
            platform._start(state, on_step)
        except BaseException:
            platform.stop()
            raise
        platform.supervisor = Supervisor(platform._services(state), state)
        platform.supervisor.start()
        return platform

    def _stop_leftovers(self, state: Path, on_step: Callable[[str], None]) -> None:
        """Stop what a `tasador up` of this state folder that was killed left running."""
        on_step("checking for services an earlier run left")
        self.leftovers = stop_leftovers(state, LEFTOVER_MARKERS)
        postgres = local_postgres(self.settings)
        if postgres.initialised and postgres.is_running():
            postgres.stop()
            self.leftovers.append(f"PostgreSQL (port {postgres.port})")
        if self.leftovers:
            logger.warning("stopped what an earlier run left: %s", ", ".join(self.leftovers))

    def _services(self, state: Path) -> list[Service]:
        """What the supervisor keeps up: the services this platform started."""
        services = []
        if self.postgres is not None:
            services.append(Service("PostgreSQL", self.postgres.is_running, self.postgres.start))
        if self.s3 is not None:
            services.append(
                Service(
                    "the SeaweedFS S3 server", self.s3.is_running, lambda: self._start_s3(state)
                )
            )
        if self.mlflow is not None:
            services.append(Service("the MLflow tracking server", self.mlflow.is_running,
                                    lambda: self._start_mlflow(state)))  # fmt: skip
        services.append(
            Service("the inference API", lambda: _alive(self.inference_api),
                    lambda: self._spawn_serving(state))
        )  # fmt: skip
        if self.simulator is not None:
            services.append(
                Service("the data API simulator", lambda: _alive(self.simulator),
                        lambda: self._spawn_simulator(state))
            )  # fmt: skip
        if self.ui is not None:
            services.append(
                Service("the UI", lambda: _alive(self.ui), lambda: self._spawn_ui(state))
            )
        if self.prometheus is not None:
            services.append(Service("Prometheus", self.prometheus.is_running,
                                    lambda: self._start_prometheus_server(state)))  # fmt: skip
        return services

    def _start_mlflow(self, state: Path) -> None:
        assert self.mlflow is not None
        self.mlflow.start()
        if self.mlflow.pid is not None:
            write_pid(state, "mlflow", self.mlflow.pid)

    def _spawn_serving(self, state: Path) -> None:
        settings = self.settings
        self.inference_api = _spawn(
            ["serve", "--host", settings.serving.host, "--port", str(settings.serving.port)],
            state / "serving.log",
        )
        write_pid(state, "serving", self.inference_api.pid)

    def _spawn_simulator(self, state: Path) -> None:
        settings = self.settings
        self.simulator = _spawn(
            ["datasource", "--host", settings.simulator.host,
             "--port", str(settings.simulator.port)],
            state / "datasource.log",
        )  # fmt: skip
        write_pid(state, "datasource", self.simulator.pid)

    def _artifact_store(
        self, state: Path, on_step: Callable[[str], None]
    ) -> tuple[str, dict[str, str]]:
        """Where MLflow keeps artifacts, and the environment its server needs to reach them: the
        state folder; or an S3 bucket (created when missing), of a SeaweedFS server started here
        (`TASADOR_S3_LOCAL`) or of the configured store. Only the MLflow server holds the keys."""
        s3 = self.settings.s3
        destination = self.settings.mlflow.artifacts_destination
        if not s3.enabled and not (destination or "").startswith("s3://"):
            return destination or str(state / "mlartifacts"), {}
        destination = destination or f"s3://{s3.bucket}/mlartifacts"
        bucket = destination.removeprefix("s3://").split("/", 1)[0]
        endpoint, credentials = s3_store(self.settings)
        if s3.local:
            on_step("SeaweedFS S3")
            assert credentials is not None
            self.s3 = SeaweedS3(
                state / "s3" / "data", s3.port, credentials, bucket, state / "seaweedfs.log"
            )
            with _starting("the SeaweedFS S3 server", state / "seaweedfs.log"):
                self._start_s3(state)
            self.started.append("seaweedfs")
        with _starting("the S3 bucket"):
            for name in dict.fromkeys((bucket, s3.bucket)):  # the artifacts', the data lake's
                ensure_bucket(endpoint, credentials, name)
        env = credentials.env() if credentials else {}
        if endpoint:
            env["MLFLOW_S3_ENDPOINT_URL"] = endpoint
        self.artifacts = f"{destination} at {endpoint}" if endpoint else destination
        return destination, env

    def _start_s3(self, state: Path) -> None:
        assert self.s3 is not None
        self.s3.start()
        if self.s3.pid is not None:
            write_pid(state, "seaweedfs", self.s3.pid)

    def _start_prometheus(self, state: Path, on_step: Callable[[str], None]) -> None:
        """Prometheus on the inference API, when installed and its port is free; else a note."""
        settings = self.settings
        if not settings.prometheus.local:
            return
        binary = prometheus_binary()
        if binary is None:
            self.prometheus_note = HOW_TO_GET
            return
        if port_in_use(LocalPrometheus.host, settings.prometheus.port):
            self.prometheus_note = (
                f"Prometheus not started: {LocalPrometheus.host}:{settings.prometheus.port} is "
                f"in use (set {env_name(PrometheusSettings, 'port')})"
            )
            return
        on_step("Prometheus")
        target = f"{settings.serving.host}:{settings.serving.port}"
        self.prometheus = LocalPrometheus(
            binary, state / "prometheus", settings.prometheus.port, target
        )
        with _starting("Prometheus", self.prometheus.log_file):
            self._start_prometheus_server(state)
        self.started.append("prometheus")

    def _start_prometheus_server(self, state: Path) -> None:
        assert self.prometheus is not None
        self.prometheus.start()
        if self.prometheus.pid is not None:
            write_pid(state, "prometheus", self.prometheus.pid)

    def _spawn_ui(self, state: Path) -> None:
        settings = self.settings
        self.ui = _spawn(
            ["ui", "--host", settings.ui.host, "--port", str(settings.ui.port),
             "--api-url", settings.ui.resolved_api_url(settings.serving)],
            state / "ui.log",
        )  # fmt: skip
        write_pid(state, "ui", self.ui.pid)

    def _start(self, state: Path, on_step: Callable[[str], None]) -> None:
        settings = self.settings
        needs_pg = not (settings.db.raw_url and settings.db.clean_url and settings.db.mlflow_url)
        require_free(listeners(settings, postgres=needs_pg))
        if needs_pg:
            on_step("PostgreSQL")
            self.postgres = local_postgres(settings)
            with _starting("the embedded PostgreSQL"):  # its error ends with its log
                self.postgres.start()
            self.started.append("postgres")
            self.airflow_db = self.postgres.url(AIRFLOW_DB)
            ensure_database(self.airflow_db)
        on_step("databases and migrations")
        for url in (self.urls.raw_db, self.urls.clean_db, self.urls.mlflow_db):
            ensure_database(url)
        migrate(self.urls.raw_db, "raw")
        migrate(self.urls.clean_db, "clean")
        if not settings.mlflow.tracking_uri:
            artifacts, env = self._artifact_store(state, on_step)
            on_step("MLflow tracking server")
            self.mlflow = MlflowServer(
                backend_uri=self.urls.mlflow_db,
                artifacts_destination=artifacts,
                port=settings.mlflow.port,
                log_file=state / "mlflow.log",
                env=env,
            )
            with _starting("the MLflow tracking server"):  # its error ends with its log
                self._start_mlflow(state)
            self.started.append("mlflow")
        on_step("inference API")
        self._spawn_serving(state)
        assert self.inference_api is not None
        with _starting("the inference API", state / "serving.log"):
            wait_for_http(f"{self.urls.inference_api}/health", 180, self.inference_api)
        self.started.append("serving")
        self._start_prometheus(state, on_step)
        if not settings.data_api.url:
            on_step("data API simulator")
            self._spawn_simulator(state)
            assert self.simulator is not None
            with _starting("the data API simulator", state / "datasource.log"):
                wait_for_http(f"{self.urls.data_api}/health", 600, self.simulator)
            self.started.append("datasource")
        on_step("UI")
        self._spawn_ui(state)
        assert self.ui is not None
        with _starting("the UI", state / "ui.log"):
            wait_for_http(f"{self.urls.ui}/_stcore/health", 120, self.ui)
        self.started.append("ui")

    def stop(self) -> None:
        """Stop what this platform started, newest first (the supervisor first of all)."""
        if self.supervisor is not None:
            self.supervisor.stop()
        state = self.settings.state_dir.resolve()
        _terminate(self.ui, 10)
        _terminate(self.simulator, 10)
        # the inference API flushes its inference log to RAW DATA on the way out: give it time
        _terminate(self.inference_api, 40)
        if self.prometheus is not None:
            self.prometheus.stop()
        if self.mlflow is not None:
            self.mlflow.stop()
        if self.s3 is not None:
            self.s3.stop()
        if self.postgres is not None:
            self.postgres.stop()
        for name in LEFTOVER_MARKERS:
            forget_pid(state, name)


@contextmanager
def _starting(service: str, log_file: Path | None = None, tail: int = 15) -> Iterator[None]:
    """Turn a failure to start `service` into a `PlatformStartError` naming it and its log."""
    try:
        yield
    except (RuntimeError, TimeoutError, OSError) as err:
        message = f"{service} did not start: {err}"
        if log_file is not None:
            lines = log_file.read_text(errors="replace").splitlines() if log_file.exists() else []
            message += f"\nthe end of its log, {log_file}:\n" + "\n".join(lines[-tail:])
        raise PlatformStartError(message) from err


def _spawn(args: list[str], log_file: Path) -> subprocess.Popen[bytes]:
    """`python -m tasador ARGS` in its own session, output appended to `log_file`."""
    with log_file.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tasador", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
            start_new_session=True,
        )


def _alive(process: subprocess.Popen[bytes] | None) -> bool:
    return process is not None and process.poll() is None


def _terminate(process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@contextmanager
def local_postgres_running(settings: Settings) -> Iterator[None]:
    """Make sure the embedded PostgreSQL of the state folder answers, for commands run on their own.

    `tasador status` after `make run` has stopped: start the server of the state folder for the
    duration of the command, and stop it again. Configured database URLs are left alone.
    """
    if settings.db.raw_url and settings.db.clean_url:
        yield
        return
    server = local_postgres(settings)
    if not server.initialised:
        raise RuntimeError(
            f"no database configured and no local state in {settings.state_dir}: "
            "run `tasador up` (make run) first, or set TASADOR_DB_RAW_URL and TASADOR_DB_CLEAN_URL"
        )
    started = server.start()  # False when it runs already: then it is someone else's to stop
    try:
        yield
    finally:
        if started:
            server.stop()
