"""Apply a promotion decision to the registry: version tags and the `production` alias."""

from __future__ import annotations

import logging
from typing import Final

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

from tasador.registry.models import ModelVersionRef
from tasador.registry.promotion import PromotionDecision

logger = logging.getLogger(__name__)

PRODUCTION: Final[str] = "production"
TAG_DECISION: Final[str] = "tasador.decision"
TAG_REASON: Final[str] = "tasador.reason"
TAG_SUPERSEDED_BY: Final[str] = "tasador.superseded_by"

_MAX_TAG_VALUE: Final[int] = 5000  # MLflow's limit on a model version tag value


class StaleDecisionError(RuntimeError):
    """The production alias moved since the decision was made; it must be decided again."""


def production_version(client: MlflowClient, model_name: str) -> str | None:
    """The version number holding `production`, in one call (None: no alias, or no such model)."""
    try:
        model = client.get_registered_model(model_name)
    except MlflowException as err:
        if str(err.error_code) == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return None
        raise
    version = (model.aliases or {}).get(PRODUCTION)
    return None if version is None else str(version)


def get_production(client: MlflowClient, model_name: str) -> ModelVersionRef | None:
    """The version holding the `production` alias, or None (no alias, or no such model)."""
    version = production_version(client, model_name)
    if version is None:
        return None
    mv = client.get_model_version(model_name, version)
    return ModelVersionRef(name=mv.name, version=str(mv.version), run_id=str(mv.run_id))


def apply_decision(client: MlflowClient, model_name: str, decision: PromotionDecision) -> None:
    """Record the decision on the challenger version and, if promoted, move `production` to it.

    Moving an alias is one registry write, so there is never a moment without a production model.
    The superseded champion is tagged with its successor. Idempotent: applying the same decision
    again changes nothing. Raises `StaleDecisionError` if, when promoting, `production` is held by
    neither the decision's champion nor its challenger (someone else moved it meanwhile).
    """
    challenger = decision.challenger_version
    verdict = "promoted" if decision.promote else "rejected"
    client.set_model_version_tag(model_name, challenger, TAG_DECISION, verdict)
    client.set_model_version_tag(
        model_name, challenger, TAG_REASON, decision.reason[:_MAX_TAG_VALUE]
    )
    if not decision.promote:
        logger.info("%s version %s rejected: %s", model_name, challenger, decision.reason)
        return
    current = get_production(client, model_name)
    current_version = current.version if current else None
    if current_version not in (decision.champion_version, challenger):
        raise StaleDecisionError(
            f"production is version {current_version}, but the decision compared against "
            f"{decision.champion_version}"
        )
    if current_version != challenger:
        client.set_registered_model_alias(model_name, PRODUCTION, challenger)
    champion = decision.champion_version
    if champion is not None and champion != challenger:
        client.set_model_version_tag(model_name, champion, TAG_SUPERSEDED_BY, challenger)
    logger.info("%s version %s promoted: %s", model_name, challenger, decision.reason)
