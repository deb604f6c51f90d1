"""The BMA stage: fit artifacts + reference -> ``nqsflow.bma/1`` artifact.

Weights (``bma.weights``) are ``predictive`` (the likelihood of the test
observations), ``evidence`` (the log evidence of each fit, every model must
have one) or ``stacking`` (Yao et al. 2018, on the test observations).  The
averaged prediction (mean; variance = within + between models) and every single
model are scored on the target points against the exact values (within the
exact values' own error), the average as the mixture it is
(:mod:`nqsflow.bma.scores`).  ``/weightings/<name>`` holds
the weights every applicable weighting gives, for comparison; ``/prediction/
p_positive`` the mixture's probability that the value is above zero (for a
separation energy: that the nucleus is bound).  Where a model has no prediction
(NaN) the others share its weight at that point.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nqsflow.artifacts import ATTRS, provenance, write_artifact
from nqsflow.bma.scores import score, score_mixture
from nqsflow.bma.stacking import stacking_weights
from nqsflow.bma.weights import (
    average,
    bma_weights,
    evidence_weights,
    point_weights,
    pointwise_log_densities,
)
from nqsflow.errors import ArtifactError, ConfigError
from nqsflow.readers import dataset, read_fit, read_reference

SCHEMA = "nqsflow.bma/1"
WEIGHTINGS = ("predictive", "evidence", "stacking")


def stage_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The slice of a study config the BMA stage depends on."""
    return {"study": config["study"], "seed": config["seed"], "bma": dict(config.get("bma", {}))}


def read_fits(fit_paths: Sequence[str | os.PathLike], points):
    """Model names ``(M,)``, log evidences ``(M,)``; means, variances, LOO means and LOO
    variances ``(M, n)`` (NaN where a fit has no LOO prediction).

    Every fit must hold the reference's ``points`` in the reference's order.
    """
    fits = []
    for path in fit_paths:
        fit = read_fit(path)
        if not fit.points.same_as(points):
            raise ArtifactError(path, "its points differ from the reference's; refit it")
        if fit.name in [f.name for f in fits]:
            raise ArtifactError(path, f"model {fit.name!r} is given twice")
        fits.append(fit)
    return (
        np.array([f.name for f in fits]), np.array([f.log_evidence for f in fits]),
        np.array([f.mean for f in fits]), np.array([f.variance for f in fits]),
        np.array([f.loo_mean for f in fits]), np.array([f.loo_variance for f in fits]),
    )  # fmt: skip


def exact_error(reference) -> np.ndarray:
    """One-sigma error ``(n,)`` of the reference's exact values (``/exact/error``); zero
    where the artifact has none (a solver's values need none)."""
    if "error" not in reference.tree.get("exact", {}):
        return np.zeros_like(reference.exact)
    return dataset(reference.tree, reference.path, "exact/error").astype(float)


def held_out_log_densities(role, observed, observed_error, means, variances, loo, names):
    """Log predictive densities ``(M, k)`` of the held-out observations that set the weights.

    The test points, then (when ``loo`` is a pair of ``(M, n)`` arrays) each train
    point under the model refitted without it.  :class:`ConfigError` if a model
    lacks a LOO prediction at a train point.
    """
    test, train = role == "test", role == "train"
    parts = [
        pointwise_log_densities(
            observed[test], observed_error[test], means[:, test], variances[:, test]
        )
    ]
    if loo is not None:
        loo_means, loo_vars = loo[0][:, train], loo[1][:, train]
        missing = [str(n) for n, row in zip(names, loo_means, strict=True) if np.isnan(row).any()]
        if missing:
            raise ConfigError(
                f"key 'bma.loo': fit(s) {', '.join(missing)} have no leave-one-out predictions "
                "(fewer than 3 train points, or an older artifact); refit or set bma.loo: false"
            )
        parts.append(
            pointwise_log_densities(observed[train], observed_error[train], loo_means, loo_vars)
        )
    return np.concatenate(parts, axis=1)


def probability_positive(means, variances, weights) -> np.ndarray:
    """``P(y > 0)`` ``(n,)`` under the mixture of the models (weights renormalised where a
    model has no prediction; NaN where none has)."""
    from scipy.stats import norm

    local = point_weights(weights, means)
    std = np.sqrt(np.maximum(np.nan_to_num(variances), 1e-300))
    p = np.sum(local * norm.cdf(np.nan_to_num(means) / std), axis=0)
    p[~np.any(local > 0, axis=0)] = np.nan
    return p


