"""COPY in and out of PostgreSQL through one CSV buffer built and parsed by pyarrow.

Why CSV through pyarrow: it serialises a whole frame in C (quoting every string and leaving NULL as
an unquoted empty field, exactly PostgreSQL's CSV convention), so a COPY costs little more than the
server's own parsing; reading back, pyarrow parses the CSV into typed columns in one pass.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

logger = logging.getLogger(__name__)

CHUNK_BYTES: Final[int] = 1 << 20
_WRITE_OPTIONS: Final = pacsv.WriteOptions(
    include_header=False, quoting_style="needed", batch_size=16_384
)
_NUL: Final[bytes] = b"\x00"
_REPLACEMENT: Final[bytes] = "\ufffd".encode()


def driver_cursor(conn: sa.Connection) -> psycopg.Cursor[Any]:
    """A psycopg cursor inside the SQLAlchemy connection's transaction (for COPY)."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError(f"storage needs the psycopg driver, not {type(driver).__name__}")
    return driver.cursor()


def text_array(series: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A column of text (NA as null), zero-copy when it already is an Arrow string column."""
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
        return pa.array(series.array)
    return pa.array(series.astype("string[pyarrow]").array)


def constant_array(value: int, length: int) -> pa.Array:
    """An int64 column holding one value (the batch id of every row)."""
    return pa.array(np.full(length, value, dtype=np.int64))


def csv_bytes(table: pa.Table) -> bytes:
    """The table as PostgreSQL CSV: strings quoted, NULL unquoted empty, no header.

    PostgreSQL text cannot hold NUL characters; any are replaced by U+FFFD (with a warning) so one
    odd value cannot make a whole batch unstorable.
    """
    sink = io.BytesIO()
    # One chunk per column: pyarrow's CSV writer emits garbage for a column whose first chunk is
    # empty (as pandas' concat of an empty frame and a non-empty one produces).
    pacsv.write_csv(table.combine_chunks(), sink, _WRITE_OPTIONS)
    data = sink.getvalue()
    if _NUL in data:
        logger.warning("replacing NUL characters, which PostgreSQL text cannot store, by U+FFFD")
        data = data.replace(_NUL, _REPLACEMENT)
    return data


def copy_in(cursor: psycopg.Cursor[Any], table: str, columns: Sequence[str], data: bytes) -> None:
    """COPY CSV bytes into `table(columns)` in large chunks."""
    copy_in_stream(cursor, table, columns, [data])


def copy_in_stream(
    cursor: psycopg.Cursor[Any], table: str, columns: Sequence[str], parts: Iterable[bytes]
) -> None:
    """COPY CSV parts into `table(columns)` while the next part is still being made.

    The writes go through psycopg's queued writer (a thread that sends while we compute), so
    building the next part in Python overlaps with the server parsing the previous one: on two
    cores an ingest costs about the larger of the two, not their sum.
    """
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
        for data in parts:
            view = memoryview(data)
            for start in range(0, len(view), CHUNK_BYTES):
                copy.write(view[start : start + CHUNK_BYTES])


def copy_out(
    cursor: psycopg.Cursor[Any], query: sql.Composable, types: Mapping[str, pa.DataType]
) -> pa.Table:
    """Run `COPY (query) TO STDOUT` as CSV and parse it into a table with the given column types.

    `types` names the query's output columns in order. Booleans arrive as `t`/`f`; a quoted empty
    field is an empty string, an unquoted one is NULL.
    """
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query)
    sink = io.BytesIO()
    with cursor.copy(statement) as copy:
        for chunk in copy:
            sink.write(chunk)
    data = sink.getvalue()
    schema = pa.schema(list(types.items()))
    if not data:
        return schema.empty_table()
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=list(types), block_size=1 << 24),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=schema,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    )


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """A frame with nullable pandas dtypes: Int64 for integers with NULLs, Arrow-backed strings."""

    def mapper(dtype: pa.DataType) -> object:
        if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
            return pd.StringDtype("pyarrow")
        if pa.types.is_int64(dtype):
            return pd.Int64Dtype()
        return None

    return table.to_pandas(types_mapper=mapper, date_as_object=False)
