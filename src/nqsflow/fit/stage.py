"""The fit stage: one (theory, method) pair -> ``nqsflow.fit/1`` artifact.

Reads the reference data and one theory artifact, fits the residual
``observation - theory`` on the train points and writes the corrected
prediction ``theory + residual`` at every point.

Artifact layout, every dataset of length ``n_points`` in the reference's order:
``/points/{name,x,role}`` (``/points/omega`` too for trap studies);
``/theory/{energy,energy_error}`` (the theory's mean and error);
``/residual/mean`` and ``/residual/variance`` (the fitted residual function,
its variance including fitted scatter), ``/residual/observed`` (observation -
theory) and ``/residual/noise_variance`` (theory error^2 + observation error^2);
``/prediction/mean`` (theory + residual) and ``/prediction/variance`` (residual
variance + theory error^2: the variance of the prediction of the exact value);
``/loo/mean`` and ``/loo/variance``: at each train point the prediction of the
model refitted without it (NaN at the other points, where a refit is
impossible, or everywhere with ``fit.loo: false``); ``/model`` attributes
``name`` (``theory/method``), ``theory`` (also ``ansatz``, for trap studies),
``method``, ``log_evidence`` (NaN where the method has none) and
``hyperparameters``.  Where the theory has no prediction (NaN) the prediction
is NaN too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nqsflow.artifacts import ATTRS, provenance, write_artifact
from nqsflow.errors import ArtifactError, ConfigError
from nqsflow.fit.models import fit_residuals, leave_one_out, resolve_method
from nqsflow.readers import dataset, read_reference, read_theory

SCHEMA = "nqsflow.fit/1"
__all__ = ["SCHEMA", "dataset", "run_fit", "stage_config"]


def stage_config(config: Mapping[str, Any], method: str) -> dict[str, Any]:
    """The slice of a study config one fit method depends on."""
    methods = config["fit"]["methods"]
    if method not in methods:
        raise ConfigError(f"no fit method named {method!r} under fit.methods")
    fit = {"methods": {method: methods[method]}}
    if "loo" in config["fit"]:
        fit["loo"] = config["fit"]["loo"]
    return {"study": config["study"], "seed": config["seed"], "fit": fit}


def run_fit(
    config: Mapping[str, Any],
    theory: str,
    method: str,
    reference_path: str | os.PathLike,
    theory_path: str | os.PathLike,
    out_path: str | os.PathLike,
) -> Path:
    """Fit method ``method`` to the residuals of theory ``theory``; write ``out_path``.

    ``config`` is a validated study config or its fit slice.  Returns the written path.
    """
    part = stage_config(config, method)
    reference = read_reference(reference_path)
    model = read_theory(theory_path)
    if model.name != theory:
        raise ArtifactError(theory_path, f"holds theory {model.name!r}, not {theory!r}")
    points = reference.points
    if not model.points.same_as(points):
        raise ArtifactError(theory_path, "its points differ from the reference's; rerun it")
    method_config = resolve_method(part["fit"]["methods"][method], points.inputs)
    energy, error = model.mean, model.error
    train = points.role == "train"
    if np.any(np.isnan(energy[train])):
        raise ArtifactError(theory_path, "has no prediction at some train points")
    residual = reference.observed - energy
    # Heteroscedastic known noise of each residual: theory and observation error bars.
    noise_var = error**2 + reference.observed_error**2
    x = points.x if points.inputs != ("omega",) else points.x[:, 0]
    seed = int(config["seed"])
    fit = fit_residuals(method_config, x[train], residual[train], noise_var[train], x,
                        seed=seed, inputs=points.inputs)  # fmt: skip
    loo_mean, loo_var = np.full(x.shape[0], np.nan), np.full(x.shape[0], np.nan)
    if part["fit"].get("loo", True) and np.sum(train) >= 3:
        m, v = leave_one_out(method_config, x[train], residual[train], noise_var[train],
                             seed=seed, inputs=points.inputs)  # fmt: skip
        loo_mean[train], loo_var[train] = energy[train] + m, v + error[train] ** 2
    names = {"name": f"{theory}/{method}", "theory": theory, "method": method}
    if points.inputs == ("omega",):
        names["ansatz"] = theory
    tree = {
        "points": points.tree(),
        "loo": {"mean": loo_mean, "variance": loo_var},
        "theory": {"energy": energy, "energy_error": error},
        "residual": {
            "mean": fit.mean,
            "variance": fit.variance,
            "observed": residual,
            "noise_variance": noise_var,
        },
        "prediction": {"mean": energy + fit.mean, "variance": fit.variance + error**2},
        "model": {
            ATTRS: {
                **names,
                "log_evidence": float(fit.log_evidence),
                "hyperparameters": fit.hyper,
            }
        },
    }
    attrs = provenance(
        SCHEMA,
        {"theory": theory, "method": method, "method_config": method_config, **part},
        seed=seed,
        inputs=[reference_path, theory_path],
    )
    return write_artifact(out_path, tree, attrs)
