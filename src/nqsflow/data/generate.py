"""The generate stage: exact reference energies of the study's points, as an artifact.

Artifact layout (schema ``nqsflow.data/1``; later stages read exactly these names),
every dataset of length ``n_points``, sorted by omega:

- ``/points/name`` (str, :func:`~nqsflow.config.point_name`), ``/points/omega``
  (float64), ``/points/role`` (str: train/test/target);
- ``/exact/energy`` (hartree: interacting ground state, or the non-interacting one
  when ``system.interaction`` is ``"none"``), ``/exact/noninteracting``
  (``N * d * omega / 2``); attributes ``method`` (solver and tolerance),
  ``tolerance`` (float);
- ``/observations/energy`` (exact plus Gaussian noise of std ``data.noise``),
  ``/observations/energy_error`` (that std at every point; 0.0 without noise).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nqsflow.artifacts import provenance, write_artifact
from nqsflow.config import study_points
from nqsflow.data.two_body import (
    ANALYTIC,
    METHOD,
    TOLERANCE,
    noninteracting_energy,
    two_body_energy,
)
from nqsflow.errors import ConfigError

SCHEMA = "nqsflow.data/1"
STAGE_KEYS = ("study", "seed", "system", "design", "data")


def stage_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a study config this stage depends on (recorded in provenance)."""
    return {k: config[k] for k in STAGE_KEYS if k in config}


def noise_rng(config: Mapping[str, Any]) -> np.random.Generator:
    """The generator of the observational noise, fixed by ``config["seed"]``."""
    return np.random.default_rng(np.random.SeedSequence(int(config["seed"])))


def generate_reference(
    config: Mapping[str, Any], rng: np.random.Generator | None = None
) -> dict[str, Any]:
    """The artifact tree (see the module docstring) of a validated study config.

    ``rng`` draws the noise; by default :func:`noise_rng` of the config.  One
    standard normal is drawn per point whatever ``data.noise`` is, so studies
    that differ only in the noise level share their random numbers.
    """
    system = config["system"]
    if system["particles"] != 2:
        raise ConfigError(
            f"key 'system.particles': exact reference energies exist for 2 particles only, "
            f"not {system['particles']}"
        )
    dim, interaction = int(system["dim"]), system["interaction"]
    noise = float(config.get("data", {}).get("noise", 0.0))
    if not 0.0 <= noise < np.inf:
        raise ConfigError(f"key 'data.noise': must be finite and >= 0, not {noise}")
    if rng is None:
        rng = noise_rng(config)

    points = study_points(config)
    omega = np.array([p.omega for p in points], dtype=np.float64)
    exact = np.array(
        [two_body_energy(w, dim=dim, interaction=interaction) for w in omega], dtype=np.float64
    )
    observed = exact + noise * rng.standard_normal(omega.size)
    return {
        "points": {
            "name": np.array([p.name for p in points], dtype=str),
            "omega": omega,
            "role": np.array([p.role for p in points], dtype=str),
        },
        "exact": {
            "@attrs": {
                "method": METHOD if interaction == "coulomb" else ANALYTIC,
                "tolerance": TOLERANCE if interaction == "coulomb" else 0.0,
            },
            "energy": exact,
            "noninteracting": noninteracting_energy(omega, system["particles"], dim),
        },
        "observations": {
            "energy": observed,
            "energy_error": np.full(omega.size, noise),
        },
    }


def write_reference(config: Mapping[str, Any], out_path: str | os.PathLike) -> Path:
    """Generate the reference of ``config`` and write it atomically to ``out_path``."""
    tree = generate_reference(config)
    attrs = provenance(SCHEMA, stage_config(config), seed=config["seed"])
    return write_artifact(out_path, tree, attrs)
