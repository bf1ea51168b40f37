"""The MLflow tracking server subprocess: PostgreSQL backend, start, health, stop, failure."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest
from mlflow import MlflowClient

from fixtures.postgres import free_port
from tasador.platform.mlflow_server import MlflowServer
from tasador.platform.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration


def dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_metadata_lands_in_postgresql(mlflow_server: MlflowServer) -> None:
    name = f"exp-{uuid.uuid4().hex[:8]}"
    MlflowClient(tracking_uri=mlflow_server.url).create_experiment(name)
    with psycopg.connect(dsn(mlflow_server.backend_uri)) as conn:
        found = conn.execute("SELECT count(*) FROM experiments WHERE name = %s", (name,))
        assert found.fetchone() == (1,)
    assert httpx.get(f"{mlflow_server.url}/health").status_code == 200


@pytest.mark.parametrize("url", ["sqlite:///mlflow.db", "file:///tmp/mlruns", "mysql://x/y"])
def test_only_postgresql_backends_are_accepted(url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        MlflowServer(url, str(tmp_path), port=free_port())


def test_command_runs_one_worker_without_the_job_runner(tmp_path: Path) -> None:
    server = MlflowServer("postgresql://u@h/db", str(tmp_path / "a"), port=5999, workers=1)
    command = server.command()
    assert command[1:4] == ["-m", "mlflow", "server"]
    assert command[command.index("--workers") + 1] == "1"
    assert "--backend-store-uri" not in command  # passed in the environment, see below
    assert "--serve-artifacts" in command
    assert server.url == "http://127.0.0.1:5999"


def test_failed_start_reports_the_log(postgres: EmbeddedPostgres, tmp_path: Path) -> None:
    # A driver SQLAlchemy does not know fails at once (a missing database would fail only after
    # MLflow's own ~100 s of connection retries).
    url = postgres.url("postgres").replace("+psycopg", "+nodriver")
    server = MlflowServer(url, str(tmp_path), port=free_port())
    with pytest.raises(RuntimeError, match="exited") as failure:
        server.start(timeout=120)
    assert "nodriver" in str(failure.value)
    assert not server.is_healthy()


def test_refuses_a_port_that_is_taken(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    server = MlflowServer(mlflow_server.backend_uri, str(tmp_path), port=mlflow_server.port)
    with pytest.raises(RuntimeError, match="in use"):
        server.start()
    assert mlflow_server.is_healthy()


def _command_lines(group: int) -> list[str]:
    lines = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if os.getpgid(int(proc.name)) == group:
                    lines.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (ProcessLookupError, FileNotFoundError, PermissionError):
                continue
    return lines


def test_start_serves_with_no_password_on_a_command_line_and_stop_ends_the_group(
    postgres: EmbeddedPostgres, make_database: Callable[[str], str], tmp_path: Path
) -> None:
    """One server start (a fresh database, migrated by MLflow) for both."""
    password = postgres.password()
    # a URL with its password in it, as a user may configure one (no password file)
    url = (
        make_database("mlflow_secret")
        .split("?")[0]
        .replace("://tasador@", f"://tasador:{password}@")
    )
    server = MlflowServer(
        url, str(tmp_path / "artifacts"), port=free_port(), log_file=tmp_path / "mlflow.log"
    )
    with server:  # it started: it read the URL, password included
        assert server.is_healthy()
        pid = server._process.pid  # type: ignore[union-attr]
        lines = _command_lines(pid)
        assert any("mlflow" in line for line in lines)
        assert not [line for line in lines if password in line]
        server.start()  # already running: no second server
        assert server._process.pid == pid  # type: ignore[union-attr]
    assert not server.is_healthy()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert "Uvicorn running" in (tmp_path / "mlflow.log").read_text()
    server.stop()  # stopping twice is harmless
