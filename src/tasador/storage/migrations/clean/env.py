"""Alembic environment of the CLEAN DATA store (applied by `tasador.storage.migrate`)."""

from alembic import context

from tasador.storage.migrate import run_env
from tasador.storage.tables import CLEAN_METADATA

run_env(context, CLEAN_METADATA, "clean")
