"""Drift statistics and the drift report of a batch against a model's training data."""

from tasador.drift.chi_square import CRAMERS_V_THRESHOLD, ChiSquareResult, chi_square_homogeneity
from tasador.drift.ks import KS_THRESHOLD, KsResult, ks_two_sample
from tasador.drift.profile import (
    CategoricalProfile,
    DataProfile,
    NumericProfile,
    profile_frame,
)
from tasador.drift.psi import PSI_THRESHOLD, categorical_psi, numeric_psi, psi_from_shares
from tasador.drift.report import (
    DRIFT_CATEGORICAL,
    DRIFT_NUMERIC,
    DriftReport,
    FeatureDrift,
    detect_drift,
)

__all__ = [
    "CRAMERS_V_THRESHOLD",
    "DRIFT_CATEGORICAL",
    "DRIFT_NUMERIC",
    "KS_THRESHOLD",
    "PSI_THRESHOLD",
    "CategoricalProfile",
    "ChiSquareResult",
    "DataProfile",
    "DriftReport",
    "FeatureDrift",
    "KsResult",
    "NumericProfile",
    "categorical_psi",
    "chi_square_homogeneity",
    "detect_drift",
    "ks_two_sample",
    "numeric_psi",
    "profile_frame",
    "psi_from_shares",
]
