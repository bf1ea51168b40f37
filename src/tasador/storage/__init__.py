"""The only code that talks to PostgreSQL: tables, migrations, COPY loaders, the batch records.

Start-up is explicit: `ensure_database(url)`, `wait_for_database(url)`, `migrate(url, store)`, then
`make_engine(url)` for the stores' functions (`raw_store`, `clean_store`).
"""

from tasador.storage.engine import ensure_database, make_engine, wait_for_database
from tasador.storage.migrate import migrate
from tasador.storage.records import (
    BatchConflict,
    BatchRecord,
    BatchStatus,
    DecisionRecord,
    DriftRecord,
    FetchEvent,
    IllegalTransitionError,
    StoredBatch,
)

__all__ = [
    "BatchConflict",
    "BatchRecord",
    "BatchStatus",
    "DecisionRecord",
    "DriftRecord",
    "FetchEvent",
    "IllegalTransitionError",
    "StoredBatch",
    "ensure_database",
    "make_engine",
    "migrate",
    "wait_for_database",
]
