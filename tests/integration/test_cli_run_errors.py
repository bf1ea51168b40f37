"""`tasador run` with a data API that keeps failing: one line saying what failed, exit code 1."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from typer.testing import CliRunner

from fixtures.http import running_server
from tasador.cli import app
from tasador.platform.mlflow_server import MlflowServer
from tasador.settings import get_settings

pytestmark = pytest.mark.integration


async def _unavailable(_: Request) -> JSONResponse:
    return JSONResponse({"detail": "maintenance"}, status_code=503)


@pytest.fixture
def failing_api() -> Iterator[str]:
    """A data API (a real HTTP server) that answers every request with 503."""
    paths = ("/data", "/health", "/restart_data_generation")
    routes = [Route(path, _unavailable) for path in paths]
    with running_server(Starlette(routes=routes)) as url:
        yield url


@pytest.fixture
def settings_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_database: Callable[[str], str],
    mlflow_server: MlflowServer,
    failing_api: str,
) -> Iterator[None]:
    monkeypatch.setenv("TASADOR_STATE_DIR", str(tmp_path / "state"))
    for setting in ("RAW", "CLEAN", "MLFLOW"):
        monkeypatch.setenv(f"TASADOR_DB_{setting}_URL", make_database(setting.lower()))
    monkeypatch.setenv("TASADOR_MLFLOW_TRACKING_URI", mlflow_server.url)
    monkeypatch.setenv("TASADOR_MLFLOW_MODEL_NAME", f"cli-errors-{os.getpid()}")
    monkeypatch.setenv("TASADOR_DATA_API_URL", failing_api)
    monkeypatch.setenv("TASADOR_DATA_API_ATTEMPTS", "3")
    get_settings.cache_clear()
    umask = os.umask(0o022)
    os.umask(umask)
    yield
    os.umask(umask)
    get_settings.cache_clear()


def test_a_failing_data_api_ends_run_with_one_line(settings_env: None) -> None:
    result = CliRunner().invoke(app, ["run"], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    error = [line for line in result.output.splitlines() if "the data API failed" in line]
    assert len(error) == 1
    assert "after 3 attempt(s)" in error[0]
    assert "TASADOR_DATA_API_URL" in error[0]
    # each retry is said once (by tasador, with what failed), not again by the retry library
    assert result.output.count("attempt 1/3 failed") == 1
    assert result.output.count("attempt 2/3 failed") == 1
