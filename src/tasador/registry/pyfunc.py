"""The model as an MLflow pyfunc, so `mlflow models serve` (and `mlflow.pyfunc.load_model`) can
serve it: the native XGBoost booster and the feature spec, loaded from the model's artifacts.

The class is pickled by reference, so the environment that loads it needs `tasador` installed.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import xgboost as xgb
from mlflow.models.signature import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import ColSpec, Schema

from tasador.training.features import FeatureSpec
from tasador.training.train import predict_price

BOOSTER_FILE: Final[str] = "model.ubj"
SPEC_FILE: Final[str] = "feature_spec.json"
PROFILE_FILE: Final[str] = "training_profile.json"

# The listing fields the model reads: the request body of the inference API, less the ids.
_NUMERIC_INPUTS: Final[tuple[str, ...]] = ("bed", "bath", "acre_lot", "house_size")
_REQUIRED_STRINGS: Final[tuple[str, ...]] = ("state", "status")
_OPTIONAL_STRINGS: Final[tuple[str, ...]] = ("city", "zip_code", "prev_sold_date")
INPUT_COLUMNS: Final[tuple[str, ...]] = (
    *_NUMERIC_INPUTS,
    *_REQUIRED_STRINGS,
    *_OPTIONAL_STRINGS,
)


def model_signature() -> ModelSignature:
    """Inputs: listing fields (numbers may be NaN, optional strings absent); output: price."""
    inputs = Schema(
        [
            *(ColSpec("double", name, required=False) for name in _NUMERIC_INPUTS),
            *(ColSpec("string", name) for name in _REQUIRED_STRINGS),
            *(ColSpec("string", name, required=False) for name in _OPTIONAL_STRINGS),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double", "price")]))


def input_example(frame: pd.DataFrame, rows: int = 2) -> pd.DataFrame:
    """A few complete listings from `frame`, in the plain types of the signature."""
    complete = frame.dropna(subset=list(INPUT_COLUMNS)).head(rows)
    if len(complete) == 0:
        complete = frame.head(rows)
    example = pd.DataFrame(index=range(len(complete)))
    for name in _NUMERIC_INPUTS:
        example[name] = complete[name].to_numpy(dtype=np.float64, na_value=np.nan)
    for name in (*_REQUIRED_STRINGS, "city", "zip_code"):
        example[name] = complete[name].astype(object).where(complete[name].notna(), None).to_numpy()
    dates = pd.to_datetime(complete["prev_sold_date"])
    iso = dates.dt.strftime("%Y-%m-%d").astype(object)
    example["prev_sold_date"] = iso.where(dates.notna(), None).to_numpy()
    return example


# MLflow warns, when the class is created, that `predict` has no type hints; they are left out
# on purpose (see below). MLflow forces its own "once" filter there, so the warning is recorded
# and dropped rather than filtered.
with warnings.catch_warnings(record=True):

    class PriceModel(PythonModel):
        """Predicts list prices in dollars from a DataFrame of listings."""

        booster: xgb.Booster
        spec: FeatureSpec

        def load_context(self, context: Any) -> None:
            self.booster = xgb.Booster()
            self.booster.load_model(context.artifacts["booster"])  # XGBoost's default threads
            self.spec = FeatureSpec.from_dict(
                json.loads(Path(context.artifacts["feature_spec"]).read_text())
            )

        # `model_input` is left unannotated on purpose: MLflow reads the hint as a signature.
        def predict(self, context: Any, model_input, params: Any = None) -> Any:
            frame = (
                model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
            )
            return predict_price(self.booster, self.spec, frame)
