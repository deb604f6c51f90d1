"""The generate stage: the reference energies of the study's points, as an artifact.

Artifact layout (schema ``nqsflow.data/1``; later stages read exactly these names),
every dataset of length ``n_points``:

- ``/points/name`` (str), ``/points/x`` (float64, ``(n, k)``: the inputs named
  by the group's attribute ``inputs``), ``/points/role`` (str: train/test/target,
  and ``predict`` for points without an observation); a trap study (inputs
  ``omega``, sorted by omega; or ``particles, omega`` when ``system.particles``
  is a list, sorted by both) also has ``/points/omega`` and, with several
  particle numbers, ``/points/particles`` (:func:`~nqsflow.config.point_name`
  names);
- ``/exact/energy`` (hartree): with ``data.source: exact`` the two-body energy of
  :func:`~nqsflow.data.two_body_energy` (the non-interacting one when
  ``system.interaction`` is ``"none"``); with ``data.source: table`` the
  tabulated value.  ``/exact/error`` is its one-sigma error (0 for the solver),
  ``/exact/method`` and ``/exact/citation`` (str) say where each value comes
  from; ``/exact/noninteracting`` is the energy without interaction
  (``N * d * omega / 2`` for bosons; electrons fill the levels once per spin).  Attributes
  ``source``, ``method`` and ``tolerance`` (float; 0 for analytic values);
- ``/observations/energy`` (exact plus Gaussian noise of std ``data.noise``),
  ``/observations/energy_error`` (``sqrt(error^2 + noise^2)`` at every point).

The group ``/observations`` says what the values are in its attributes
``observable`` and ``unit`` (``energy``, ``hartree`` for traps).  A mass study
(``data.source: masses``) observes ``S2n`` in MeV: ``/exact/energy`` is the
evaluation's S2n (the train evaluation's at train points, the later one's at
test and target points, NaN at predict points; :mod:`nqsflow.data.chart`),
with zero error (the tables carry none).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nqsflow.artifacts import provenance, write_artifact
from nqsflow.config import point_inputs, study_points
from nqsflow.data import hard_sphere, two_body
from nqsflow.data.chart import INPUTS, nuclear_chart
from nqsflow.data.table import table_rows
from nqsflow.errors import ConfigError

SCHEMA = "nqsflow.data/1"
STAGE_KEYS = ("study", "seed", "system", "design", "data")


def stage_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a study config this stage depends on (recorded in provenance).

    A mass study's chart depends on its mass tables, not on the other theories.
    """
    part = {k: config[k] for k in STAGE_KEYS if k in config}
    if config.get("data", {}).get("source") == "masses":
        part["theories"] = {
            name: spec
            for name, spec in config.get("theories", {}).items()
            if spec["kind"] == "mass_table"
        }
    return part


def noise_rng(config: Mapping[str, Any]) -> np.random.Generator:
    """The generator of the observational noise, fixed by ``data.seed`` or the study seed."""
    seed = config.get("data", {}).get("seed", config["seed"])
    return np.random.default_rng(np.random.SeedSequence(int(seed)))


