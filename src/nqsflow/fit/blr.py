"""Bayesian linear regression with known heteroscedastic noise and its log evidence.

Model for the residuals ``y`` (shape ``(m,)``) at the train points:

    y = X w + e,   e ~ N(0, diag(noise_var) + s2 I),   w ~ N(0, I / alpha),

``noise_var`` the known noise (VMC and observation error bars), ``s2 >= 0``
unexplained scatter (model discrepancy).  The posterior of ``w`` is Gaussian
with precision ``alpha I + X^T S^-1 X`` (``S`` the noise covariance) and the
evidence is ``N(y | 0, S + X X^T / alpha)``.  ``alpha`` and ``s2`` are either
fixed or set by maximising the evidence (type-II maximum likelihood).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import linalg, optimize

from nqsflow.fit.features import OMEGA, design_matrix
from nqsflow.fit.result import FitResult

_LOG_ALPHA = (np.log(1e-6), np.log(1e8))
_LOG_S2 = (np.log(1e-12), np.log(1e2))  # in units of the residual's variance


def blr_posterior(X: np.ndarray, y: np.ndarray, noise_var: np.ndarray, alpha: float):
    """Posterior mean ``(p,)``, covariance ``(p, p)`` and log evidence of the model above.

    ``noise_var`` (shape ``(m,)``, all > 0) is the whole noise variance per
    point; ``alpha > 0`` the prior precision.
    """
    w = 1.0 / np.asarray(noise_var, dtype=float)
    precision = alpha * np.eye(X.shape[1]) + X.T @ (X * w[:, None])
    chol = linalg.cho_factor(precision)
    mean = linalg.cho_solve(chol, X.T @ (w * y))
    cov = linalg.cho_solve(chol, np.eye(X.shape[1]))
    return mean, cov, log_evidence(X, y, noise_var, alpha)


def log_evidence(X: np.ndarray, y: np.ndarray, noise_var: np.ndarray, alpha: float) -> float:
    """``log N(y | 0, diag(noise_var) + X X^T / alpha)``."""
    cov = np.diag(noise_var) + X @ X.T / alpha
    try:
        chol = linalg.cho_factor(cov, lower=True)
    except linalg.LinAlgError:
        return -np.inf
    quad = float(y @ linalg.cho_solve(chol, y))
    logdet = 2.0 * float(np.sum(np.log(np.diag(chol[0]))))
    return -0.5 * (quad + logdet + y.size * np.log(2.0 * np.pi))


def fit_blr(
    x,
    y,
    noise_var,
    x_all,
    terms: Sequence[str],
    prior_precision: float | str = "evidence",
    extra_noise: bool = True,
    inputs=OMEGA,
) -> FitResult:
    """Fit the model of the module docstring; predict the residual function at ``x_all``.

    Features are scaled to unit root-mean-square on the train points and the
    residual to unit standard deviation, so the isotropic prior (``alpha``, a
    number or ``"evidence"``) means the same for every term.  ``extra_noise``
    fits ``s2`` by the evidence (else ``s2 = 0``).  Variance at ``x*``:
    ``x*^T Cov x* + s2``.  The log evidence is that of ``y`` in hartree at the
    fitted hyper-parameters.
    """
    y = np.asarray(y, dtype=float)
    noise_var = np.asarray(noise_var, dtype=float)
    X = design_matrix(x, terms, inputs)
    col = np.sqrt(np.mean(X**2, axis=0))
    col[col == 0] = 1.0
    Phi = X / col
    scale = float(np.std(y)) or float(np.sqrt(max(np.mean(noise_var), 1e-300)))
    z, known = y / scale, np.maximum(noise_var / scale**2, 1e-300)

    def negative(params):
        log_alpha, log_s2 = params
        return -log_evidence(Phi, z, known + np.exp(log_s2), np.exp(log_alpha))

    fixed_alpha = prior_precision != "evidence"
    free = [i for i, fitted in ((0, not fixed_alpha), (1, extra_noise)) if fitted]
    # The evidence of a few points can have several maxima: scan a log grid of the
    # free hyper-parameters, then polish the best node with L-BFGS.
    axes = [
        [np.log(float(prior_precision))] if fixed_alpha else np.linspace(*_LOG_ALPHA, 15),
        np.linspace(*_LOG_S2, 15) if extra_noise else [-np.inf],
    ]
    nodes = np.array([(a, b) for a in axes[0] for b in axes[1]])
    best = nodes[int(np.argmin([negative(node) for node in nodes]))]
    if free:
        res = optimize.minimize(
            lambda v: negative(_with(best, free, v)),
            best[free],
            method="L-BFGS-B",
            bounds=[(_LOG_ALPHA, _LOG_S2)[i] for i in free],
        )
        if res.fun <= negative(best):
            best = _with(best, free, res.x)
    alpha, s2 = float(np.exp(best[0])), float(np.exp(best[1]))
    mean_w, cov_w, log_ev = blr_posterior(Phi, z, known + s2, alpha)
    rows = np.ravel(x_all) if tuple(inputs) == OMEGA else x_all
    Phi_all = design_matrix(rows, terms, inputs) / col
    mean = scale * (Phi_all @ mean_w)
    variance = scale**2 * (np.einsum("ij,jk,ik->i", Phi_all, cov_w, Phi_all) + s2)
    hyper = {
        "terms": list(terms),
        "prior_precision": alpha,
        "excess_var": scale**2 * s2,
        "weights": (scale * mean_w / col).tolist(),
    }
    shape = np.shape(x_all)[:1] if np.ndim(x_all) == 2 else np.shape(x_all)
    return FitResult(
        mean.reshape(shape), variance.reshape(shape), log_ev - y.size * np.log(scale), hyper
    )


def _with(params: np.ndarray, free: list[int], values) -> np.ndarray:
    out = params.copy()
    out[free] = values
    return out
