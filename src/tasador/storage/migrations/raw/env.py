"""Alembic environment of the RAW DATA store (applied by `tasador.storage.migrate`)."""

from alembic import context

from tasador.storage.migrate import run_env
from tasador.storage.tables import RAW_METADATA

run_env(context, RAW_METADATA, "raw")
