"""The fit stage: one (ansatz, method) pair -> ``nqsflow.fit/1`` artifact.

Reads the reference data and the VMC estimates of one ansatz at every study
point, fits the residual ``observation - VMC`` on the train points and writes
the corrected prediction ``VMC + residual`` at every point.

Artifact layout, every dataset of length ``n_points`` in the reference's order:
``/points/{name,omega,role}``; ``/theory/{energy,energy_error}`` (VMC);
``/residual/mean`` and ``/residual/variance`` (the fitted residual function,
its variance including fitted scatter), ``/residual/observed`` (observation -
VMC) and ``/residual/noise_variance`` (VMC error^2 + observation error^2);
``/prediction/mean`` (VMC + residual) and ``/prediction/variance`` (residual
variance + VMC error^2: the variance of the prediction of the exact energy);
``/loo/mean`` and ``/loo/variance``: at each train point the prediction of the
model refitted without it (NaN at the other points, or where a refit is
impossible); ``/model`` attributes ``name`` (``ansatz/method``), ``ansatz``, ``method``,
``log_evidence`` (NaN where the method has none) and ``hyperparameters``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nqsflow.artifacts import ATTRS, config_of, provenance, read_artifact, write_artifact
from nqsflow.config import study_points
from nqsflow.errors import ArtifactError, ConfigError
from nqsflow.fit.models import fit_residuals, leave_one_out, resolve_method

SCHEMA = "nqsflow.fit/1"


def dataset(tree: Mapping[str, Any], path, key: str) -> np.ndarray:
    """The dataset at ``key`` (``"group/name"``) of an artifact read from ``path``."""
    node: Any = tree
    for part in key.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            raise ArtifactError(path, f"has no dataset /{key}")
        node = node[part]
    return np.asarray(node)


def reference_points(config: Mapping[str, Any], reference_path, reference: Mapping[str, Any]):
    """``(name, omega, role)`` arrays of the reference, checked against the study design."""
    name = dataset(reference, reference_path, "points/name").astype(str)
    omega = dataset(reference, reference_path, "points/omega").astype(float)
    role = dataset(reference, reference_path, "points/role").astype(str)
    design = study_points(config)
    same = len(design) == omega.size == name.size == role.size and all(
        np.isclose(p.omega, o, rtol=1e-12, atol=0.0) and p.role == r
        for p, o, r in zip(design, omega, role, strict=True)
    )
    if not same:
        raise ArtifactError(
            reference_path,
            "its points (omega, role) differ from the study design; "
            "rerun the data stage with this config",
        )
    return name, omega, role


def read_vmc(
    config: Mapping[str, Any], ansatz: str, omega: np.ndarray, names, vmc_paths, reference_path
):
    """VMC energies and error bars, shape ``(n,)`` each, in the order of ``omega``."""
    energy = np.full(omega.size, np.nan)
    error = np.full(omega.size, np.nan)
    source: dict[int, str] = {}
    wanted_kinds = [c["kind"] for c in config["vmc"]["ansatze"][ansatz]]
    for path in vmc_paths:
        tree = read_artifact(path, schema="nqsflow.vmc")
        spec = config_of(tree)
        try:
            w = float(spec["system"]["omega"])
            est = tree["estimate"][ATTRS]
            e, de = float(est["energy"]), float(est["energy_error"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(path, f"has no VMC estimate or omega ({exc!r} missing)") from None
        kinds = [c.get("kind") for c in spec.get("ansatz", [])] if "ansatz" in spec else None
        if kinds is not None and kinds != wanted_kinds:
            raise ArtifactError(
                path, f"is a run of ansatz {kinds}, not of {ansatz!r} ({wanted_kinds})"
            )
        hit = np.flatnonzero(np.isclose(omega, w, rtol=1e-12, atol=0.0))
        if hit.size == 0:
            raise ArtifactError(path, f"omega={w:g} is not a point of the study design")
        i = int(hit[0])
        if i in source:
            raise ArtifactError(path, f"point {names[i]} already comes from {source[i]}")
        if not (np.isfinite(e) and np.isfinite(de) and de >= 0):
            raise ArtifactError(path, f"energy={e!r}, energy_error={de!r} are not usable")
        energy[i], error[i], source[i] = e, de, str(path)
    missing = [str(names[i]) for i in range(omega.size) if i not in source]
    if missing:
        raise ArtifactError(
            reference_path,
            f"point(s) {', '.join(missing)} have no VMC file for ansatz {ansatz!r} "
            "among the inputs; run the VMC stage for them",
        )
    return energy, error


def run_fit(
    config: Mapping[str, Any],
    ansatz: str,
    method: str,
    reference_path: str | os.PathLike,
    vmc_paths: Sequence[str | os.PathLike],
    out_path: str | os.PathLike,
) -> Path:
    """Fit method ``method`` to the residuals of ansatz ``ansatz``; write ``out_path``.

    ``config`` is a validated study config; ``vmc_paths`` hold exactly one VMC
    artifact per study point.  Returns the written path.
    """
    methods = config["fit"]["methods"]
    if method not in methods:
        raise ConfigError(f"no fit method named {method!r} under fit.methods")
    if ansatz not in config["vmc"]["ansatze"]:
        raise ConfigError(f"no ansatz named {ansatz!r} under vmc.ansatze")
    method_config = resolve_method(methods[method])

    reference = read_artifact(reference_path, schema="nqsflow.data")
    name, omega, role = reference_points(config, reference_path, reference)
    observed = dataset(reference, reference_path, "observations/energy").astype(float)
    observed_error = dataset(reference, reference_path, "observations/energy_error")
    observed_error = observed_error.astype(float)
    energy, error = read_vmc(config, ansatz, omega, name, vmc_paths, reference_path)

    train = role == "train"
    residual = observed - energy
    # Heteroscedastic known noise of each residual: VMC and observation error bars.
    noise_var = error**2 + observed_error**2
    fit = fit_residuals(
        method_config,
        omega[train],
        residual[train],
        noise_var[train],
        omega,
        seed=config["seed"],
    )
    loo_mean, loo_var = np.full(omega.size, np.nan), np.full(omega.size, np.nan)
    if np.sum(train) >= 3:
        m, v = leave_one_out(
            method_config, omega[train], residual[train], noise_var[train], seed=config["seed"]
        )
        loo_mean[train], loo_var[train] = energy[train] + m, v + error[train] ** 2
    tree = {
        "points": {"name": name, "omega": omega, "role": role},
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
                "name": f"{ansatz}/{method}",
                "ansatz": ansatz,
                "method": method,
                "log_evidence": float(fit.log_evidence),
                "hyperparameters": fit.hyper,
            }
        },
    }
    attrs = provenance(
        SCHEMA,
        {
            "ansatz": ansatz,
            "method": method,
            "method_config": method_config,
            "design": config["design"],
        },
        seed=config["seed"],
        inputs=[reference_path, *vmc_paths],
    )
    return write_artifact(out_path, tree, attrs)