def check_exact_source(config: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the key where the exact solver (``data.source:
    exact``, the default) has no energies for the study's system; a study check calls
    it, so the study is refused before any work."""
    if config.get("data", {}).get("source", "exact") != "exact":
        return
    system = config["system"]
    if isinstance(system["particles"], list):
        raise ConfigError(
            "key 'system.particles': a list of particle numbers needs data.source: table"
        )
    if system["particles"] != 2:
        raise ConfigError(
            f"key 'system.particles': exact reference energies exist for 2 particles only, "
            f"not {system['particles']}; use data.source: table"
        )
    if float(system.get("elliptic", 1.0)) != 1.0:
        raise ConfigError("key 'system.elliptic': the exact solver needs an isotropic trap")


def exact_values(
    config: Mapping[str, Any], omega: np.ndarray, particles: np.ndarray | None = None
) -> dict[str, Any]:
    """The ``/exact`` group at the frequencies ``omega`` (shape ``(n,)``), from the data source.

    ``particles`` (shape ``(n,)``) gives each point's particle number in a study
    that varies it; by default every point has ``system.particles``.
    """
    system = config["system"]
    if config.get("data", {}).get("source", "exact") == "table":
        numbers = [None] * omega.size if particles is None else [int(n) for n in particles]
        rows = {n: {row.omega: row for row in table_rows(config, n)} for n in set(numbers)}
        # the design holds table omegas exactly
        picked = [rows[n][w] for n, w in zip(numbers, omega.tolist(), strict=True)]
        return {
            "@attrs": {
                "source": "table",
                "method": "tabulated: " + str(config.get("data", {}).get("table", "literature")),
                "tolerance": 0.0,
            },
            "energy": np.array([r.energy for r in picked], dtype=np.float64),
            "error": np.array([r.error for r in picked], dtype=np.float64),
            "method": np.array([r.method for r in picked], dtype=str),
            "citation": np.array([r.citation for r in picked], dtype=str),
        }
    if particles is not None:
        raise ConfigError(
            "key 'system.particles': a list of particle numbers needs data.source: table"
        )
    check_exact_source(config)
    dim, interaction = int(system["dim"]), system["interaction"]
    radius = system.get("radius") if interaction == "hard_sphere" else None
    method, tolerance = {
        "none": (two_body.ANALYTIC, 0.0),
        "coulomb": (two_body.METHOD, two_body.TOLERANCE),
        "hard_sphere": (hard_sphere.METHOD, hard_sphere.TOLERANCE),
    }[interaction]
    energy = np.array(
        [
            two_body.two_body_energy(w, dim=dim, interaction=interaction, radius=radius)
            for w in omega.tolist()
        ],
        dtype=np.float64,
    )
    return {
        "@attrs": {"source": "exact", "method": method, "tolerance": tolerance},
        "energy": energy,
        "error": np.zeros(omega.size),
        "method": np.full(
            omega.size, "analytic" if interaction == "none" else "two-body solver (collocation)"
        ),
        "citation": np.full(omega.size, "this work (nqsflow.data)"),
    }


def generate_reference(
    config: Mapping[str, Any], rng: np.random.Generator | None = None
) -> dict[str, Any]:
    """The artifact tree (see the module docstring) of a validated study config.

    ``rng`` draws the noise; by default :func:`noise_rng` of the config.  One
    standard normal is drawn per point whatever ``data.noise`` is, so studies
    that differ only in the noise level share their random numbers.
    """
    if config.get("data", {}).get("source") == "masses":
        return mass_reference(config)
    noise = float(config.get("data", {}).get("noise", 0.0))
    if not 0.0 <= noise < np.inf:
        raise ConfigError(f"key 'data.noise': must be finite and >= 0, not {noise}")
    if rng is None:
        rng = noise_rng(config)

    points = study_points(config)
    omega = np.array([p.omega for p in points], dtype=np.float64)
    inputs = point_inputs(config)
    particles = (
        np.array([p.particles for p in points], dtype=np.float64) if "particles" in inputs
        else None
    )  # fmt: skip
    exact = exact_values(config, omega, particles)
    observed = exact["energy"] + noise * rng.standard_normal(omega.size)
    exact["noninteracting"] = noninteracting(config, omega, particles)
    group = {
        "@attrs": {"inputs": list(inputs)},
        "name": np.array([p.name for p in points], dtype=str),
        "x": omega[:, None] if particles is None else np.column_stack([particles, omega]),
        "omega": omega,
        "role": np.array([p.role for p in points], dtype=str),
    }
    if particles is not None:
        group["particles"] = particles.astype(np.int64)
    return {
        "points": group,
        "exact": exact,
        "observations": {
            "@attrs": {"observable": "energy", "unit": "hartree"},
            "energy": observed,
            "energy_error": np.sqrt(exact["error"] ** 2 + noise**2),
        },
    }


def noninteracting(config: Mapping[str, Any], omega: np.ndarray, particles=None) -> np.ndarray:
    """The energy without interaction at each point: electrons of a Coulomb system fill
    the oscillator levels once per spin, other particles all sit in the lowest."""
    system = config["system"]
    if system["interaction"] != "coulomb":
        return two_body.noninteracting_energy(omega, system["particles"], int(system["dim"]))
    from nqsflow.vmc.hamiltonians import build_hamiltonian

    numbers = [system["particles"]] * omega.size if particles is None else particles.tolist()
    return np.array([
        build_hamiltonian({**system, "particles": int(n), "omega": float(w)})
        .noninteracting_energy()
        for n, w in zip(numbers, omega.tolist(), strict=True)
    ])  # fmt: skip


def mass_reference(config: Mapping[str, Any]) -> dict[str, Any]:
    """The artifact tree of a mass study: S2n of the evaluations on the chart's nuclei."""
    chart = nuclear_chart(config)
    data = config["data"]
    zeros = np.zeros(chart.Z.size)
    return {
        "points": {
            "@attrs": {"inputs": list(INPUTS), "measured_predict_points": chart.set_aside},
            "name": chart.names,
            "x": chart.x,
            "role": chart.role,
        },
        "exact": {
            "@attrs": {
                "source": "masses",
                "method": f"S2n from {data.get('train', 'AME2003')} (train) and "
                f"{data.get('test', 'AME2012')} (test, target)",
                "tolerance": 0.0,
            },
            "energy": chart.s2n,
            "error": zeros,
        },
        "observations": {
            "@attrs": {"observable": "S2n", "unit": "MeV"},
            "energy": chart.s2n,
            "energy_error": zeros,
        },
    }


def write_reference(config: Mapping[str, Any], out_path: str | os.PathLike) -> Path:
    """Generate the reference of ``config`` and write it atomically to ``out_path``."""
    tree = generate_reference(config)
    attrs = provenance(SCHEMA, stage_config(config), seed=config["seed"])
    return write_artifact(out_path, tree, attrs)
