"""The data API simulator over real HTTP: the course contract."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pandas as pd
import pytest

from tasador.datasource.dataset import split_batches
from tasador.datasource.generator import generate_listings
from tasador.datasource.simulator import FINISHED_DETAIL, build_simulator, create_simulator_app
from tasador.schema import COLUMN_NAMES

pytestmark = pytest.mark.integration

FLOAT_COLUMNS = (
    "brokered_by",
    "price",
    "bed",
    "bath",
    "acre_lot",
    "street",
    "zip_code",
    "house_size",
)
TEXT_COLUMNS = ("status", "city", "state", "prev_sold_date")


@pytest.fixture(scope="module")
def batches() -> list[pd.DataFrame]:
    return split_batches(generate_listings(6_000, seed=9))


@pytest.fixture
def url(serve_app: Callable[..., str], batches: list[pd.DataFrame]) -> str:
    return serve_app(create_simulator_app(batches))


def _data(url: str, group: int, day: str | None = "Tuesday") -> httpx.Response:
    params: dict[str, object] = {"group_number": group}
    if day is not None:
        params["day"] = day
    return httpx.get(f"{url}/data", params=params, timeout=30)


def test_serves_every_batch_in_order_then_400(url: str, batches: list[pd.DataFrame]) -> None:
    for k, batch in enumerate(batches):
        response = _data(url, 3)
        assert response.status_code == 200
        body = response.json()
        assert list(body) == ["group_number", "day", "batch_number", "data"]
        assert (body["group_number"], body["day"], body["batch_number"]) == (3, "Tuesday", k)
        assert len(body["data"]) == len(batch)
        first, expected = body["data"][0], batch.iloc[0]
        assert list(first) == list(COLUMN_NAMES)
        for column in FLOAT_COLUMNS:
            assert isinstance(first[column], float), column
        for column in TEXT_COLUMNS:
            assert isinstance(first[column], str), column
        assert first["price"] == expected["price"]
        assert first["zip_code"] == float(expected["zip_code"])
        assert [row["price"] for row in body["data"]] == batch["price"].tolist()
    finished = _data(url, 3)
    assert finished.status_code == 400
    assert finished.json() == {"detail": FINISHED_DETAIL}
    assert "necesaria" in finished.json()["detail"]
    assert _data(url, 3).status_code == 400  # stays finished


def test_zip_codes_lose_leading_zeros(url: str, batches: list[pd.DataFrame]) -> None:
    served = [row for _ in batches for row in _data(url, 4).json()["data"]]
    padded = pd.concat(batches)["zip_code"]
    assert padded.str.startswith("0").any()
    assert [row["zip_code"] for row in served] == [float(z) for z in padded]
    assert any(row["zip_code"] < 10_000 for row in served)


def test_restart_resets_the_cursor(url: str) -> None:
    assert _data(url, 5).json()["batch_number"] == 0
    assert _data(url, 5).json()["batch_number"] == 1
    restart = httpx.get(
        f"{url}/restart_data_generation", params={"group_number": 5, "day": "Tuesday"}
    )
    assert restart.status_code == 200
    assert restart.json() == {"ok": True}
    assert _data(url, 5).json()["batch_number"] == 0


def test_cursors_are_per_group_and_day(url: str) -> None:
    assert _data(url, 6, "Tuesday").json()["batch_number"] == 0
    assert _data(url, 6, "Tuesday").json()["batch_number"] == 1
    assert _data(url, 6, "Wednesday").json()["batch_number"] == 0
    assert _data(url, 7, "Tuesday").json()["batch_number"] == 0
    no_day = _data(url, 6, None).json()
    assert no_day["batch_number"] == 0
    assert "day" not in no_day  # the 2026 form: group_number only
    assert _data(url, 6, "Tuesday").json()["batch_number"] == 2


def test_concurrent_requests_get_distinct_batches(url: str, batches: list[pd.DataFrame]) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: _data(url, 8), range(len(batches) + 2)))
    numbers = sorted(r.json()["batch_number"] for r in responses if r.status_code == 200)
    assert numbers == list(range(len(batches)))
    assert sum(r.status_code == 400 for r in responses) == 2


def test_health_and_missing_group(url: str) -> None:
    health = httpx.get(f"{url}/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert httpx.get(f"{url}/data").status_code == 422


def test_build_simulator_from_file(serve_app: Callable[..., str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    frame = generate_listings(3_000, seed=1)
    path = tmp_path / "listings.csv"
    frame.to_csv(path, index=False)
    url = serve_app(build_simulator(path, rows=0, seed=0))
    sizes = [len(b) for b in split_batches(frame)]
    served = [len(_data(url, 1).json()["data"]) for _ in sizes]
    assert served == sizes
    synthetic = serve_app(build_simulator(None, rows=3_000, seed=1))
    assert [len(_data(synthetic, 1).json()["data"]) for _ in sizes] == sizes
