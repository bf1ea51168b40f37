"""`tasador up` that cannot start: one clear error naming the service, exit code 1."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures.postgres import free_port
from tasador.cli import app
from tasador.platform.mlflow_server import MlflowServer
from tasador.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("TASADOR_STATE_DIR", str(tmp_path / "state"))
    for service in ("SERVING", "UI", "MLFLOW", "SIMULATOR", "PROMETHEUS"):  # no fixed port
        monkeypatch.setenv(f"TASADOR_{service}_PORT", str(free_port()))
    get_settings.cache_clear()
    umask = os.umask(0o022)  # the command sets its own; give the test process its own back
    os.umask(umask)
    yield tmp_path / "state"
    os.umask(umask)
    get_settings.cache_clear()


def test_up_with_the_database_port_taken_says_so_and_starts_nothing(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("TASADOR_DB_EMBEDDED_PORT", str(port))
        result = CliRunner().invoke(app, ["up", "--no-wait"], env={"COLUMNS": "200"})

    assert result.exit_code == 1, result.output
    assert "cannot start the local platform" in result.output
    assert f"127.0.0.1:{port}, for the embedded PostgreSQL, is in use" in result.output
    assert "TASADOR_DB_EMBEDDED_PORT" in result.output
    assert "Traceback" not in result.output
    assert not (settings_env / "postgres").exists()  # nothing was started


def test_up_when_a_service_fails_to_start_names_it_and_shows_its_log(
    settings_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_database: Callable[[str], str],
    mlflow_server: MlflowServer,
) -> None:
    """The inference API cannot listen on an address this machine does not have."""
    for setting in ("RAW", "CLEAN", "MLFLOW"):
        monkeypatch.setenv(f"TASADOR_DB_{setting}_URL", make_database(setting.lower()))
    monkeypatch.setenv("TASADOR_MLFLOW_TRACKING_URI", mlflow_server.url)
    monkeypatch.setenv("TASADOR_DATA_API_URL", "http://127.0.0.1:9")  # not started: configured
    monkeypatch.setenv("TASADOR_SERVING_HOST", "192.0.2.1")  # TEST-NET-1: never a local address
    monkeypatch.setenv("TASADOR_SERVING_PORT", str(free_port()))

    result = CliRunner().invoke(app, ["up", "--no-wait"], env={"COLUMNS": "200"})

    assert result.exit_code == 1, result.output
    assert "the inference API did not start" in result.output
    assert str(settings_env / "serving.log") in result.output
    assert "192.0.2.1" in result.output  # the server's own words, from the end of its log
    assert "Traceback" not in result.output
    # what the state folder holds is its owner's only
    assert stat.S_IMODE(settings_env.stat().st_mode) == 0o700
    assert stat.S_IMODE((settings_env / "serving.log").stat().st_mode) == 0o600
