"""Live-traffic drift: which listings of the logged bodies are compared, and against what."""

from __future__ import annotations

import pandas as pd

from tasador import schema
from tasador.drift.profile import profile_frame
from tasador.drift.report import DRIFT_CATEGORICAL, DRIFT_NUMERIC
from tasador.serving.live_drift import listings_frame, serving_profile

LISTING = {"bed": 3, "bath": 2, "acre_lot": 0.25, "house_size": 1600, "state": "TX"}
FEATURES = ("bed", "house_size", "state", "status")


def test_bodies_give_their_valid_listings_normalised_newest_first() -> None:
    bodies = [
        {**LISTING, "status": "sold"},  # one listing
        [{**LISTING, "status": "for_sale", "bed": 4}, {"bed": -1}],  # a list, one item refused
        {"house_size": "big"},  # refused whole
    ]
    frame = listings_frame(bodies, FEATURES, limit=10)
    assert list(frame.columns) == list(FEATURES)
    assert frame["bed"].tolist() == [3, 4]
    assert frame["state"].tolist() == ["Texas", "Texas"]  # as the model saw it when pricing
    assert frame["status"].tolist() == ["sold", "for_sale"]


def test_at_most_limit_listings_are_read() -> None:
    read: list[int] = []

    def bodies():  # type: ignore[no-untyped-def]
        for i in range(1_000):
            read.append(i)
            yield [{**LISTING, "status": "sold"}] * 7

    frame = listings_frame(bodies(), FEATURES, limit=20)
    assert len(frame) == 20
    assert len(read) == 3  # the fourth body is never asked for


def test_no_listing_gives_an_empty_frame_with_the_features() -> None:
    frame = listings_frame([], FEATURES, limit=5)
    assert frame.empty
    assert list(frame.columns) == list(FEATURES)


def test_the_price_is_left_out_of_the_reference() -> None:
    train = pd.DataFrame(
        {
            "price": [1e5, 2e5, 3e5],
            "bed": [1, 2, 3],
            "bath": [1, 1, 2],
            "acre_lot": [0.1, 0.2, 0.3],
            "house_size": [900, 1200, 1500],
            "status": ["sold", "sold", "for_sale"],
            "state": ["Texas", "Ohio", "Texas"],
        }
    )
    training = profile_frame(train, DRIFT_NUMERIC, DRIFT_CATEGORICAL)
    served = serving_profile(training)
    assert schema.TARGET in training.features
    assert schema.TARGET not in served.features
    assert set(served.features) == set(training.features) - {schema.TARGET}
    assert served.rows == training.rows
