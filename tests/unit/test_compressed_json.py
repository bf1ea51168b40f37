"""The inference log's body format: zstd frames of the JSON text, which come back exactly."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import orjson
import pytest
import zstandard

from tasador.storage import compressed_json


def test_a_fragment_comes_back_as_the_exact_bytes() -> None:
    body = b'[ {"state": "Ohio\\t\\u00e9", "city":"S\xc3\xa3o"},\n  {"bed": 3.50} ]'
    frame = compressed_json.pack(orjson.Fragment(body))
    assert compressed_json.unpack_text(frame) == body
    assert zstandard.ZstdDecompressor().decompress(frame) == body  # a plain zstd frame
    assert compressed_json.unpack(frame) == orjson.loads(body)


def test_values_are_encoded_as_json_numpy_included() -> None:
    value = {"price": np.float64(1.5), "prices": np.array([1.0, 2.5]), "fallbacks": ["city"]}
    assert compressed_json.unpack(compressed_json.pack(value)) == {
        "price": 1.5,
        "prices": [1.0, 2.5],
        "fallbacks": ["city"],
    }


def test_a_large_body_is_packed_to_a_fraction() -> None:
    body = orjson.dumps(
        [{"city": f"Town {i % 97}", "bed": 3, "zip_code": i % 500} for i in range(1_000)]
    )
    assert len(compressed_json.pack(orjson.Fragment(body))) < len(body) / 5


def test_threads_packing_at_once_each_get_their_own_frames() -> None:
    bodies = [orjson.dumps([{"n": n, "text": "x" * (n % 50)}] * 200) for n in range(64)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        frames = list(pool.map(lambda b: compressed_json.pack(orjson.Fragment(b)), bodies))
    assert [compressed_json.unpack_text(f) for f in frames] == bodies


def test_a_frame_that_is_not_zstd_is_refused() -> None:
    with pytest.raises(zstandard.ZstdError):
        compressed_json.unpack_text(b'{"not": "a frame"}')
