"""Stacking of predictive densities (Yao, Vehtari, Simpson and Gelman, Bayesian Anal. 13 (2018)).

The weights maximise the log score of the mixture on held-out points,

    max_w  sum_i log sum_k w_k p_k(y_i),   w on the simplex,

a concave problem in ``w``.  It is solved in log space with ``w = softmax(t)``
by L-BFGS with the analytic gradient ``-(sum_i r_ik - n w_k)``, ``r_ik`` the
responsibility of model ``k`` for point ``i``, then polished by EM steps.  The
start ``t = 0`` (equal weights) is symmetric, so identical models keep
identical weights.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize
from scipy.special import logsumexp, softmax

_LOG_MAX = float(np.log(np.finfo(float).max)) - 10.0


def stacking_objective(log_densities, weights) -> float:
    """``sum_i log sum_k w_k p_k(y_i)`` for ``log_densities`` of shape ``(M, n)``."""
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(weights, dtype=float))
    return float(np.sum(logsumexp(np.asarray(log_densities) + log_w[:, None], axis=0)))


def stacking_weights(log_densities) -> np.ndarray:
    """Stacking weights ``(M,)`` from pointwise log predictive densities ``(M, n)``.

    No NaN ever comes out: one model gets weight 1; no points (``n = 0``) or
    points no model can explain (all ``-inf``, dropped) give a warning, the
    former equal weights.  Densities of ``+inf`` (a zero-variance model hitting
    a point exactly) are capped at the largest finite log density.
    """
    logp = np.atleast_2d(np.asarray(log_densities, dtype=float))
    if logp.shape[0] == 0:
        raise ValueError("stacking needs at least one model")
    if np.any(np.isnan(logp)):
        raise ValueError("log predictive densities contain NaN")
    models = logp.shape[0]
    if models == 1:
        return np.ones(1)
    explained = np.any(np.isfinite(logp) | (logp == np.inf), axis=0)
    if not np.all(explained):
        warnings.warn(
            f"{int(np.sum(~explained))} test point(s) have zero density under every model; "
            "stacking ignores them",
            stacklevel=2,
        )
        logp = logp[:, explained]
    if logp.shape[1] == 0:
        warnings.warn("no test points to stack on: using equal weights", stacklevel=2)
        return np.full(models, 1.0 / models)
    logp = np.minimum(logp, _LOG_MAX)
    # Shift each point by its best model: the optimum does not move, exp stays finite.
    logp = logp - np.max(logp, axis=0, keepdims=True)
    n = logp.shape[1]

    def negative(t):
        log_w = t - logsumexp(t)
        joint = logp + log_w[:, None]
        total = logsumexp(joint, axis=0)
        responsibility = np.exp(joint - total)
        return -float(np.sum(total)), -(np.sum(responsibility, axis=1) - n * np.exp(log_w))

    result = optimize.minimize(
        negative, np.zeros(models), jac=True, method="L-BFGS-B", options={"gtol": 1e-12}
    )
    weights = softmax(result.x)
    # L-BFGS stalls a little inside the simplex when the optimum is on its edge;
    # EM steps (w_k <- mean_i r_ik) only increase the objective and finish the job.
    for _ in range(200):
        joint = logp + np.log(np.maximum(weights, 1e-300))[:, None]
        update = np.mean(np.exp(joint - logsumexp(joint, axis=0)), axis=1)
        done = np.max(np.abs(update - weights)) < 1e-15
        weights = update
        if done:
            break
    weights[weights < 1e-12] = 0.0  # below any meaning; keeps the report clean
    return weights / np.sum(weights)
