"""An MLflow tracking server as a subprocess: PostgreSQL metadata, proxied artifact store.

MLflow 3.17's `mlflow server` runs uvicorn (FastAPI app) by default; `--workers` maps to uvicorn
workers. We start it with one worker and with the server job runner (a huey consumer process used
for GenAI scorers and trace rollups, not for the model registry) turned off through the documented
`MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`, which spares a process and a few seconds. MLflow applies
its own schema migrations to the backend database at start-up; on a fresh database that takes a
while (tens of seconds on 2 cores), hence the generous default timeout.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from tasador.platform.ports import port_in_use
from tasador.platform.processes import await_ready, log_tail, spawn_session, stop_group

logger = logging.getLogger(__name__)

QUIET_ENV: dict[str, str] = {
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}


def _backend_uri(url: str) -> str:
    """Refuse anything but PostgreSQL: MLflow metadata is never SQLite."""
    if not url.startswith(("postgresql://", "postgresql+")):
        raise ValueError(f"MLflow backend must be a PostgreSQL URL, got {url.split(':', 1)[0]}:")
    return url


class MlflowServer:
    """`mlflow server` on host:port with a PostgreSQL backend and served artifacts.

    Use as a context manager or call `start()` / `stop()`. The server runs in its own process
    group so that `stop()` also ends uvicorn's workers.
    """

    def __init__(
        self,
        backend_uri: str,
        artifacts_destination: str,
        port: int,
        host: str = "127.0.0.1",
        workers: int = 1,
        log_file: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.backend_uri = _backend_uri(backend_uri)
        self.artifacts_destination = artifacts_destination
        self.port = port
        self.host = host
        self.workers = workers
        self.log_file = log_file
        self.env = env or {}
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def url(self) -> str:
        """The tracking URI clients use."""
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        """The command line that starts the server (same interpreter, so the same venv).

        The backend URL, which may hold a password, is passed in the environment
        (`MLFLOW_BACKEND_STORE_URI`), never on the command line that `ps` shows every user.
        """
        return [
            sys.executable, "-m", "mlflow", "server",
            "--artifacts-destination", self.artifacts_destination,
            "--serve-artifacts",
            "--host", self.host,
            "--port", str(self.port),
            "--workers", str(self.workers),
        ]  # fmt: skip

    @property
    def pid(self) -> int | None:
        """The server's process (it leads its own process group), while it runs."""
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        """Whether the server's process is alive (slow to answer or not)."""
        return self._process is not None and self._process.poll() is None

    def is_healthy(self) -> bool:
        """Whether `GET /health` answers OK right now."""
        try:
            return httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 120.0) -> None:
        """Start the server and wait until `/health` answers; raise with the log tail otherwise."""
        if self._process is not None and self._process.poll() is None:
            return
        if port_in_use(self.host, self.port):
            # Otherwise whatever answers there would pass our health check.
            raise RuntimeError(f"cannot start MLflow server: {self.host}:{self.port} is in use")
        if self.log_file is None:
            import tempfile

            fd, name = tempfile.mkstemp(prefix="mlflow-server-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
        else:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log_path = self.log_file
        env = {**os.environ, **QUIET_ENV, **self.env, "MLFLOW_BACKEND_STORE_URI": self.backend_uri}
        logger.info("starting MLflow server on %s", self.url)
        started = time.monotonic()
        self._process = spawn_session(self.command(), env, self._log_path)
        try:
            await_ready(self._process, self.is_healthy, timeout, "MLflow server", self._log_path)
        except (RuntimeError, TimeoutError):
            self._process = None
            raise
        logger.info("MLflow server up on %s in %.1fs", self.url, time.monotonic() - started)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server log (for error messages)."""
        return log_tail(self._log_path, chars)

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate the server's process group, then kill it if it lingers."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            logger.info("stopping MLflow server on %s", self.url)
        stop_group(process, timeout)

    def __enter__(self) -> MlflowServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
