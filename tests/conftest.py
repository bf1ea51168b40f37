"""Shared fixtures live in tests/fixtures/, one module per service."""

pytest_plugins = ["fixtures.postgres", "fixtures.mlflow", "fixtures.http", "fixtures.loop"]
