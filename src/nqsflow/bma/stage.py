"""The BMA stage: fit artifacts + reference -> ``nqsflow.bma/1`` artifact.

Weights are the predictive likelihoods of the test observations; the averaged
prediction and every single model are scored on the target points against the
exact energies.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nqsflow.artifacts import ATTRS, provenance, read_artifact, write_artifact
from nqsflow.bma.scores import score
from nqsflow.bma.weights import average, bma_weights, predictive_log_likelihoods
from nqsflow.errors import ArtifactError, ConfigError
from nqsflow.fit.stage import dataset, reference_points

SCHEMA = "nqsflow.bma/1"
WEIGHTINGS = ("predictive",)


def read_fits(fit_paths: Sequence[str | os.PathLike], name, omega):
    """Model names ``(M,)``, log evidences ``(M,)``, means and variances ``(M, n)``.

    Every fit must hold the reference's points in the reference's order.
    """
    names, evidences, means, variances = [], [], [], []
    for path in fit_paths:
        tree = read_artifact(path, schema="nqsflow.fit")
        f_name = dataset(tree, path, "points/name").astype(str)
        f_omega = dataset(tree, path, "points/omega").astype(float)
        if f_name.shape != name.shape or not (
            np.all(f_name == name) and np.allclose(f_omega, omega, rtol=1e-12, atol=0.0)
        ):
            raise ArtifactError(path, "its points differ from the reference's; refit it")
        model = tree.get("model", {}).get(ATTRS, {})
        if "name" not in model:
            raise ArtifactError(path, "has no /model group with a 'name' attribute")
        if model["name"] in names:
            raise ArtifactError(path, f"model {model['name']!r} is given twice")
        names.append(str(model["name"]))
        evidences.append(float(model.get("log_evidence", np.nan)))
        means.append(dataset(tree, path, "prediction/mean").astype(float))
        variances.append(dataset(tree, path, "prediction/variance").astype(float))
    return np.array(names), np.array(evidences), np.array(means), np.array(variances)


def run_bma(
    config: Mapping[str, Any],
    reference_path: str | os.PathLike,
    fit_paths: Sequence[str | os.PathLike],
    out_path: str | os.PathLike,
) -> Path:
    """Average the models of ``fit_paths``; write weights, prediction and scores to ``out_path``.

    ``config`` is a validated study config.  Returns the written path.
    """
    bma_config = {"weights": "predictive", **config.get("bma", {})}
    if bma_config["weights"] not in WEIGHTINGS:
        raise ConfigError(f"bma.weights {bma_config['weights']!r} is unknown; use {WEIGHTINGS}")
    if not fit_paths:
        raise ConfigError("bma needs at least one fit artifact")
    reference = read_artifact(reference_path, schema="nqsflow.data")
    name, omega, role = reference_points(config, reference_path, reference)
    exact = dataset(reference, reference_path, "exact/energy").astype(float)
    observed = dataset(reference, reference_path, "observations/energy").astype(float)
    observed_error = dataset(reference, reference_path, "observations/energy_error")
    observed_error = observed_error.astype(float)
    names, evidences, means, variances = read_fits(fit_paths, name, omega)

    test, target = role == "test", role == "target"
    log_lik = predictive_log_likelihoods(
        observed[test], observed_error[test], means[:, test], variances[:, test]
    )
    weights = bma_weights(log_lik)
    mean, variance, within, between = average(means, variances, weights)

    scored = [
        score(exact[target], m[target], v[target], observed_error[target])
        for m, v in zip([*means, mean], [*variances, variance], strict=True)
    ]
    tree = {
        "points": {"name": name, "omega": omega, "role": role},
        "exact": {"energy": exact},
        "observations": {"energy": observed, "energy_error": observed_error},
        "models": {
            "name": names,
            "weight": weights,
            "log_likelihood": log_lik,
            "log_evidence": evidences,
            "mean": means,
            "variance": variances,
        },
        "prediction": {"mean": mean, "variance": variance, "within": within, "between": between},
        "scores": {
            ATTRS: {"points": "target"},
            "name": np.array([*names, "BMA"]),
            "rmse": np.array([s.rmse for s in scored]),
            "mlpd": np.array([s.mlpd for s in scored]),
            "coverage95": np.array([s.coverage95 for s in scored]),
        },
    }
    attrs = provenance(
        SCHEMA,
        {"bma": bma_config, "design": config["design"], "models": names.tolist()},
        seed=config["seed"],
        inputs=[reference_path, *fit_paths],
    )
    return write_artifact(out_path, tree, attrs)
