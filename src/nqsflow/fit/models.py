"""Statistical models of the residual r(omega) = observation - VMC energy.

Each model is fitted on the train points and returns, at every requested
omega, a predictive mean and variance of the residual *function* (in Hartree
and Hartree^2) together with the log evidence of the training residuals.

The variance excludes the known noise of the training residuals (VMC error^2 +
observation error^2, passed as ``noise_var``): that noise belongs to the data,
not to the residual function.  Scatter beyond the known noise (fitted white
noise of the GP, excess residual variance of ridge) is kept, because it stands
for discrepancy the model does not resolve and will meet at new points too.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import linalg

from nqsflow.errors import ConfigError

METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "gp": {"kernel": "rbf"},
    "ridge": {"degree": 3, "alpha": 1.0e-3},
}
KERNELS = ("rbf", "matern")
_MATERN_NU = 2.5  # twice differentiable: smooth enough for an energy curve
_GP_RESTARTS = 4


@dataclass(frozen=True)
class FitResult:
    """Predictive mean and variance (shape ``(n,)``) of the residual at ``omega_all``.

    ``log_evidence`` is the log density of the training residuals under the
    fitted model (NaN where undefined); ``hyper`` holds the fitted
    hyper-parameters as JSON-friendly values.
    """

    mean: np.ndarray
    variance: np.ndarray
    log_evidence: float
    hyper: dict[str, Any] = field(default_factory=dict)


def resolve_method(method_config: Mapping[str, Any]) -> dict[str, Any]:
    """``method_config`` with its defaults filled in; :class:`ConfigError` if invalid."""
    kind = method_config.get("kind")
    if kind not in METHOD_DEFAULTS:
        raise ConfigError(
            f"fit method kind {kind!r} is unknown; use one of {sorted(METHOD_DEFAULTS)}"
        )
    resolved = {"kind": kind, **METHOD_DEFAULTS[kind]}
    resolved.update(method_config)
    unknown = set(resolved) - {"kind", *METHOD_DEFAULTS[kind]}
    if unknown:
        raise ConfigError(f"fit method kind {kind!r} takes no key(s) {sorted(unknown)}")
    if kind == "gp" and resolved["kernel"] not in KERNELS:
        raise ConfigError(f"gp kernel {resolved['kernel']!r} is unknown; use one of {KERNELS}")
    if kind == "ridge":
        degree, alpha = resolved["degree"], resolved["alpha"]
        if isinstance(degree, bool) or not isinstance(degree, int) or degree < 0:
            raise ConfigError(f"ridge degree must be an integer >= 0, got {degree!r}")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < np.inf:
            raise ConfigError(f"ridge alpha must be a number > 0, got {alpha!r}")
    return resolved


def fit_residuals(
    method_config: Mapping[str, Any],
    omega_train,
    residual_train,
    noise_var_train,
    omega_all,
    *,
    seed: int = 0,
) -> FitResult:
    """Fit the residual on the train points and predict it at ``omega_all``.

    ``omega_train``, ``residual_train`` (Hartree) and ``noise_var_train``
    (known noise variance per train point, Hartree^2) have shape ``(m,)``;
    the result has the shape of ``omega_all``.  ``seed`` fixes the GP's
    optimiser restarts.
    """
    method = resolve_method(method_config)
    x = np.asarray(omega_train, dtype=float)
    y = np.asarray(residual_train, dtype=float)
    noise = np.asarray(noise_var_train, dtype=float)
    x_all = np.asarray(omega_all, dtype=float)
    if not (x.ndim == 1 and x.shape == y.shape == noise.shape):
        raise ValueError("omega_train, residual_train and noise_var_train need one shape (m,)")
    if x.size < 2:
        raise ConfigError(f"fitting the residual needs at least 2 train points, got {x.size}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(noise)) and np.all(noise >= 0)):
        raise ValueError("residuals must be finite and noise variances finite and >= 0")
    if method["kind"] == "gp":
        return fit_gp(x, y, noise, x_all, kernel=method["kernel"], seed=seed)
    return fit_ridge(x, y, noise, x_all, degree=method["degree"], alpha=method["alpha"])


# --------------------------------------------------------------------------- GP


def fit_gp(x, y, noise_var, x_all, *, kernel: str = "rbf", seed: int = 0) -> FitResult:
    """Gaussian process: ConstantKernel * (RBF | Matern 5/2) + small WhiteKernel.

    The target is normalised (mean removed, unit variance) and the known noise
    enters as per-point ``alpha``; hyper-parameters maximise the log marginal
    likelihood.  The log evidence is that likelihood for the residuals in
    Hartree (the normalisation's Jacobian, -m log(std), is added back).
    """
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    y_mean = float(np.mean(y))
    y_std = float(np.std(y))
    if not y_std > 1e-12 * max(1.0, abs(y_mean)):
        # A constant residual carries no scale; keep the known noise as one.
        y_std = float(np.sqrt(max(np.mean(noise_var), 1e-300)))
    z = (y - y_mean) / y_std

    span = float(np.ptp(x))
    gaps = np.diff(np.unique(x))
    # Length scales below the closest pair of points are not resolved by the data.
    bounds = (float(gaps.min()), 100.0 * span)
    init = float(np.clip(0.5 * span, *bounds))
    if kernel == "rbf":
        shape = RBF(length_scale=init, length_scale_bounds=bounds)
    else:
        shape = Matern(length_scale=init, length_scale_bounds=bounds, nu=_MATERN_NU)
    # The white term is a floor for numerical stability (and absorbs
    # unexplained scatter); its lower bound keeps K well conditioned.
    k = ConstantKernel(1.0, (1e-3, 1e3)) * shape + WhiteKernel(1e-4, (1e-8, 1.0))
    gp = GaussianProcessRegressor(
        kernel=k,
        alpha=np.asarray(noise_var, dtype=float) / y_std**2,
        normalize_y=False,
        n_restarts_optimizer=_GP_RESTARTS,
        random_state=int(seed) % 2**32,
    )
    with warnings.catch_warnings():
        # Hitting a bound (e.g. the white-noise floor) is expected, not a failure.
        from sklearn.exceptions import ConvergenceWarning

        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(x[:, None], z)
    z_mean, z_std = gp.predict(np.asarray(x_all, dtype=float).reshape(-1, 1), return_std=True)
    mean = y_mean + y_std * z_mean
    variance = (y_std * z_std) ** 2
    log_evidence = float(gp.log_marginal_likelihood_value_) - y.size * np.log(y_std)
    params = gp.kernel_.get_params()
    hyper = {
        "kernel": kernel,
        "amplitude": y_std * float(np.sqrt(params["k1__k1__constant_value"])),
        "length_scale": float(params["k1__k2__length_scale"]),
        "white_noise_var": y_std**2 * float(params["k2__noise_level"]),
        "y_mean": y_mean,
        "y_std": y_std,
    }
    return FitResult(
        mean.reshape(np.shape(x_all)), variance.reshape(np.shape(x_all)), log_evidence, hyper
    )


# ------------------------------------------------------------------------ ridge


def poly_features(x, degree: int) -> np.ndarray:
    """Design matrix ``[1, x, x^2, ..., x^degree]``, shape ``(n, degree + 1)``."""
    return np.vander(np.asarray(x, dtype=float), degree + 1, increasing=True)


def ridge_weights(X: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Closed-form ridge weights ``(X^T X + alpha I)^-1 X^T y`` (every weight penalised)."""
    A = X.T @ X + alpha * np.eye(X.shape[1])
    return linalg.solve(A, X.T @ y, assume_a="pos")


def ridge_log_evidence(X: np.ndarray, y: np.ndarray, alpha: float, sigma2: float) -> float:
    """log N(y | 0, sigma2 (I + X X^T / alpha)): y = X w + N(0, sigma2), w ~ N(0, sigma2/alpha).

    Computed through the p x p posterior precision ``A = X^T X + alpha I``.
    """
    n, p = X.shape
    A = X.T @ X + alpha * np.eye(p)
    chol = linalg.cho_factor(A)
    w = linalg.cho_solve(chol, X.T @ y)
    rss = float(np.sum((y - X @ w) ** 2))
    logdet_A = 2.0 * float(np.sum(np.log(np.diag(chol[0]))))
    return float(
        -0.5 * n * np.log(2.0 * np.pi * sigma2)
        + 0.5 * p * np.log(alpha)
        - 0.5 * logdet_A
        - (rss + alpha * float(w @ w)) / (2.0 * sigma2)
    )


def fit_ridge(x, y, noise_var, x_all, *, degree: int = 3, alpha: float = 1e-3) -> FitResult:
    """Ridge on polynomial features, read as Bayesian linear regression.

    Model: ``y = X w + e``, ``e ~ N(0, sigma2 I)``, prior ``w ~ N(0, sigma2/alpha I)``,
    so the posterior mean is the ridge solution and its covariance
    ``sigma2 (X^T X + alpha I)^-1``.  ``sigma2`` is the residual variance
    ``RSS / (m - dof)`` (``dof`` = trace of the hat matrix), floored by the mean
    known noise variance; the part above that floor is unexplained scatter and
    is added to the predictive variance.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    noise_var = np.asarray(noise_var, dtype=float)
    X = poly_features(x, degree)
    A = X.T @ X + alpha * np.eye(X.shape[1])
    chol = linalg.cho_factor(A)
    w = linalg.cho_solve(chol, X.T @ y)
    rss = float(np.sum((y - X @ w) ** 2))
    dof = float(np.trace(linalg.cho_solve(chol, X.T @ X)))
    known = float(np.mean(noise_var))
    # With (almost) no degrees of freedom left the residuals say nothing about
    # the noise; fall back on the known noise alone.
    fitted = rss / (y.size - dof) if y.size - dof > 0.5 else 0.0
    tiny = 1e-30 * max(1.0, float(np.mean(y**2)))
    sigma2 = max(fitted, known, tiny)
    excess = max(sigma2 - known, 0.0)

    X_all = poly_features(np.ravel(x_all), degree)
    mean = X_all @ w
    variance = sigma2 * np.sum(X_all * linalg.cho_solve(chol, X_all.T).T, axis=1) + excess
    hyper = {
        "degree": int(degree),
        "alpha": float(alpha),
        "sigma2": sigma2,
        "excess_var": excess,
        "dof": dof,
        "weights": w.tolist(),
    }
    return FitResult(
        mean.reshape(np.shape(x_all)),
        variance.reshape(np.shape(x_all)),
        ridge_log_evidence(X, y, alpha, sigma2),
        hyper,
    )
