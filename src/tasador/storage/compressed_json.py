"""JSON bodies as zstd frames: how RAW DATA stores the inference log's request and answer bodies.

Packed in the API's log writer and stored as `bytea` that PostgreSQL leaves as it is, a large body
costs the database far less CPU and space than a `json` column it checks and compresses itself
(migration raw_0004; figures in docs/serving-performance.md). The frame holds the JSON text
exactly as received or encoded, so `unpack_text` gives those bytes back; `unpack` parses them.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import orjson
import zstandard

__all__ = ["LEVEL", "pack", "unpack", "unpack_text"]

LEVEL: Final[int] = 1  # the fastest: the log writer shares the server's cores

_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    """This thread's compressor (a compressor must not be shared between threads)."""
    compressor: zstandard.ZstdCompressor | None = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=LEVEL)
    return compressor


def pack(value: Any) -> bytes:
    """`value` as a zstd frame of its JSON text (an `orjson.Fragment` is JSON already: kept)."""
    text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=str)
    return _compressor().compress(text)


def unpack_text(frame: bytes) -> bytes:
    """The JSON text a frame holds, byte for byte."""
    return zstandard.ZstdDecompressor().decompress(frame)


def unpack(frame: bytes) -> Any:
    """The value a frame holds."""
    return orjson.loads(unpack_text(frame))
