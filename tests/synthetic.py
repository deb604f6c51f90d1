"""Synthetic reference artifacts for the fit and BMA tests (a known exact curve)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nqsflow.artifacts import provenance, write_artifact
from nqsflow.config import load_study, study_points

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"


def exact_energy(omega):
    """A plausible ground-state curve of the 2D two-electron dot (3.0 at omega = 1)."""
    omega = np.asarray(omega, dtype=float)
    return 2.0 * omega + omega**0.6


def write_reference(config, path, noise=0.0):
    """A reference artifact on the study points: the exact curve plus seeded noise ``noise``."""
    pts = study_points(config)
    omega = np.array([p.omega for p in pts])
    exact = exact_energy(omega)
    observed = exact + np.random.default_rng(11).normal(0.0, noise, omega.size)
    tree = {
        "points": {
            "name": np.array([p.name for p in pts]),
            "omega": omega,
            "role": np.array([p.role for p in pts]),
        },
        "exact": {"energy": exact},
        "observations": {"energy": observed, "energy_error": np.full(omega.size, noise)},
    }
    return write_artifact(path, tree, provenance("nqsflow.data/1", {"design": config["design"]}))


def bma_study():
    """The default study, weighing by the test points only (synthetic fits have no LOO)."""
    study = load_study(CONFIG)
    study["bma"] = {"weights": "predictive"}
    study["fit"]["methods"] = {"gp": {"kind": "gp"}, "ridge": {"kind": "ridge", "degree": 2}}
    return study


def gather(config, reference, ansatz, vmc_paths, folder):
    """The theory artifact of one ansatz, gathered from its VMC artifacts by the theory stage."""
    from nqsflow.theory import run_theory

    return run_theory(config, ansatz, reference, Path(folder) / f"{ansatz}.theory.h5", vmc_paths)
