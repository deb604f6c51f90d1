"""Scores of a Gaussian prediction against known exact values.

Each point's predictive distribution is N(mean, variance + obs_err^2): the
model's predictive variance widened by the observational noise, as in the
likelihood that set the BMA weights.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from nqsflow.bma.weights import gaussian_logpdf

Z95 = float(norm.ppf(0.975))  # half-width of the central 95 % interval in sigmas


@dataclass(frozen=True)
class Scores:
    """RMSE (Hartree), mean log predictive density (per point), 95 % coverage (fraction)."""

    rmse: float
    mlpd: float
    coverage95: float


def score(exact, mean, variance, observed_error=0.0) -> Scores:
    """Scores of a prediction ``mean``/``variance`` (shape ``(n,)``) against ``exact``.

    NaN for every score when there are no points (with a warning).
    """
    exact = np.asarray(exact, dtype=float).ravel()
    mean = np.asarray(mean, dtype=float).ravel()
    total = np.asarray(variance, dtype=float).ravel() + np.asarray(observed_error) ** 2
    total = np.broadcast_to(total, exact.shape)
    if exact.size == 0:
        warnings.warn("no points to score: scores are NaN", stacklevel=2)
        return Scores(np.nan, np.nan, np.nan)
    err = exact - mean
    rmse = float(np.sqrt(np.mean(err**2)))
    mlpd = float(np.mean(gaussian_logpdf(exact, mean, total)))
    inside = np.abs(err) <= Z95 * np.sqrt(total)
    return Scores(rmse, mlpd, float(np.mean(inside)))
