"""BMA weights from predictive likelihoods or evidences, and the averaged prediction.

Everything is done in log space: a model whose likelihood underflows (a log
likelihood of -1e5, or -inf) gets weight 0 rather than turning the
normalisation into 0/0.  Stacking weights are in :mod:`nqsflow.bma.stacking`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp

from nqsflow.errors import ConfigError


def gaussian_logpdf(x, mean, variance) -> np.ndarray:
    """Elementwise log N(x | mean, variance); -inf/+inf where variance is 0."""
    x, mean, variance = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (x, mean, variance))
    )
    out = np.empty(x.shape)
    pos = variance > 0
    d2 = (x[pos] - mean[pos]) ** 2
    out[pos] = -0.5 * (np.log(2.0 * np.pi * variance[pos]) + d2 / variance[pos])
    # A zero variance is a point mass: infinitely likely on the spot, impossible elsewhere.
    out[~pos] = np.where(x[~pos] == mean[~pos], np.inf, -np.inf)
    return out


def pointwise_log_densities(observed, observed_error, means, variances) -> np.ndarray:
    """log N(obs_i | mean_ki, var_ki + obs_err_i^2), shape ``(M, n)``.

    ``observed`` and ``observed_error`` have shape ``(n,)``, ``means`` and
    ``variances`` shape ``(M, n)``.
    """
    observed = np.asarray(observed, dtype=float)
    means = np.atleast_2d(np.asarray(means, dtype=float))
    variances = np.atleast_2d(np.asarray(variances, dtype=float))
    total_var = variances + np.asarray(observed_error, dtype=float) ** 2
    return gaussian_logpdf(observed, means, total_var)


def predictive_log_likelihoods(observed, observed_error, means, variances) -> np.ndarray:
    """Sum over points of log N(obs | mean_k, var_k + obs_err^2), shape ``(M,)``.

    Shapes as in :func:`pointwise_log_densities`.  With ``n == 0`` every model
    scores 0 (no evidence either way) and a warning says so.
    """
    if np.asarray(observed).size == 0:
        warnings.warn(
            "no test points: every model gets the same predictive likelihood",
            stacklevel=2,
        )
        return np.zeros(np.atleast_2d(np.asarray(means)).shape[0])
    return np.sum(pointwise_log_densities(observed, observed_error, means, variances), axis=1)


def bma_weights(log_likelihoods) -> np.ndarray:
    """Posterior model weights ``exp(l_k) / sum_j exp(l_j)`` (equal priors), shape ``(M,)``.

    Computed with logsumexp, so weights never are NaN: a model at -inf gets 0;
    models at +inf share the weight; an empty set of test points (all
    likelihoods 0) gives equal weights.  If no model has a finite likelihood
    the weights are equal and a warning says so.
    """
    ll = np.asarray(log_likelihoods, dtype=float).ravel()
    if ll.size == 0:
        raise ValueError("bma_weights needs at least one model")
    if np.any(np.isnan(ll)):
        raise ValueError(f"log likelihoods contain NaN: {ll.tolist()}")
    if np.any(ll == np.inf):
        top = ll == np.inf
        return top / np.sum(top)
    if np.all(ll == -np.inf):
        warnings.warn(
            "every model has zero likelihood on the test points; using equal weights",
            stacklevel=2,
        )
        return np.full(ll.size, 1.0 / ll.size)
    weights = np.exp(ll - logsumexp(ll))
    return weights / np.sum(weights)  # remove the last rounding from the sum


def evidence_weights(log_evidences, names: Sequence[str]) -> np.ndarray:
    """Posterior model probabilities ``exp(Z_k) / sum_j exp(Z_j)`` from log evidences ``(M,)``.

    Every model must define an evidence: a NaN (OLS, Lasso) raises
    :class:`ConfigError` naming the models, since an evidence weighting over the
    rest would silently drop them.
    """
    z = np.asarray(log_evidences, dtype=float).ravel()
    missing = [str(n) for n, v in zip(names, z, strict=True) if np.isnan(v)]
    if missing:
        raise ConfigError(
            f"key 'bma.weights': 'evidence' needs a log evidence from every model; "
            f"{', '.join(missing)} have none (use gp, ridge or blr fits, or weights "
            "'predictive' or 'stacking')"
        )
    return bma_weights(z)


def average(means, variances, weights):
    """Mixture mean and variance of M models at n points.

    ``means`` and ``variances`` have shape ``(M, n)``, ``weights`` ``(M,)``.
    Returns ``(mean, variance, within, between)``, each ``(n,)``, with
    ``within = sum_k w_k var_k``, ``between = sum_k w_k (mu_k - mu)^2`` and
    ``variance = within + between``.  Where a model has no prediction (NaN)
    the weights of the others are renormalised at that point; NaN where no
    model with weight has one.
    """
    means = np.atleast_2d(np.asarray(means, dtype=float))
    variances = np.atleast_2d(np.asarray(variances, dtype=float))
    w = np.asarray(weights, dtype=float).ravel()
    if not (means.shape == variances.shape and means.shape[0] == w.size):
        raise ValueError(
            f"shapes do not match: means {means.shape}, variances {variances.shape}, "
            f"weights {w.shape}"
        )
    if np.any(w < 0) or not np.isclose(np.sum(w), 1.0, rtol=1e-9, atol=0.0):
        raise ValueError(f"weights must be >= 0 and sum to 1, got {w.tolist()}")
    # Models with weight 0 must not leak inf/NaN into the sums (0 * inf = NaN).
    used = w > 0
    w, means, variances = w[used], means[used], variances[used]
    if np.all(np.isfinite(means)):
        mean = w @ means
        within = w @ variances
        between = w @ (means - mean) ** 2
        return mean, within + between, within, between
    local = point_weights(w, means)
    means, variances = np.nan_to_num(means), np.nan_to_num(variances)
    mean = np.sum(local * means, axis=0)
    within = np.sum(local * variances, axis=0)
    between = np.sum(local * (means - mean) ** 2, axis=0)
    missing = ~np.any(local > 0, axis=0)
    mean[missing] = within[missing] = between[missing] = np.nan
    return mean, within + between, within, between


def point_weights(weights, means) -> np.ndarray:
    """Weights ``(M, n)`` per point: ``weights`` renormalised over the models with a finite mean."""
    have = np.isfinite(np.atleast_2d(means))
    local = np.asarray(weights, dtype=float)[:, None] * have
    total = np.sum(local, axis=0)
    return np.divide(local, total, out=np.zeros_like(local), where=total > 0)
