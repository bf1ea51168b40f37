"""Both stores' migrations apply idempotently, concurrently, and match the table metadata."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tasador.platform.postgres import EmbeddedPostgres
from tasador.storage.engine import ensure_database, libpq_dsn, make_engine, wait_for_database
from tasador.storage.migrate import Store, migrate, version_table
from tasador.storage.tables import CLEAN_METADATA, RAW_METADATA

pytestmark = pytest.mark.integration

METADATA = {"raw": RAW_METADATA, "clean": CLEAN_METADATA}


def _diff(url: str, store: Store) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "include_object": lambda obj, name, kind, *_: (
                        not (kind == "table" and name == version_table(store))
                    ),
                },
            )
            return list(compare_metadata(context, METADATA[store]))
    finally:
        engine.dispose()


@pytest.mark.parametrize("store", ["raw", "clean"])
def test_migrations_apply_twice_and_match_metadata(
    make_database: Callable[[str], str], store: Store
) -> None:
    url = make_database(store)
    migrate(url, store)
    migrate(url, store)
    assert _diff(url, store) == []
    engine = make_engine(url)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        heads = conn.execute(sa.text(f"SELECT version_num FROM {version_table(store)}")).all()
    engine.dispose()
    assert set(METADATA[store].tables) | {version_table(store)} == tables
    assert len(heads) == 1


def test_both_stores_share_one_database(make_database: Callable[[str], str]) -> None:
    url = make_database("both")
    migrate(url, "raw")
    migrate(url, "clean")
    engine = make_engine(url)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert set(RAW_METADATA.tables) | set(CLEAN_METADATA.tables) <= tables


def test_concurrent_migrations_do_not_collide(make_database: Callable[[str], str]) -> None:
    url = make_database("conc")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(url, "clean")
        except BaseException as err:  # the assertion below reports it
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert _diff(url, "clean") == []


def test_unknown_store_is_refused(make_database: Callable[[str], str]) -> None:
    with pytest.raises(ValueError, match="unknown store"):
        migrate(make_database("bad"), "cooked")  # type: ignore[arg-type]


def test_ensure_database_creates_it_once(postgres: EmbeddedPostgres) -> None:
    url = postgres.url("ensure_me_storage")
    try:
        ensure_database(url)
        ensure_database(url)
        wait_for_database(url, timeout=5)
        with psycopg.connect(libpq_dsn(url)) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("ensure_me_storage",)
    finally:
        postgres.drop_database("ensure_me_storage")


def test_wait_for_database_gives_up_on_a_closed_port() -> None:
    from fixtures.postgres import free_port

    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"
    with pytest.raises(psycopg.OperationalError):
        wait_for_database(url, timeout=0.5)
