"""Engines for the PostgreSQL stores: create one, make sure its database exists, wait for it."""

from __future__ import annotations

import logging
import time

import psycopg
import sqlalchemy as sa
from psycopg import errors, sql
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)


def make_engine(url: str) -> sa.Engine:
    """A SQLAlchemy engine on psycopg 3 that checks pooled connections before use."""
    return sa.create_engine(url, pool_pre_ping=True)


def libpq_dsn(url: str, database: str | None = None) -> str:
    """The libpq form of a SQLAlchemy URL (optionally pointing at another database)."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def ensure_database(url: str) -> None:
    """Create the database named in `url` if it is missing, through the server's `postgres` db."""
    name = make_url(url).database
    if not name:
        raise ValueError(f"no database named in {make_url(url)!r}")
    with psycopg.connect(libpq_dsn(url, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            logger.info("created database %s", name)
        except (errors.DuplicateDatabase, errors.UniqueViolation):
            pass  # another process created it between our check and our CREATE


def wait_for_database(url: str, timeout: float = 60.0) -> None:
    """Block until the database answers a query, or raise the last error after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    dsn = libpq_dsn(url)
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=max(1, min(5, int(timeout)))) as conn:
                conn.execute("SELECT 1")
                return
        except psycopg.OperationalError:
            if time.monotonic() >= deadline:
                raise
            logger.debug("database %s not ready yet", make_url(url))
            time.sleep(0.25)
