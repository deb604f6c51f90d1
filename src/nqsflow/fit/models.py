"""Statistical models of the residual r(x) = observation - theory: the registry.

Each model is fitted on the train points and returns, at every requested
point, a predictive mean and variance of the residual *function* together with
the log evidence of the training residuals where the method has one
(:class:`FitResult`).  Points are ``(m,)`` arrays (one input, omega) or
``(m, k)`` arrays with the input names ``inputs`` (e.g. ``("Z", "N")``).

A method is one :class:`Method` subclass: its ``kind`` names it in
``fit.methods.<name>.kind``, ``options`` is the JSON schema of its keys (the
study schema is filled from this registry, as the ansatz factors fill theirs)
and ``defaults`` their values.  Methods and their keys:

- ``gp``: ``kernel`` (:data:`~nqsflow.fit.gp.KERNELS`), ``input`` (``linear`` or
  ``log``), ``max_train`` (train points for the hyper-parameters), ``restarts``;
- ``ols``: ``features`` or ``degree``; weighted least squares with fitted scatter;
- ``ridge``: ``features`` or ``degree``, ``alpha`` (a number or ``cv``);
- ``lasso``: ``features`` or ``degree``, ``alpha`` (a number or ``cv``, the default);
- ``blr``: ``features`` or ``degree``, ``prior_precision`` (a number or
  ``evidence``, the default), ``extra_noise`` (fit a white scatter, default true).

The variance excludes the known noise of the training residuals (theory
error^2 + observation error^2, passed as ``noise_var``): that noise belongs to
the data, not to the residual function.  Scatter beyond the known noise (fitted
white noise of the GP, excess residual variance of the linear models) is kept,
because it stands for discrepancy the model does not resolve and will meet at
new points too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nqsflow.errors import ConfigError
from nqsflow.fit.blr import fit_blr
from nqsflow.fit.features import OMEGA, feature_terms
from nqsflow.fit.gp import INPUTS, KERNELS, fit_gp
from nqsflow.fit.linear import fit_lasso, fit_ols, fit_ridge
from nqsflow.fit.result import FitResult
from nqsflow.registry import Registered, kinds_schema

METHODS: dict[str, type[Method]] = {}  # kind -> class, filled as the classes are defined

_POSITIVE = {"type": "number", "exclusiveMinimum": 0}
_FEATURE_OPTIONS = {
    "degree": {"type": "integer", "minimum": 0, "maximum": 10},
    "features": {
        "description": "{polynomial: n} or a list of terms: 1, omega, omega^p, sqrt(omega), "
        "1/omega, log(omega); expressions in the inputs for other studies",
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["polynomial"],
                "properties": {"polynomial": {"type": "integer", "minimum": 0, "maximum": 10}},
            },
            {"type": "array", "minItems": 1, "items": {"type": ["string", "number"]}},
        ],
    },
}


class Method(Registered):
    """One kind of residual model; a subclass with a ``kind`` registers itself."""

    registry = METHODS
    defaults: dict[str, Any] = {}
    has_evidence = False

    @classmethod
    def check(cls, method: Mapping[str, Any], inputs: Sequence[str]) -> None:
        """Raise :class:`ConfigError` on values a schema cannot judge."""

    @classmethod
    def fit(cls, method, x, y, noise, x_all, *, inputs, seed) -> FitResult:
        raise NotImplementedError


class _Linear(Method):
    options = dict(_FEATURE_OPTIONS)
    defaults = {"degree": None, "features": None}

    @classmethod
    def check(cls, method, inputs) -> None:
        degree = method["degree"]
        if degree is not None and not (_is_number(degree) and isinstance(degree, int)
                                       and degree >= 0):  # fmt: skip
            raise ConfigError(f"{method['kind']} degree must be an integer >= 0, got {degree!r}")
        feature_terms(method["features"], degree, inputs)  # raises on a bad spec
        for key, word in (("alpha", "cv"), ("prior_precision", "evidence")):
            value = method.get(key, word)
            if value != word and not (_is_number(value) and 0 < value < np.inf):
                raise ConfigError(
                    f"{method['kind']} {key} must be a number > 0 or {word!r}, got {value!r}"
                )

    @staticmethod
    def terms(method, inputs) -> list[str]:
        return feature_terms(method["features"], method["degree"], inputs)


class GP(Method):
    """Gaussian-process regression (:func:`~nqsflow.fit.gp.fit_gp`)."""

    kind = "gp"
    has_evidence = True
    options = {
        "kernel": {"enum": list(KERNELS)},
        "input": {"enum": list(INPUTS), "description": "gp: the inputs or their logarithms"},
        "max_train": {"type": "integer", "minimum": 2,
                      "description": "train points that fit the hyper-parameters (default all)"},
        "restarts": {"type": "integer", "minimum": 0,
                     "description": "optimiser restarts from random hyper-parameters"},
    }  # fmt: skip
    defaults = {"kernel": "rbf", "input": "linear", "max_train": None, "restarts": 4}

    @classmethod
    def check(cls, method, inputs) -> None:
        if method["kernel"] not in KERNELS:
            raise ConfigError(
                f"gp kernel {method['kernel']!r} is unknown; use one of {list(KERNELS)}"
            )
        if method["input"] not in INPUTS:
            raise ConfigError(f"gp input {method['input']!r} is unknown; use one of {INPUTS}")

    @classmethod
    def fit(cls, method, x, y, noise, x_all, *, inputs, seed) -> FitResult:
        return fit_gp(x, y, noise, x_all, kernel=method["kernel"], input=method["input"],
                      seed=seed, max_train=method["max_train"],
                      restarts=int(method["restarts"]))  # fmt: skip


class OLS(_Linear):
    """Weighted least squares with fitted scatter (:func:`~nqsflow.fit.linear.fit_ols`)."""

    kind = "ols"

    @classmethod
    def fit(cls, method, x, y, noise, x_all, *, inputs, seed) -> FitResult:
        return fit_ols(x, y, noise, x_all, cls.terms(method, inputs), inputs=inputs)


class Ridge(_Linear):
    """Ridge read as Bayesian regression (:func:`~nqsflow.fit.linear.fit_ridge`)."""

    kind = "ridge"
    has_evidence = True
    options = {**_FEATURE_OPTIONS, "alpha": {
        "description": "penalty, or 'cv' (leave-one-out cross-validation)",
        "oneOf": [_POSITIVE, {"const": "cv"}]}}  # fmt: skip
    defaults = {"degree": None, "features": None, "alpha": 1.0e-3}

    @classmethod
    def fit(cls, method, x, y, noise, x_all, *, inputs, seed) -> FitResult:
        if method["features"] is None and tuple(inputs) == OMEGA:
            degree = 3 if method["degree"] is None else method["degree"]
            return fit_ridge(x, y, noise, x_all, degree=degree, alpha=method["alpha"])
        terms = cls.terms(method, inputs)
        return fit_ridge(x, y, noise, x_all, alpha=method["alpha"], terms=terms, inputs=inputs)


class Lasso(_Linear):
    """L1-penalised least squares (:func:`~nqsflow.fit.linear.fit_lasso`)."""

    kind = "lasso"
    options = Ridge.options
    defaults = {"degree": None, "features": None, "alpha": "cv"}

    @classmethod
    def fit(cls, method, x, y, noise, x_all, *, inputs, seed) -> FitResult:
        terms = cls.terms(method, inputs)
        return fit_lasso(x, y, noise, x_all, terms, alpha=method["alpha"], inputs=inputs)


class BLR(_Linear):
    """Bayesian linear regression with evidence (:func:`~nqsflow.fit.blr.fit_blr`)."""

    kind = "blr"
    has_evidence = True
    options = {
        **_FEATURE_OPTIONS,
        "prior_precision": {
            "description": "prior precision of the scaled weights, or 'evidence'",
            "oneOf": [_POSITIVE, {"const": "evidence"}],
        },
        "extra_noise": {
            "type": "boolean",
            "description": "fit a white scatter beyond the error bars",
        },
    }
    defaults = {"degree": None, "features": None, "prior_precision": "evidence",
                "extra_noise": True}  # fmt: skip

    @classmethod
    def fit(cls, method, x, y, noise, x_all, *, inputs, seed) -> FitResult:
        return fit_blr(x, y, noise, x_all, cls.terms(method, inputs), method["prior_precision"],
                       bool(method["extra_noise"]), inputs=inputs)  # fmt: skip


METHOD_DEFAULTS: dict[str, dict[str, Any]] = {k: dict(c.defaults) for k, c in METHODS.items()}
EVIDENCE_METHODS = tuple(k for k, c in METHODS.items() if c.has_evidence)
"""Methods whose fit carries a log evidence (the others store NaN)."""


def method_schema() -> dict:
    """JSON schema of one ``fit.methods`` entry, from the registry."""
    return kinds_schema(METHODS.values())


def resolve_method(method_config: Mapping[str, Any], inputs: Sequence[str] = OMEGA) -> dict:
    """``method_config`` with its defaults filled in; :class:`ConfigError` if invalid."""
    kind = method_config.get("kind")
    if kind not in METHODS:
        raise ConfigError(f"fit method kind {kind!r} is unknown; use one of {sorted(METHODS)}")
    cls = METHODS[kind]
    resolved = {"kind": kind, **cls.defaults}
    resolved.update(method_config)
    unknown = set(resolved) - {"kind", *cls.defaults}
    if unknown:
        raise ConfigError(f"fit method kind {kind!r} takes no key(s) {sorted(unknown)}")
    cls.check(resolved, inputs)
    return resolved


def fit_residuals(
    method_config: Mapping[str, Any],
    x_train,
    residual_train,
    noise_var_train,
    x_all,
    *,
    seed: int = 0,
    inputs: Sequence[str] = OMEGA,
) -> FitResult:
    """Fit the residual on the train points and predict it at ``x_all``.

    ``x_train`` is ``(m,)`` (omega) or ``(m, k)`` for the ``k`` named
    ``inputs``; ``residual_train`` and ``noise_var_train`` (known noise
    variance per train point) are ``(m,)``.  The result has one value per row
    of ``x_all``.  ``seed`` fixes the GP's optimiser restarts.
    """
    method = resolve_method(method_config, inputs)
    x = np.asarray(x_train, dtype=float)
    y = np.asarray(residual_train, dtype=float)
    noise = np.asarray(noise_var_train, dtype=float)
    x_all = np.asarray(x_all, dtype=float)
    if x.ndim == 2 and x.shape[1] == 1 and tuple(inputs) == OMEGA:
        x, x_all = x[:, 0], x_all.reshape(-1)
    rows = x.shape[0] if x.ndim else 0
    if not (x.ndim in (1, 2) and y.shape == noise.shape == (rows,)):
        raise ValueError("x_train needs shape (m,) or (m, k), residual and noise (m,)")
    if rows < 2:
        raise ConfigError(f"fitting the residual needs at least 2 train points, got {rows}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(noise)) and np.all(noise >= 0)):
        raise ValueError("residuals must be finite and noise variances finite and >= 0")
    return METHODS[method["kind"]].fit(method, x, y, noise, x_all, inputs=inputs, seed=seed)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def leave_one_out(
    method_config: Mapping[str, Any],
    x_train,
    residual_train,
    noise_var_train,
    *,
    seed: int = 0,
    inputs: Sequence[str] = OMEGA,
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out predictive mean and variance of the residual at each train point, ``(m,)``.

    Point ``i`` is predicted by the method refitted without it (hyper-parameters
    included), as the LOO densities of stacking (Yao et al. 2018) require.  NaN
    where the refit is impossible (too few points left for the method).
    """
    x = np.asarray(x_train, dtype=float)
    y = np.asarray(residual_train, dtype=float)
    noise = np.asarray(noise_var_train, dtype=float)
    mean, variance = np.full(y.size, np.nan), np.full(y.size, np.nan)
    for i in range(y.size):
        keep = np.arange(y.size) != i
        try:
            fit = fit_residuals(method_config, x[keep], y[keep], noise[keep], x[[i]],
                                seed=seed, inputs=inputs)  # fmt: skip
        except ConfigError:
            continue
        mean[i], variance[i] = fit.mean[0], fit.variance[0]
    return mean, variance
