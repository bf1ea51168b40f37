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
from mlflow.types import ColSpec, Schema, TensorSpec

from tasador import schema
from tasador.training.features import FeatureSpec
from tasador.training.train import predict_price

BOOSTER_FILE: Final[str] = "model.ubj"
SPEC_FILE: Final[str] = "feature_spec.json"
PROFILE_FILE: Final[str] = "training_profile.json"

# The listing fields the model reads: the request body of the inference API, less the ids.
INPUT_COLUMNS: Final[tuple[str, ...]] = tuple(f.name for f in schema.MODEL_INPUTS)


def model_signature(
    inputs: tuple[schema.ListingInput, ...] = schema.MODEL_INPUTS,
) -> ModelSignature:
    """Inputs: the model's listing fields (numbers may be NaN, optional fields absent); output:
    price. Numbers are doubles, everything else strings (dates as ISO days)."""
    columns: list[ColSpec | TensorSpec] = [
        ColSpec("double", f.name, required=False)
        if f.kind is schema.Kind.NUMBER
        else ColSpec("string", f.name, required=f.required)
        for f in inputs
    ]
    return ModelSignature(inputs=Schema(columns), outputs=Schema([ColSpec("double", "price")]))


def input_example(
    frame: pd.DataFrame,
    rows: int = 2,
    inputs: tuple[schema.ListingInput, ...] = schema.MODEL_INPUTS,
) -> pd.DataFrame:
    """A few complete listings from `frame`, in the plain types of the signature."""
    names = [f.name for f in inputs]
    complete = frame.dropna(subset=names).head(rows)
    if len(complete) == 0:
        complete = frame.head(rows)
    example = pd.DataFrame(index=range(len(complete)))
    for f in inputs:
        values = complete[f.name]
        if f.kind is schema.Kind.NUMBER:
            example[f.name] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        elif f.kind is schema.Kind.DATE:
            dates = pd.to_datetime(values)
            iso = dates.dt.strftime("%Y-%m-%d").astype(object)
            example[f.name] = iso.where(dates.notna(), None).to_numpy()
        else:
            example[f.name] = values.astype(object).where(values.notna(), None).to_numpy()
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
