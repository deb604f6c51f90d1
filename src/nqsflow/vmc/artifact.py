"""The VMC artifact: estimate, optimisation trace and parameters of one run.

Its ``config`` attribute is the resolved run spec (:func:`resolved_runspec`):
the spec as given with every default the run took written out, so the file
says how it was made without the code of the version that made it.
"""

from __future__ import annotations

import copy
import inspect
import os
from collections.abc import Mapping
from typing import Any

import jsonschema
import numpy as np

from nqsflow.artifacts import provenance, write_artifact
from nqsflow.errors import DivergenceError
from nqsflow.vmc.driver import VMCResult
from nqsflow.vmc.guards import MAX_VARIANCE_RATIO

SCHEMA = "nqsflow.vmc/1"


def result_tree(result: VMCResult) -> dict[str, Any]:
    """Artifact layout of a run: ``/estimate`` attrs, ``/optimization``, ``/parameters``."""
    history = dict(result.history)
    return {
        "estimate": {
            "@attrs": {
                "energy": result.energy,
                "energy_error": result.energy_error,
                "variance": result.variance,
                "acceptance": result.acceptance,
                "samples": result.samples,
                # tau in rounds of moves_per_round moves; ess = samples / tau
                "tau": result.tau,
                "ess": result.ess,
                "tau_window": result.tau_window,
                "moves_per_round": result.moves_per_round,
            },
            "energy_series": result.energy_series,
        },
        "optimization": {
            "@attrs": {"converged_at": result.converged_at},
            **{k: v for k, v in history.items() if k != "parameters"},
        },
        "density": _density_tree(result.histograms),
        "parameters": {
            "@attrs": {"names": list(result.param_names)},
            "initial": result.params_initial,
            "final": result.params_final,
            "trace": history["parameters"],
        },
    }


def _density_tree(histograms: Mapping[str, Any]) -> dict[str, Any]:
    """Histograms as densities normalised to one over their range, with edges and counts."""
    tree: dict[str, Any] = {}
    for name in ("radial", "pair"):
        edges, counts = histograms[f"{name}_edges"], histograms[f"{name}_counts"]
        total = counts.sum()
        density = counts / (total * np.diff(edges)) if total else np.zeros_like(counts)
        tree[name] = {"edges": edges, "counts": counts, "density": density}
    return tree


def write_result(
    path: str | os.PathLike, spec: Mapping[str, Any], result: VMCResult, mpi_ranks: int
) -> None:
    """Write a run's artifact atomically, with the resolved run spec as its config.

    Refuses (:class:`DivergenceError`, nothing written) an estimate that is not
    finite: a later stage must never read a ``nan`` as an energy.
    """
    for name in ("energy", "energy_error", "variance"):
        value = getattr(result, name)
        if not np.isfinite(value):
            raise DivergenceError(0, name, f"the {name} is {value}")
    attrs = provenance(SCHEMA, resolved_runspec(spec), seed=spec["seed"], mpi_ranks=mpi_ranks)
    write_artifact(path, result_tree(result), attrs)


def resolved_runspec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A validated run spec with the defaults of :mod:`nqsflow.vmc.driver` and its parts filled in.

    The result is itself a valid run spec, and running it gives the same numbers
    bit for bit (``tests/test_faults.py`` checks both).  Defaults that follow from
    other values (a factor's ``cusp``, a hard core's radius) stay implicit.
    """
    from nqsflow.vmc.hamiltonians import build_hamiltonian
    from nqsflow.vmc.wavefunctions import FACTORS

    out = copy.deepcopy(dict(spec))
    system, sampler = out["system"], out["sampler"]
    optimizer, production = out["optimizer"], out["production"]
    trap = build_hamiltonian(system)
    system.setdefault("elliptic", 1.0)
    if trap.spins is not None:
        system.setdefault("spins", [int(n) for n in trap.spins])
    # as nqsflow.vmc.samplers.build_sampler: fermions with nodes sweep single moves
    nodes = bool(trap.fermions and max(trap.spins) > 1)
    sampler.setdefault("walkers", 500)
    sampler.setdefault("thin", 4)
    sampler.setdefault("burn_in", 200)
    sampler.setdefault("block_size", sampler["walkers"])
    sampler.setdefault("moves", "single" if nodes else "all")
    if sampler["kind"] == "metropolis":
        sampler.setdefault("step", 1.0)
    else:
        sampler.setdefault("step", 0.2)
        sampler.setdefault("drift_limit", 1.0 if nodes else 0.0)
    optimizer.setdefault("steps", 100)
    optimizer.setdefault("samples", 2000)
    optimizer.setdefault("learning_rate", 0.05)
    optimizer.setdefault("schedule", "constant")
    optimizer.setdefault("final_learning_rate", optimizer["learning_rate"] / 10)
    optimizer.setdefault("decay_steps", max(optimizer["steps"], 1))
    if optimizer["kind"] == "sr":
        optimizer.setdefault("diag_shift", 0.01)
    optimizer.setdefault("clip_local_energy", 0.0)
    optimizer.setdefault("max_variance_ratio", MAX_VARIANCE_RATIO)
    if "convergence" in optimizer:
        optimizer["convergence"].setdefault("window", 20)
    production.setdefault("bins", 100)
    for factor in out["ansatz"]:
        cls = FACTORS[factor["kind"]]
        signature = inspect.signature(cls.__init__).parameters
        for name, schema in cls.options.items():
            default = signature[name].default if name in signature else None
            if name in factor or default is None or default is inspect.Parameter.empty:
                continue
            default = list(default) if isinstance(default, tuple) else default
            if jsonschema.Draft202012Validator(schema).is_valid(default):
                factor[name] = default
    return out
