"""The data lake: each batch's RAW and CLEAN rows as one Parquet object per batch and layer.

`data-raw/batch-000000042.parquet` holds batch 42 exactly as received (text columns, as RAW DATA
has them), `data-clean/...` its typed clean rows with their keys and holdout flag. An object is
written once: a re-run finds it and writes nothing, so the lake never holds a batch twice. A bigger
engine (Spark, DuckDB, Athena) can read the prefixes as two tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

if TYPE_CHECKING:
    import pandas as pd

    from tasador.platform.seaweedfs import S3Credentials

Layer = Literal["raw", "clean"]
LAYERS: Final[tuple[Layer, ...]] = ("raw", "clean")


@dataclass(frozen=True)
class DataLake:
    """Parquet objects under `root` (a bucket, or a folder) of `filesystem`."""

    filesystem: pafs.FileSystem
    root: str

    def path(self, layer: Layer, batch_id: int) -> str:
        return f"{self.root}/data-{layer}/batch-{batch_id:09d}.parquet"

    def has(self, layer: Layer, batch_id: int) -> bool:
        info = self.filesystem.get_file_info(self.path(layer, batch_id))
        return info.type != pafs.FileType.NotFound

    def write(self, layer: Layer, batch_id: int, frame: pd.DataFrame) -> bool:
        """Write a batch's rows unless its object exists; returns whether it wrote.

        An S3 object appears whole or not at all; in a folder the file is written aside and
        renamed, so a crash never leaves half an object that a re-run would take as written.
        """
        if self.has(layer, batch_id):
            return False
        table = pa.Table.from_pandas(frame, preserve_index=False)
        path = self.path(layer, batch_id)
        if isinstance(self.filesystem, pafs.LocalFileSystem):
            self.filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
            pq.write_table(table, f"{path}.partial", filesystem=self.filesystem)
            self.filesystem.move(f"{path}.partial", path)
        else:
            pq.write_table(table, path, filesystem=self.filesystem)
        return True

    def rows(self, layer: Layer, batch_id: int) -> int:
        """How many rows a batch's object holds (from its footer)."""
        with self.filesystem.open_input_file(self.path(layer, batch_id)) as source:
            return int(pq.ParquetFile(source).metadata.num_rows)

    def batches(self, layer: Layer) -> list[int]:
        """The batch ids the lake holds in `layer`."""
        selector = pafs.FileSelector(f"{self.root}/data-{layer}", allow_not_found=True)
        names = [info.base_name for info in self.filesystem.get_file_info(selector)]
        return sorted(
            int(name.removeprefix("batch-").removesuffix(".parquet"))
            for name in names
            if name.startswith("batch-") and name.endswith(".parquet")
        )


def s3_lake(endpoint_url: str | None, credentials: S3Credentials | None, bucket: str) -> DataLake:
    """The lake in `bucket` of an S3 store (without credentials: the AWS chain)."""
    options: dict[str, object] = {"region": "us-east-1"}
    if endpoint_url:
        parsed = urlparse(endpoint_url)
        options |= {"endpoint_override": parsed.netloc, "scheme": parsed.scheme or "https"}
    if credentials is not None:
        options |= {
            "access_key": credentials.access_key_id,
            "secret_key": credentials.secret_access_key,
        }
    return DataLake(pafs.S3FileSystem(**options), bucket)
