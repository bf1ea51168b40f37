"""The command line's help: a version, plain flags, and each command says what it needs."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from tasador.cli import app

COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands if c.callback)


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"tasador {version('tasador')}"


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_says_what_it_needs_and_reads(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "Needs" in result.output
    assert "TASADOR_" in result.output
    assert "<bool>" not in result.output