def model_weights(weighting: str, names, log_evidences, held_out) -> np.ndarray:
    """Weights ``(M,)`` from log evidences ``(M,)`` or held-out log densities ``(M, k)``."""
    if weighting == "evidence":
        return evidence_weights(log_evidences, names)
    if weighting == "stacking":
        return stacking_weights(held_out)
    if held_out.shape[1] == 0:
        warnings.warn(
            "no test points: every model gets the same predictive likelihood", stacklevel=3
        )
    return bma_weights(np.sum(held_out, axis=1))


def run_bma(
    config: Mapping[str, Any],
    reference_path: str | os.PathLike,
    fit_paths: Sequence[str | os.PathLike],
    out_path: str | os.PathLike,
) -> Path:
    """Average the models of ``fit_paths``; write weights, prediction and scores to ``out_path``.

    ``config`` is a validated study config or its BMA slice.  Returns the written path.
    """
    part = stage_config(config)
    bma_config = {"weights": "predictive", "loo": False, **part["bma"]}
    if bma_config["weights"] not in WEIGHTINGS:
        raise ConfigError(f"bma.weights {bma_config['weights']!r} is unknown; use {WEIGHTINGS}")
    if not fit_paths:
        raise ConfigError("bma needs at least one fit artifact")
    reference = read_reference(reference_path)
    points = reference.points
    role = points.role
    exact, observed, observed_error = (
        reference.exact,
        reference.observed,
        reference.observed_error,
    )
    names, evidences, means, variances, loo_means, loo_vars = read_fits(fit_paths, points)
    held = (role == "test") | (role == "target") | (role == "train")
    if np.any(~np.isfinite(means[:, held])):
        raise ArtifactError(reference_path, "a model has no prediction at an observed point")

    test, target = role == "test", role == "target"
    loo = (loo_means, loo_vars) if bma_config["loo"] else None
    held_out = held_out_log_densities(role, observed, observed_error, means, variances, loo, names)
    n_test = int(np.sum(test))
    log_lik = np.sum(held_out[:, :n_test], axis=1)
    loo_lik = np.sum(held_out[:, n_test:], axis=1) if loo is not None else np.nan + 0 * log_lik
    weights = model_weights(bma_config["weights"], names, evidences, held_out)
    mean, variance, within, between = average(means, variances, weights)
    alternatives = {
        w: model_weights(w, names, evidences, held_out)
        for w in WEIGHTINGS
        if w != "evidence" or np.all(np.isfinite(evidences))
    }

    # the exact values are scored within their own error, not the observations' noise
    exact_err = exact_error(reference)[target]
    scored = [
        score(exact[target], m[target], v[target], exact_err)
        for m, v in zip(means, variances, strict=True)
    ]
    scored.append(
        score_mixture(exact[target], means[:, target], variances[:, target], weights, exact_err)
    )
    tree = {
        "points": points.tree(),
        "exact": {"energy": exact},
        "observations": {"energy": observed, "energy_error": observed_error},
        "models": {
            ATTRS: {"weights": bma_config["weights"], "loo": bool(bma_config["loo"])},
            "name": names,
            "weight": weights,
            "log_likelihood": log_lik,
            "loo_log_likelihood": loo_lik,
            "log_evidence": evidences,
            "mean": means,
            "variance": variances,
        },
        "prediction": {
            "mean": mean,
            "variance": variance,
            "within": within,
            "between": between,
            "p_positive": probability_positive(means, variances, weights),
        },
        "weightings": alternatives,
        "scores": {
            ATTRS: {"points": "target"},
            "name": np.array([*names, "BMA"]),
            "rmse": np.array([s.rmse for s in scored]),
            "mlpd": np.array([s.mlpd for s in scored]),
            "coverage68": np.array([s.coverage68 for s in scored]),
            "coverage95": np.array([s.coverage95 for s in scored]),
        },
    }
    attrs = provenance(
        SCHEMA,
        {**part, "bma": bma_config, "models": names.tolist()},
        seed=part["seed"],
        inputs=[reference_path, *fit_paths],
    )
    return write_artifact(out_path, tree, attrs)
