"""BMA stage: weigh the corrected models by their predictive likelihood on the
test points, average them, and score every model and the average on the
target points."""

from nqsflow.bma.scores import Z95, Scores, score
from nqsflow.bma.stage import SCHEMA, run_bma
from nqsflow.bma.weights import average, bma_weights, gaussian_logpdf, predictive_log_likelihoods

__all__ = [
    "SCHEMA",
    "Z95",
    "Scores",
    "average",
    "bma_weights",
    "gaussian_logpdf",
    "predictive_log_likelihoods",
    "run_bma",
    "score",
]
