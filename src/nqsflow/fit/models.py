"""Statistical models of the residual r(omega) = observation - VMC energy: the registry.

Each model is fitted on the train points and returns, at every requested
omega, a predictive mean and variance of the residual *function* (hartree and
hartree^2) together with the log evidence of the training residuals where the
method has one (:class:`FitResult`).

Methods (``fit.methods.<name>.kind``) and their keys:

- ``gp``: ``kernel`` (:data:`~nqsflow.fit.gp.KERNELS`), ``input`` (``linear`` or ``log``);
- ``ols``: ``features`` or ``degree``; weighted least squares with fitted scatter;
- ``ridge``: ``features`` or ``degree``, ``alpha`` (a number or ``cv``);
- ``lasso``: ``features`` or ``degree``, ``alpha`` (a number or ``cv``, the default);
- ``blr``: ``features`` or ``degree``, ``prior_precision`` (a number or
  ``evidence``, the default), ``extra_noise`` (fit a white scatter, default true).

The variance excludes the known noise of the training residuals (VMC error^2 +
observation error^2, passed as ``noise_var``): that noise belongs to the data,
not to the residual function.  Scatter beyond the known noise (fitted white
noise of the GP, excess residual variance of the linear models) is kept,
because it stands for discrepancy the model does not resolve and will meet at
new points too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nqsflow.errors import ConfigError
from nqsflow.fit.blr import fit_blr
from nqsflow.fit.features import feature_terms
from nqsflow.fit.gp import INPUTS, KERNELS, fit_gp
from nqsflow.fit.linear import fit_lasso, fit_ols, fit_ridge
from nqsflow.fit.result import FitResult

_FEATURES = {"degree": None, "features": None}
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "gp": {"kernel": "rbf", "input": "linear"},
    "ols": dict(_FEATURES),
    "ridge": {**_FEATURES, "alpha": 1.0e-3},
    "lasso": {**_FEATURES, "alpha": "cv"},
    "blr": {**_FEATURES, "prior_precision": "evidence", "extra_noise": True},
}
EVIDENCE_METHODS = ("gp", "ridge", "blr")
"""Methods whose fit carries a log evidence (the others store NaN)."""


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
    if kind == "gp":
        if resolved["kernel"] not in KERNELS:
            raise ConfigError(f"gp kernel {resolved['kernel']!r} is unknown; use one of {KERNELS}")
        if resolved["input"] not in INPUTS:
            raise ConfigError(f"gp input {resolved['input']!r} is unknown; use one of {INPUTS}")
        return resolved
    degree = resolved["degree"]
    if degree is not None and not (_is_number(degree) and isinstance(degree, int) and degree >= 0):
        raise ConfigError(f"{kind} degree must be an integer >= 0, got {degree!r}")
    feature_terms(resolved["features"], degree)  # raises on a bad spec
    for key, word in (("alpha", "cv"), ("prior_precision", "evidence")):
        value = resolved.get(key, word)
        if value != word and not (_is_number(value) and 0 < value < np.inf):
            raise ConfigError(f"{kind} {key} must be a number > 0 or {word!r}, got {value!r}")
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

    ``omega_train``, ``residual_train`` (hartree) and ``noise_var_train``
    (known noise variance per train point, hartree^2) have shape ``(m,)``;
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
    kind = method["kind"]
    if kind == "gp":
        return fit_gp(x, y, noise, x_all, kernel=method["kernel"], input=method["input"], seed=seed)
    if kind == "ridge" and method["features"] is None:
        degree = 3 if method["degree"] is None else method["degree"]
        return fit_ridge(x, y, noise, x_all, degree=degree, alpha=method["alpha"])
    terms = feature_terms(method["features"], method["degree"])
    if kind == "ridge":
        return fit_ridge(x, y, noise, x_all, alpha=method["alpha"], terms=terms)
    if kind == "ols":
        return fit_ols(x, y, noise, x_all, terms)
    if kind == "lasso":
        return fit_lasso(x, y, noise, x_all, terms, alpha=method["alpha"])
    return fit_blr(
        x, y, noise, x_all, terms, method["prior_precision"], bool(method["extra_noise"])
    )


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def leave_one_out(
    method_config: Mapping[str, Any], omega_train, residual_train, noise_var_train, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out predictive mean and variance of the residual at each train point, ``(m,)``.

    Point ``i`` is predicted by the method refitted without it (hyper-parameters
    included), as the LOO densities of stacking (Yao et al. 2018) require.  NaN
    where the refit is impossible (too few points left for the method).
    """
    x = np.asarray(omega_train, dtype=float)
    y = np.asarray(residual_train, dtype=float)
    noise = np.asarray(noise_var_train, dtype=float)
    mean, variance = np.full(x.size, np.nan), np.full(x.size, np.nan)
    for i in range(x.size):
        keep = np.arange(x.size) != i
        try:
            fit = fit_residuals(method_config, x[keep], y[keep], noise[keep], x[[i]], seed=seed)
        except ConfigError:
            continue
        mean[i], variance[i] = fit.mean[0], fit.variance[0]
    return mean, variance
