"""Apply the Alembic migrations of one store programmatically, under an advisory lock.

Two migration trees ship inside the package (`migrations/raw`, `migrations/clean`), each with its
own version table, so the two stores may live in separate databases or share one.
"""

from __future__ import annotations

import logging
import zlib
from importlib import resources
from typing import Any, Final, Literal

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

Store = Literal["raw", "clean"]
STORES: Final[tuple[Store, ...]] = ("raw", "clean")


def version_table(store: Store) -> str:
    """Name of the Alembic version table of one store."""
    return f"{store}_alembic_version"


def _lock_key(store: Store) -> int:
    """A stable 32-bit advisory lock key per store (the same in every process)."""
    return zlib.crc32(f"tasador.migrate.{store}".encode())


def alembic_config(store: Store, connection: sa.Connection | None = None) -> Config:
    """An Alembic config for one store's migration tree, found inside the installed package."""
    if store not in STORES:
        raise ValueError(f"unknown store {store!r}; expected one of {STORES}")
    location = resources.files("tasador.storage") / "migrations" / store
    config = Config()
    config.set_main_option("script_location", str(location))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(url: str, store: Store) -> None:
    """Bring one store's schema to the newest revision; idempotent and safe to run concurrently.

    The whole upgrade runs in one transaction holding a transaction-level advisory lock, so a
    second process waits, then finds the schema already at head and does nothing.
    """
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(store))))
            command.upgrade(alembic_config(store, conn), "head")
    finally:
        engine.dispose()
    logger.info("%s store at head: %s", store, engine.url)


def run_env(context: Any, metadata: sa.MetaData, store: Store) -> None:
    """The body of both env.py files: migrate on the given connection, or on a URL."""
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "version_table": version_table(store),
        "compare_type": True,
    }
    connection = context.config.attributes.get("connection")
    if context.is_offline_mode():
        context.configure(
            url=context.config.get_main_option("sqlalchemy.url"), literal_binds=True, **options
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    if connection is not None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url"), poolclass=NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, **options)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
