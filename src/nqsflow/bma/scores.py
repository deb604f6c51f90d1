"""Scores of a predictive distribution against known exact values.

A single model predicts N(mean, variance + exact_err^2) at each point: its
predictive variance widened by the one-sigma error of the exact value it is
scored against (zero for a solver's value, the quoted error of a tabulated
one).  The synthetic observation noise (``data.noise``) is no part of it: it
blurs the observations the weights were fitted to, never the exact values.
The model average predicts the *mixture* ``sum_k w_k N(mean_k, var_k +
exact_err^2)``: its log density is the log of the mixture density and its
intervals are the mixture's central quantiles, not those of a Gaussian with the
mixture's mean and variance.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.special import logsumexp
from scipy.stats import norm

from nqsflow.bma.weights import gaussian_logpdf

Z95 = float(norm.ppf(0.975))  # half-width of the central 95 % interval in sigmas
LEVELS = (0.68, 0.95)
"""Central interval probabilities scored as coverage."""


@dataclass(frozen=True)
class Scores:
    """RMSE (hartree), mean log predictive density, 68 % and 95 % coverage (fractions)."""

    rmse: float
    mlpd: float
    coverage95: float
    coverage68: float = float("nan")


def score(exact, mean, variance, exact_error=0.0) -> Scores:
    """Scores of one Gaussian prediction ``mean``/``variance`` (shape ``(n,)``) against ``exact``
    known to ``exact_error`` (one sigma).

    NaN for every score when there are no points (with a warning).
    """
    mean = np.atleast_1d(np.asarray(mean, dtype=float)).ravel()
    variance = np.atleast_1d(np.asarray(variance, dtype=float)).ravel()
    return score_mixture(exact, mean[None], variance[None], [1.0], exact_error)


def score_mixture(exact, means, variances, weights, exact_error=0.0) -> Scores:
    """Scores of the mixture of ``M`` Gaussians (``means``, ``variances``: ``(M, n)``).

    ``weights`` ``(M,)`` sum to 1; the RMSE is that of the mixture mean.
    """
    exact = np.asarray(exact, dtype=float).ravel()
    means = np.atleast_2d(np.asarray(means, dtype=float))
    w = np.asarray(weights, dtype=float).ravel()
    used = w > 0  # zero-weight models must not leak inf/NaN into the sums
    w, means = w[used], means[used]
    total = np.atleast_2d(np.asarray(variances, dtype=float))[used] + (
        np.asarray(exact_error, dtype=float) ** 2
    )
    total = np.broadcast_to(total, means.shape)
    if exact.size == 0:
        warnings.warn("no points to score: scores are NaN", stacklevel=2)
        return Scores(np.nan, np.nan, np.nan, np.nan)
    centre = w @ means
    rmse = float(np.sqrt(np.mean((exact - centre) ** 2)))
    log_density = logsumexp(gaussian_logpdf(exact, means, total) + np.log(w)[:, None], axis=0)
    cover = {}
    for level in LEVELS:
        lo, hi = mixture_interval(means, total, w, level)
        cover[level] = float(np.mean((exact >= lo) & (exact <= hi)))
    return Scores(rmse, float(np.mean(log_density)), cover[0.95], cover[0.68])


def mixture_interval(means, variances, weights, level: float):
    """Central ``level`` interval ``(lo, hi)``, each ``(n,)``, of a Gaussian mixture per point."""
    means = np.atleast_2d(means)
    # A zero variance is a point mass; a tiny width keeps the CDF defined.
    std = np.maximum(np.sqrt(np.atleast_2d(variances)), 1e-300)
    w = np.asarray(weights, dtype=float)
    if means.shape[0] == 1:
        half = float(norm.ppf(0.5 + level / 2)) * std[0]
        return means[0] - half, means[0] + half
    lo, hi = np.empty(means.shape[1]), np.empty(means.shape[1])
    for i in range(means.shape[1]):
        mu, sd = means[:, i], std[:, i]

        def cdf(q, mu=mu, sd=sd):
            return float(w @ norm.cdf((q - mu) / sd))

        left, right = float(np.min(mu - 40 * sd)), float(np.max(mu + 40 * sd))
        tail = (1 - level) / 2
        lo[i] = optimize.brentq(lambda q, p=tail: cdf(q) - p, left, right, xtol=1e-15)
        hi[i] = optimize.brentq(lambda q, p=1 - tail: cdf(q) - p, left, right, xtol=1e-15)
    return lo, hi
