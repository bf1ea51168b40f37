"""`tasador up` with a port taken: one clear error, exit code 1, nothing started."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tasador.cli import app
from tasador.settings import get_settings


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("TASADOR_STATE_DIR", str(tmp_path / "state"))
    get_settings.cache_clear()
    yield tmp_path / "state"
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
