"""The settings table (docs/configuration.md) and .env.example list exactly the settings the code
reads; the README documents every command and stays a short user's page."""

from __future__ import annotations

from pathlib import Path

from tasador.settings import describe_settings

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_lists_every_setting_with_its_default() -> None:
    readme = (ROOT / "docs" / "configuration.md").read_text()
    assert "docs/configuration.md" in (ROOT / "README.md").read_text()
    table = readme.split("<!-- settings-table:start -->")[1].split("<!-- settings-table:end -->")[0]
    documented = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    rows = describe_settings()
    assert documented == {variable for variable, _, _ in rows}
    for variable, default, _ in rows:
        line = next(line for line in table.splitlines() if line.startswith(f"| `{variable}`"))
        assert (f"`{default}`" if default else "(none)") in line, variable


def test_env_example_lists_every_setting() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    listed = {
        line.lstrip("# ").split("=")[0] for line in lines if "=" in line and "TASADOR_" in line
    }
    assert listed == {variable for variable, _, _ in describe_settings()}


def test_readme_documents_every_command_and_stays_short() -> None:
    from tasador.cli import app

    readme = (ROOT / "README.md").read_text()
    commands = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    assert commands
    for command in commands:
        assert f"tasador {command} " in readme, command
    assert len(readme.encode()) < 16_000  # a user's document; investigations live in docs/


def test_make_run_installs_the_package_alone_and_no_gpu_library() -> None:
    makefile = (ROOT / "Makefile").read_text()
    run = next(line for line in makefile.splitlines() if line.startswith("run:"))
    assert run.split(":")[1].split("#")[0].split() == ["runtime"]
    runtime = makefile.split("\nruntime:")[1].split("\n\n")[0]
    assert "sync --frozen --no-dev" in runtime
    lock = (ROOT / "uv.lock").read_text()
    assert 'name = "xgboost-cpu"' in lock  # same API as `xgboost`, without the CUDA libraries
    assert 'name = "xgboost"\n' not in lock
    assert "nvidia" not in lock


def test_lint_scans_for_security_findings_and_secrets_and_audit_is_strict() -> None:
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint:")[1].split("\n\n")[0]
    assert "bandit" in lint
    assert "detect-secrets-hook" in lint
    audit = makefile.split("\naudit:")[1].split("\n\n")[0]
    assert "pip-audit" in audit
    assert "--strict" in audit  # a package that could not be checked fails the audit
