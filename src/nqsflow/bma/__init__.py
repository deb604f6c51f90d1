"""BMA stage: weigh the corrected models (predictive likelihood of the test points,
evidence, or stacking), average them, and score every model and the average on
the target points."""

from nqsflow.bma.scores import LEVELS, Z95, Scores, mixture_interval, score, score_mixture
from nqsflow.bma.stacking import stacking_objective, stacking_weights
from nqsflow.bma.stage import SCHEMA, WEIGHTINGS, run_bma
from nqsflow.bma.weights import (
    average,
    bma_weights,
    evidence_weights,
    gaussian_logpdf,
    pointwise_log_densities,
    predictive_log_likelihoods,
)

__all__ = [
    "LEVELS",
    "SCHEMA",
    "WEIGHTINGS",
    "Z95",
    "Scores",
    "average",
    "bma_weights",
    "evidence_weights",
    "gaussian_logpdf",
    "mixture_interval",
    "pointwise_log_densities",
    "predictive_log_likelihoods",
    "run_bma",
    "score",
    "score_mixture",
    "stacking_objective",
    "stacking_weights",
]
