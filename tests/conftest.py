"""Shared fixtures live in tests/fixtures/, one module per service."""

pytest_plugins = [
    "fixtures.postgres",
    "fixtures.mlflow",
    "fixtures.http",
    "fixtures.loop",
    "fixtures.serving",
    "fixtures.history",
    "fixtures.s3",
    "fixtures.prometheus",
]


def pytest_collection_modifyitems(items: list) -> None:
    """Every test under tests/integration or tests/e2e starts real servers: mark it so by folder,
    so that `-m "not integration and not e2e"` leaves only the unit suite."""
    import pytest

    for item in items:
        parts = item.path.parts
        for folder in ("integration", "e2e"):
            if folder in parts and not item.get_closest_marker(folder):
                item.add_marker(getattr(pytest.mark, folder))


def pytest_sessionfinish(session: object) -> None:
    """As root, the embedded clusters of this session's state folders live apart from them, in
    /var/lib/tasador-pg: delete them now rather than at some later start."""
    import os

    if os.geteuid() != 0:
        return
    from tasador.platform.postgres import remove_abandoned_clusters

    factory = getattr(getattr(session, "config", None), "_tmp_path_factory", None)
    if factory is not None:
        remove_abandoned_clusters(under=factory.getbasetemp())
